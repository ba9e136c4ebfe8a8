/**
 * The spool: an append-only write-ahead log of accepted fixes on local disk.
 *
 * - A device's QoS 1 publish is acknowledged only after its fixes are here and fdatasync'ed, so a
 *   `kill -9` (or a power cut, given an honest disk) loses no acknowledged fix.
 * - Appends are group-committed (spool/writer.ts): under load the cost of durability is shared by
 *   thousands of messages.
 * - The store pump reads forward from a durable checkpoint (spool/reader.ts, spool/checkpoint.ts) and
 *   moves the checkpoint only after the store has taken a batch. When InfluxDB is down the log grows on
 *   disk, up to its limit, memory staying bounded to one batch, and is replayed in order when the store
 *   returns; after a restart (spool/recovery.ts), reading resumes at the checkpoint.
 *
 * Format (spool/segment-file.ts): segment files `seg-NNNNNNNNNNNN.jsonl`, one JSON record per line.
 * Fully consumed segments are deleted when a commit passes them (here).
 *
 * Bounds. With `maxBytes` the segment files never take more than that on disk together (segments are
 * then at most maxBytes / 8, so consumed data never holds much room); with `minFreeBytes` appends also
 * wait while the filesystem is down to that many free bytes. Ingest slows acknowledgements before it
 * comes to this (backpressure.ts); the wait in the writer is what makes the bound exact. Failures of a
 * flush refuse its appends and the spool carries on (spool/writer.ts).
 */
import fsp from 'node:fs/promises';
import { saveCheckpoint } from './spool/checkpoint.ts';
import { type SpoolBatch, SpoolReader } from './spool/reader.ts';
import { backlogAppendedAt, recoverBacklog, recoverSegments } from './spool/recovery.ts';
import { atOrBefore, SegmentSet, type SpoolPosition } from './spool/segment-file.ts';
import { SpoolWriter } from './spool/writer.ts';

export type { SpoolBatch } from './spool/reader.ts';
export type { SpoolPosition } from './spool/segment-file.ts';

export interface SpoolStats {
  /** bytes between the checkpoint and the end of the log */
  depthBytes: number;
  /** records between the checkpoint and the end of the log */
  depthRecords: number;
  segments: number;
  appendedRecords: number;
  flushes: number;
  /** appends refused because their flush failed (none of them was acknowledged) */
  appendFailures: number;
  /** new segments that could not be opened (the active one went on) */
  rotationFailures: number;
  /** the last flush failed (appends are refused until one succeeds) */
  failing: boolean;
  /** the spool refuses every append for good (its log could not be restored after a failure) */
  failed: boolean;
  lastError?: string;
  /** bytes the segment files take on disk (what maxBytes bounds) */
  diskBytes: number;
  /** the most diskBytes reached since open */
  peakDiskBytes: number;
  /** appends accepted but not yet written, in bytes */
  pendingBytes: number;
  /** appends wait because the next one does not fit under maxBytes or the free-space floor */
  waitingForRoom: boolean;
  /** maxBytes, when set */
  limitBytes?: number;
  /** free bytes on the spool's filesystem at the last reading (with minFreeBytes) */
  freeBytes?: number;
  /** when the oldest record not yet committed was appended (epoch ms); absent when none waits */
  oldestAppendedAt?: number;
}

export interface SpoolOptions {
  dir: string;
  /** a new segment is started once the active one reaches this size (default 64 MiB, at most maxBytes / 8) */
  segmentBytes?: number;
  /** most bytes the segment files may take on disk; appends past it wait for room. Unlimited when omitted */
  maxBytes?: number;
  /** appends wait while the filesystem has this many bytes free or fewer (0: no floor) */
  minFreeBytes?: number;
  /** the clock of append times (the age of the backlog); Date.now by default */
  now?: () => number;
}

const MIN_SEGMENT_BYTES = 64 * 1024;

/** Records appended up to `end` by time `at` (one entry per second of appends, oldest first). */
interface AppendMark {
  end: SpoolPosition;
  at: number;
}

