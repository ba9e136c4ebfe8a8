import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * The spool: an append-only write-ahead log of accepted fixes on local disk.
 *
 * - A device's QoS 1 publish is acknowledged only after its fixes are here and fdatasync'ed, so a
 *   `kill -9` (or a power cut, given an honest disk) loses no acknowledged fix.
 * - Appends are group-committed: while one write+fdatasync is in flight, every append that arrives
 *   queues behind it and the next flush writes them all with one writev and one fdatasync. Under load
 *   the cost of durability is shared by thousands of messages.
 * - The store pump reads forward from a durable checkpoint and moves the checkpoint only after the store
 *   has taken a batch. When InfluxDB is down the log simply grows on disk (memory stays bounded to one
 *   batch) and is replayed in order when the store returns; after a restart, reading resumes at the
 *   checkpoint.
 *
 * Format: segment files `seg-NNNNNNNNNNNN.jsonl`, one JSON record per line ('\n' never occurs inside a
 * JSON text, RFC 8259 section 7 requires control characters in strings to be escaped). Fully consumed
 * segments are deleted.
 */

export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpoolBatch {
  records: string[];
  /** position just after the last record of the batch: commit it once the batch is stored */
  end: SpoolPosition;
}

export interface SpoolStats {
  /** bytes between the checkpoint and the end of the log */
  depthBytes: number;
  /** records between the checkpoint and the end of the log */
  depthRecords: number;
  segments: number;
  appendedRecords: number;
  flushes: number;
}

export interface SpoolOptions {
  dir: string;
  /** a new segment is started once the active one reaches this size */
  segmentBytes?: number;
}

const SEGMENT_RE = /^seg-(\d{12})\.jsonl$/;
const segmentName = (n: number): string => `seg-${String(n).padStart(12, '0')}.jsonl`;
const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  records: number;
}

export class Spool {
  private readonly dir: string;
  private readonly segmentBytes: number;
  /** segment number → size in bytes (durable part for the active one is `durableSize`) */
  private readonly sizes = new Map<number, number>();
  private activeSegment = 0;
  private activeFd = -1;
  private activeSize = 0;
  private durableSize = 0;

  private pendingBuffers: Buffer[] = [];
  private pendingBytes = 0;
  private pendingWaiters: Waiter[] = [];
  private flushing = false;
  private closed = false;
  private failure: Error | undefined;

  private checkpoint: SpoolPosition = { segment: 1, offset: 0 };
  private readCursor: SpoolPosition = { segment: 1, offset: 0 };
  private readFd = -1;
  private readFdSegment = -1;

  private appendedRecords = 0;
  private committedRecordsBacklog = 0;
  private flushes = 0;
  private readonly appendListeners = new Set<() => void>();

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const segments = (await fsp.readdir(this.dir))
      .map((name) => SEGMENT_RE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of segments) this.sizes.set(n, (await fsp.stat(this.file(n))).size);

