/**
 * Opening the spool (ingest/spool.ts) on what the last run left: its segments, the checkpoint, a torn
 * last line, the backlog still to store and how old it is.
 */
import fsp from 'node:fs/promises';
import { loadCheckpoint } from './checkpoint.ts';
import {
  countRecords,
  listSegments,
  type SegmentSet,
  type SpoolPosition,
  truncateTornTail,
} from './segment-file.ts';

/**
 * Fills `segs` with the segments in its directory (created when missing) and picks the active one: the
 * last segment, cut back to its last whole record, or a new one when there is none (`newSegment`).
 */
export async function recoverSegments(
  segs: SegmentSet,
): Promise<{ checkpoint: SpoolPosition; newSegment: boolean }> {
  await fsp.mkdir(segs.dir, { recursive: true });
  const segments = await listSegments(segs.dir);
  for (const n of segments) segs.sizes.set(n, (await fsp.stat(segs.file(n))).size);
  const checkpoint = (await loadCheckpoint(segs.dir)) ?? { segment: segments[0] ?? 1, offset: 0 };
  // A checkpoint pointing at a segment that no longer exists (deleted after full consumption) means
  // reading starts at the next existing one.
  const last = segments[segments.length - 1];
  if (last !== undefined) {
    segs.sizes.set(last, truncateTornTail(segs.file(last), segs.sizes.get(last) ?? 0));
    segs.active = last;
  } else {
    segs.active = Math.max(1, checkpoint.segment);
    segs.sizes.set(segs.active, 0);
  }
  return { checkpoint, newSegment: last === undefined };
}

/** How many records the segments hold after `pos` (the backlog still to store). */
export async function recoverBacklog(segs: SegmentSet, pos: SpoolPosition): Promise<number> {
  let count = 0;
  for (const n of [...segs.sizes.keys()].sort((a, b) => a - b)) {
    if (n < pos.segment) continue;
    count += await countRecords(segs.file(n), n === pos.segment ? pos.offset : 0);
  }
  return count;
}

/**
 * When the backlog left by the last run was appended: its append times are gone; the oldest segment's
 * last write stands for them (an upper bound: the backlog is at least that old).
 */
export async function backlogAppendedAt(
  segs: SegmentSet,
  pos: SpoolPosition,
  now: () => number,
): Promise<number> {
  const first = [...segs.sizes.keys()].filter((n) => n >= pos.segment).sort((a, b) => a - b)[0];
  return first === undefined ? now() : (await fsp.stat(segs.file(first))).mtimeMs;
}