export class Spool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly minFreeBytes: number;
  private readonly now: () => number;
  private readonly segments: SegmentSet;
  private readonly writer: SpoolWriter;
  private readonly reader: SpoolReader;
  private readonly marks: AppendMark[] = [];
  private checkpoint: SpoolPosition = { segment: 1, offset: 0 };
  private appendedRecords = 0;
  private committedRecordsBacklog = 0;
  private readonly appendListeners = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.minFreeBytes = options.minFreeBytes ?? 0;
    this.now = options.now ?? Date.now;
    const segment = options.segmentBytes ?? 64 * 1024 * 1024;
    const segmentBytes = Number.isFinite(this.maxBytes)
      ? Math.max(MIN_SEGMENT_BYTES, Math.min(segment, Math.floor(this.maxBytes / 8)))
      : segment;
    this.segments = new SegmentSet(this.dir);
    this.reader = new SpoolReader(this.segments);
    this.writer = new SpoolWriter(
      this.segments,
      { segmentBytes, maxBytes: this.maxBytes, minFreeBytes: this.minFreeBytes, now: this.now },
      {
        backlog: () => this.committedRecordsBacklog,
        flushed: (records) => {
          this.appendedRecords += records;
          this.committedRecordsBacklog += records;
          this.markAppended();
          for (const listener of this.appendListeners) listener();
          this.changed();
        },
        waiting: () => this.changed(),
        droppedConsumed: (pos) => {
          this.checkpoint = pos;
          return this.commit(this.checkpoint, 0);
        },
      },
    );
  }

  async open(): Promise<void> {
    const segs = this.segments;
    const { checkpoint, newSegment } = await recoverSegments(segs);
    this.checkpoint = checkpoint;
    await this.writer.open(newSegment);
    this.reader.rewind(this.checkpoint);
    this.committedRecordsBacklog = await recoverBacklog(segs, this.checkpoint);
    for (const [n, size] of segs.sizes) if (n !== segs.active) segs.sealedBytes += size;
    this.writer.peakDiskBytes = segs.diskBytes();
    if (this.committedRecordsBacklog > 0) {
      const at = await backlogAppendedAt(segs, this.checkpoint, this.now);
      this.marks.push({ end: { segment: segs.active, offset: segs.durableSize }, at });
    }
    if (this.minFreeBytes > 0) await this.writer.readFreeSpace();
  }

  /**
   * Appends records (JSON texts without newlines) and resolves once they are on disk and fdatasync'ed.
   */
  append(records: readonly string[]): Promise<void> {
    return this.writer.append(records);
  }

  /** Calls `listener` after every durable flush (the pump uses it to wake up). Returns an unsubscribe. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * Calls `listener` whenever the spool's level may have changed: after a flush, after a commit (room
   * freed), when appends start waiting for room. Backpressure re-evaluates on it. Returns an unsubscribe.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** What backpressure.ts weighs, cheaply (no allocation beyond the result): called per message. */
  level(): { bytes: number; oldestAppendedAt: number | undefined; freeBytes: number | undefined } {
    return {
      bytes: this.segments.diskBytes() + this.writer.pendingBytes,
      oldestAppendedAt: this.committedRecordsBacklog > 0 ? this.marks[0]?.at : undefined,
      freeBytes: this.writer.freeBytes,
    };
  }

  /**
   * Reads up to `maxRecords` durable records after the read cursor and advances the cursor (not the
   * checkpoint). Returns undefined when there is nothing new.
   */
  read(maxRecords: number): Promise<SpoolBatch | undefined> {
    return this.reader.read(maxRecords);
  }

  /**
   * The durable records after the checkpoint, oldest first, read apart from the pump's cursor. At a
   * start, before intake, the compliance engine judges them again: the pump moves the checkpoint only
   * past fixes whose judgement is committed, so whatever a crash left unjudged is here (what was judged
   * is recognised and skipped).
   */
  replay(maxRecords = 5000): AsyncGenerator<string[]> {
    return this.reader.replay(this.checkpoint, maxRecords);
  }

  /** Makes `pos` the durable checkpoint and deletes the segments it has consumed wholly. */
  async commit(pos: SpoolPosition, records: number): Promise<void> {
    const segs = this.segments;
    // the checkpoint moves in memory only once it is durable: a save that fails (EMFILE, a full disk)
    // leaves the batch behind the checkpoint, to be read and stored again (idempotently), and the depth
    // says so instead of counting it gone
    await saveCheckpoint(this.dir, pos);
    this.checkpoint = { ...pos };
    this.committedRecordsBacklog = Math.max(0, this.committedRecordsBacklog - records);
    for (const n of [...segs.sizes.keys()]) {
      // wholly before the checkpoint, or a sealed segment whose end the checkpoint has reached (left in
      // place, it would hold room under maxBytes that nothing frees once the backlog is empty)
      const consumed = n < pos.segment || (n === pos.segment && pos.offset >= (segs.sizes.get(n) ?? 0));
      if (consumed && n !== segs.active) {
        this.reader.release(n);
        const size = segs.sizes.get(n) ?? 0;
        await fsp.rm(segs.file(n), { force: true });
        segs.sizes.delete(n);
        segs.sealedBytes -= size;
      }
    }
    while (this.marks.length > 0 && atOrBefore(this.marks[0]!.end, pos)) this.marks.shift();
    this.writer.wakeForRoom();
    this.changed();
  }

  /** Moves the read cursor back to the checkpoint (used when a batch must be read again). */
  rewind(): void {
    this.reader.rewind(this.checkpoint);
  }

  stats(): SpoolStats {
    const segs = this.segments;
    const w = this.writer;
    let depthBytes = 0;
    for (const [n, size] of segs.sizes) {
      if (n > this.checkpoint.segment) depthBytes += n === segs.active ? segs.durableSize : size;
      else if (n === this.checkpoint.segment) {
        const end = n === segs.active ? segs.durableSize : size;
        depthBytes += Math.max(0, end - this.checkpoint.offset);
      }
    }
    return {
      depthBytes,
      depthRecords: this.committedRecordsBacklog,
      segments: segs.sizes.size,
      appendedRecords: this.appendedRecords,
      flushes: w.flushes,
      appendFailures: w.appendFailures,
      rotationFailures: w.rotationFailures,
      failing: w.failing || w.failure !== undefined,
      failed: w.failure !== undefined,
      ...(w.lastError !== undefined ? { lastError: w.lastError } : {}),
      diskBytes: segs.diskBytes(),
      peakDiskBytes: w.peakDiskBytes,
      pendingBytes: w.pendingBytes,
      waitingForRoom: w.waitingForRoom,
      ...(Number.isFinite(this.maxBytes) ? { limitBytes: this.maxBytes } : {}),
      ...(w.freeBytes !== undefined ? { freeBytes: w.freeBytes } : {}),
      ...(this.committedRecordsBacklog > 0 && this.marks[0] !== undefined
        ? { oldestAppendedAt: this.marks[0].at }
        : {}),
    };
  }

  async close(): Promise<void> {
    if (this.writer.closed) return;
    await this.writer.close();
    this.reader.close();
  }

  /** One mark per second of appends: the age of the backlog is read from the first one not committed. */
  private markAppended(): void {
    const end = { segment: this.segments.active, offset: this.segments.durableSize };
    const at = this.now();
    const last = this.marks.at(-1);
    if (last !== undefined && at - last.at < 1000) last.end = end;
    else this.marks.push({ end, at });
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }
}