    this.checkpoint = (await this.loadCheckpoint()) ?? { segment: segments[0] ?? 1, offset: 0 };
    // A checkpoint pointing at a segment that no longer exists (deleted after full consumption) means
    // reading starts at the next existing one.
    const last = segments[segments.length - 1];
    if (last !== undefined) {
      await this.truncateTornTail(last);
      this.activeSegment = last;
    } else {
      this.activeSegment = Math.max(1, this.checkpoint.segment);
      this.sizes.set(this.activeSegment, 0);
    }
    this.activeFd = fs.openSync(this.file(this.activeSegment), 'a');
    this.activeSize = this.sizes.get(this.activeSegment) ?? 0;
    this.durableSize = this.activeSize;
    if (last === undefined) await this.syncDir();
    this.readCursor = { ...this.checkpoint };
    this.committedRecordsBacklog = await this.countRecordsFrom(this.checkpoint);
  }

  /**
   * Appends records (JSON texts without newlines) and resolves once they are on disk and fdatasync'ed.
   */
  append(records: readonly string[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (records.length === 0) return Promise.resolve();
    const buf = Buffer.from(`${records.join('\n')}\n`, 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.pendingBuffers.push(buf);
      this.pendingBytes += buf.length;
      this.pendingWaiters.push({ resolve, reject, records: records.length });
      if (!this.flushing) {
        this.flushing = true;
        // Let the current I/O turn finish queueing appends so the first flush already groups them.
        setImmediate(() => void this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pendingBuffers.length > 0) {
      const buffers = this.pendingBuffers;
      const bytes = this.pendingBytes;
      const waiters = this.pendingWaiters;
      this.pendingBuffers = [];
      this.pendingBytes = 0;
      this.pendingWaiters = [];
      try {
        if (this.activeSize > 0 && this.activeSize + bytes > this.segmentBytes) await this.rotate();
        await writevAll(this.activeFd, buffers);
        this.activeSize += bytes;
        await datasync(this.activeFd);
        this.durableSize = this.activeSize;
        this.sizes.set(this.activeSegment, this.activeSize);
        this.flushes++;
        let n = 0;
        for (const w of waiters) {
          n += w.records;
          w.resolve();
        }
        this.appendedRecords += n;
        this.committedRecordsBacklog += n;
        for (const listener of this.appendListeners) listener();
      } catch (err) {
        // A failed write or fsync leaves the tail of the file in doubt: refuse further appends so no
        // acknowledgement is ever given for data that may not be durable (the fsync-gate lesson).
        this.failure = new Error(`spool write failed in ${this.dir}: ${(err as Error).message}`);
        for (const w of waiters) w.reject(this.failure);
        for (const w of this.pendingWaiters) w.reject(this.failure);
        this.pendingWaiters = [];
        this.pendingBuffers = [];
        this.pendingBytes = 0;
      }
    }
    this.flushing = false;
  }

  private async rotate(): Promise<void> {
    await datasync(this.activeFd);
    fs.closeSync(this.activeFd);
    this.sizes.set(this.activeSegment, this.activeSize);
    this.activeSegment++;
    this.activeFd = fs.openSync(this.file(this.activeSegment), 'a');
    this.activeSize = 0;
    this.durableSize = 0;
    this.sizes.set(this.activeSegment, 0);
    await this.syncDir();
  }

  /** Calls `listener` after every durable flush (the pump uses it to wake up). Returns an unsubscribe. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * Reads up to `maxRecords` durable records after the read cursor and advances the cursor (not the
   * checkpoint). Returns undefined when there is nothing new.
   */
  async read(maxRecords: number): Promise<SpoolBatch | undefined> {
    for (;;) {
      const seg = this.readCursor.segment;
      const end = seg === this.activeSegment ? this.durableSize : this.sizes.get(seg);
      if (end === undefined) {
        // The cursor's segment is gone (consumed and deleted): move to the next existing one.
        const next = this.nextSegmentAfter(seg);
        if (next === undefined) return undefined;
        this.readCursor = { segment: next, offset: 0 };
        continue;
      }
      if (this.readCursor.offset >= end) {
        if (seg >= this.activeSegment) return undefined;
        const next = this.nextSegmentAfter(seg);
        if (next === undefined) return undefined;
        this.readCursor = { segment: next, offset: 0 };
        continue;
      }
      const length = Math.min(end - this.readCursor.offset, READ_CHUNK_BYTES);
      const buf = Buffer.allocUnsafe(length);
      const fd = this.readFdFor(seg);
      const got = await readAt(fd, buf, this.readCursor.offset);
      const chunk = buf.subarray(0, got);
      const records: string[] = [];
      let start = 0;
      let consumed = 0;
      while (records.length < maxRecords) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl < 0) break;
        if (nl > start) records.push(chunk.toString('utf8', start, nl));
        start = nl + 1;
        consumed = start;
      }
      if (consumed === 0) {
        // A single record larger than the read chunk cannot happen (payloads are capped far below it),
        // so this is an incomplete tail of a sealed segment: skip it rather than stall forever.
        this.readCursor = { segment: seg, offset: end };
        continue;
      }
      this.readCursor = { segment: seg, offset: this.readCursor.offset + consumed };
      return { records, end: { ...this.readCursor } };
    }
  }

  /** Makes `pos` the durable checkpoint and deletes segments wholly before it. */
  async commit(pos: SpoolPosition, records: number): Promise<void> {
    this.checkpoint = { ...pos };
    this.committedRecordsBacklog = Math.max(0, this.committedRecordsBacklog - records);
    const tmp = path.join(this.dir, 'checkpoint.json.tmp');
    await fsp.writeFile(tmp, JSON.stringify(pos));
    const fh = await fsp.open(tmp, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path.join(this.dir, 'checkpoint.json'));
    for (const n of [...this.sizes.keys()]) {
      if (n < pos.segment && n !== this.activeSegment) {
        if (this.readFdSegment === n) this.closeReadFd();
        this.sizes.delete(n);
        await fsp.rm(this.file(n), { force: true });
      }
    }
  }

  /** Moves the read cursor back to the checkpoint (used when a batch must be read again). */
  rewind(): void {
    this.readCursor = { ...this.checkpoint };
  }

  stats(): SpoolStats {
    let depthBytes = 0;
    for (const [n, size] of this.sizes) {
      if (n > this.checkpoint.segment) depthBytes += n === this.activeSegment ? this.durableSize : size;
      else if (n === this.checkpoint.segment) {
        const end = n === this.activeSegment ? this.durableSize : size;
        depthBytes += Math.max(0, end - this.checkpoint.offset);
      }
    }
    return {
      depthBytes,
      depthRecords: this.committedRecordsBacklog,
      segments: this.sizes.size,
      appendedRecords: this.appendedRecords,
      flushes: this.flushes,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Wait for a flush in progress so every promise given out is settled.
    while (this.flushing) await new Promise((r) => setImmediate(r));
    this.closed = true;
    if (this.activeFd >= 0) {
      fs.closeSync(this.activeFd);
      this.activeFd = -1;
    }
    this.closeReadFd();
  }

  // --- internals ---------------------------------------------------------------------------------

  private file(n: number): string {
    return path.join(this.dir, segmentName(n));
  }

  private nextSegmentAfter(n: number): number | undefined {
    let best: number | undefined;
    for (const k of this.sizes.keys()) if (k > n && (best === undefined || k < best)) best = k;
    return best;
  }

  private readFdFor(n: number): number {
    if (this.readFdSegment !== n) {
      this.closeReadFd();
      this.readFd = fs.openSync(this.file(n), 'r');
      this.readFdSegment = n;
    }
    return this.readFd;
  }

  private closeReadFd(): void {
    if (this.readFd >= 0) fs.closeSync(this.readFd);
    this.readFd = -1;
    this.readFdSegment = -1;
  }

  private async loadCheckpoint(): Promise<SpoolPosition | undefined> {
    try {
      const raw = JSON.parse(
        await fsp.readFile(path.join(this.dir, 'checkpoint.json'), 'utf8'),
      ) as SpoolPosition;
      if (Number.isInteger(raw.segment) && Number.isInteger(raw.offset)) return raw;
    } catch {
      // no checkpoint yet
    }
    return undefined;
  }

  /** A crash mid-write can leave a partial last line: cut the last segment back to its last newline. */
  private async truncateTornTail(n: number): Promise<void> {
    const size = this.sizes.get(n) ?? 0;
    if (size === 0) return;
    const fd = fs.openSync(this.file(n), 'r+');
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
        this.sizes.set(n, end);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  private async countRecordsFrom(pos: SpoolPosition): Promise<number> {
    let count = 0;
    for (const n of [...this.sizes.keys()].sort((a, b) => a - b)) {
      if (n < pos.segment) continue;
      const stream = fs.createReadStream(this.file(n), { start: n === pos.segment ? pos.offset : 0 });
      stream.on('data', (chunk) => {
        const b = chunk as Buffer;
        for (let i = b.indexOf(NEWLINE); i >= 0; i = b.indexOf(NEWLINE, i + 1)) count++;
      });
      await once(stream, 'close');
    }
    return count;
  }

  private async syncDir(): Promise<void> {
    // The new segment's directory entry must be durable too, or a crash can lose the whole file.
    const fd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

async function writevAll(fd: number, buffers: Buffer[]): Promise<void> {
  // One contiguous buffer: writev with thousands of iovecs exceeds IOV_MAX and writes short anyway.
  const buf = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  let done = 0;
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, done, buf.length - done, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}
