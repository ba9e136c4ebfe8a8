/**
 * The spool's on-disk format (ingest/spool.ts) and the file primitives its parts share.
 *
 * Segment files `seg-NNNNNNNNNNNN.jsonl`, one JSON record per line ('\n' never occurs inside a JSON
 * text, RFC 8259 section 7 requires control characters in strings to be escaped); `checkpoint.json`
 * holds the position the store pump has committed (checkpoint.ts).
 */
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface SpoolPosition {
  segment: number;
  offset: number;
}

/** `a` is at or before `b` */
export const atOrBefore = (a: SpoolPosition, b: SpoolPosition): boolean =>
  a.segment < b.segment || (a.segment === b.segment && a.offset <= b.offset);

const SEGMENT_RE = /^seg-(\d{12})\.jsonl$/;
export const segmentName = (n: number): string => `seg-${String(n).padStart(12, '0')}.jsonl`;
export const NEWLINE = 0x0a;
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** The segment numbers in `dir`, oldest first. */
export async function listSegments(dir: string): Promise<number[]> {
  return (await fsp.readdir(dir))
    .map((name) => SEGMENT_RE.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * The whole records at the start of `chunk`, at most `maxRecords` (empty lines skipped), and how many
 * bytes they take with their newlines: 0 when the chunk holds no complete line.
 */
export function splitRecords(chunk: Buffer, maxRecords: number): { records: string[]; consumed: number } {
  const records: string[] = [];
  let start = 0;
  while (records.length < maxRecords) {
    const nl = chunk.indexOf(NEWLINE, start);
    if (nl < 0) break;
    if (nl > start) records.push(chunk.toString('utf8', start, nl));
    start = nl + 1;
  }
  return { records, consumed: start };
}

/**
 * A crash mid-write can leave a partial last line: cut the file back to its last newline. Returns its
 * size after the cut.
 */
export function truncateTornTail(file: string, size: number): number {
  if (size === 0) return 0;
  const fd = fs.openSync(file, 'r+');
  try {
    let end = size;
    const buf = Buffer.allocUnsafe(64 * 1024);
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const got = fs.readSync(fd, buf, 0, end - start, start);
      const nl = buf.subarray(0, got).lastIndexOf(NEWLINE);
      if (nl >= 0) {
        end = start + nl + 1;
        break;
      }
      end = start;
    }
    if (end !== size) {
      fs.ftruncateSync(fd, end);
      fs.fdatasyncSync(fd);
    }
    return end;
  } finally {
    fs.closeSync(fd);
  }
}

/** How many records (newlines) `file` holds from byte `start` on. */
export async function countRecords(file: string, start: number): Promise<number> {
  let count = 0;
  const stream = fs.createReadStream(file, { start });
  stream.on('data', (chunk) => {
    const b = chunk as Buffer;
    for (let i = b.indexOf(NEWLINE); i >= 0; i = b.indexOf(NEWLINE, i + 1)) count++;
  });
  await once(stream, 'close');
  return count;
}

/** The segment files' sizes and which one is being appended to: what the writer, reader and commits share. */
export class SegmentSet {
  /** segment number → size in bytes (the durable part of the active one is `durableSize`) */
  readonly sizes = new Map<number, number>();
  active = 0;
  activeSize = 0;
  durableSize = 0;
  /** bytes of the segments other than the active one (the active one's is activeSize) */
  sealedBytes = 0;

  constructor(readonly dir: string) {}

  file(n: number): string {
    return path.join(this.dir, segmentName(n));
  }

  /** Where the durable records of segment `n` end; undefined when it is gone. */
  durableEnd(n: number): number | undefined {
    return n === this.active ? this.durableSize : this.sizes.get(n);
  }

  nextSegmentAfter(n: number): number | undefined {
    let best: number | undefined;
    for (const k of this.sizes.keys()) if (k > n && (best === undefined || k < best)) best = k;
    return best;
  }

  /** bytes the segment files take on disk */
  diskBytes(): number {
    return this.sealedBytes + this.activeSize;
  }
}

export async function writevAll(fd: number, buffers: Buffer[]): Promise<void> {
  // One contiguous buffer: writev with thousands of iovecs exceeds IOV_MAX and writes short anyway.
  const buf = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  let done = 0;
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, done, buf.length - done, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

export function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function ftruncate(fd: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve())));
}
