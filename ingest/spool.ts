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
 *   has taken a batch. When InfluxDB is down the log grows on disk, up to its limit (below), memory
 *   staying bounded to one batch, and is replayed in order when the store returns; after a restart,
 *   reading resumes at the checkpoint.
 *
 * Format: segment files `seg-NNNNNNNNNNNN.jsonl`, one JSON record per line ('\n' never occurs inside a
 * JSON text, RFC 8259 section 7 requires control characters in strings to be escaped). Fully consumed
 * segments are deleted.
 *
 * Bounds. With `maxBytes` the segment files never take more than that on disk together: a flush
 * writes only the appends that fit, and the rest wait, unacknowledged, until the store pump has moved
 * the checkpoint past whole segments and they are deleted (segments are then at most maxBytes / 8, so
 * consumed data never holds much room). With `minFreeBytes` they also wait while the filesystem is
 * down to that many free bytes (checked once a second). Ingest slows acknowledgements before it comes
 * to this (backpressure.ts); the wait here is what makes the bound exact.
 *
 * Failures. A flush that fails (ENOSPC, EIO, EFBIG at a file-size limit) rejects its appends, so none
 * of them is acknowledged, and the spool carries on: the segment is cut back to its durable end (what
 * a failed write or fdatasync left behind it is in doubt, and nobody was told it was stored), sealed,
 * and the next flush goes to a new segment. Only when the cut itself fails is the spool shut for good.
 * Running out of descriptors (EMFILE) never fails an append: the active segment and the directory stay
 * open, so a flush opens nothing; a new segment that cannot be opened just leaves the active one
 * growing past its nominal size until it can.
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

/** How long a free-space reading is trusted, and how often a spool waiting for room looks again. */
const FREE_SPACE_TTL_MS = 1000;
const MIN_SEGMENT_BYTES = 64 * 1024;

const SEGMENT_RE = /^seg-(\d{12})\.jsonl$/;
const segmentName = (n: number): string => `seg-${String(n).padStart(12, '0')}.jsonl`;
const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  records: number;
}

/** Records appended up to `end` by time `at` (one entry per second of appends, oldest first). */
interface AppendMark {
  end: SpoolPosition;
  at: number;
}

const before = (a: SpoolPosition, b: SpoolPosition): boolean =>
  a.segment < b.segment || (a.segment === b.segment && a.offset <= b.offset);

export class Spool {
  private readonly dir: string;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;
  private readonly minFreeBytes: number;
  private readonly now: () => number;
  /** bytes of the segments other than the active one (the active one's is activeSize) */
  private sealedBytes = 0;
  private peakDiskBytes = 0;
  private freeBytes: number | undefined;
  private freeReadAt = Number.NEGATIVE_INFINITY;
  private waitingForRoom = false;
  /** wakes a flush waiting for room (a commit freed some, or the spool closes) */
  private roomWake: (() => void) | undefined;
  private closing = false;
  private readonly marks: AppendMark[] = [];
  /** segment number → size in bytes (durable part for the active one is `durableSize`) */
  private readonly sizes = new Map<number, number>();
  private activeSegment = 0;
  private activeFd = -1;
  private activeSize = 0;
  private durableSize = 0;
  /** the directory, kept open so a new segment's entry can be fsync'ed without a new descriptor */
  private dirFd = -1;

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
  private appendFailures = 0;
  private rotationFailures = 0;
  private failing = false;
  private lastError: string | undefined;
  private readonly appendListeners = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.minFreeBytes = options.minFreeBytes ?? 0;
    this.now = options.now ?? Date.now;
    const segment = options.segmentBytes ?? 64 * 1024 * 1024;
    this.segmentBytes = Number.isFinite(this.maxBytes)
      ? Math.max(MIN_SEGMENT_BYTES, Math.min(segment, Math.floor(this.maxBytes / 8)))
      : segment;
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const segments = (await fsp.readdir(this.dir))
      .map((name) => SEGMENT_RE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of segments) this.sizes.set(n, (await fsp.stat(this.file(n))).size);
    this.dirFd = fs.openSync(this.dir, 'r');

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
    for (const [n, size] of this.sizes) if (n !== this.activeSegment) this.sealedBytes += size;
    this.peakDiskBytes = this.diskBytes();
    if (this.committedRecordsBacklog > 0) {
      // The backlog left by the last run: its append times are gone; the oldest segment's last write
      // stands for them (an upper bound: the backlog is at least that old).
      const first = [...this.sizes.keys()]
        .filter((n) => n >= this.checkpoint.segment)
        .sort((a, b) => a - b)[0];
      const at = first === undefined ? this.now() : (await fsp.stat(this.file(first))).mtimeMs;
      this.marks.push({ end: { segment: this.activeSegment, offset: this.durableSize }, at });
    }
    if (this.minFreeBytes > 0) await this.readFreeSpace();
  }

  /**
   * Appends records (JSON texts without newlines) and resolves once they are on disk and fdatasync'ed.
   */
  append(records: readonly string[]): Promise<void> {
    if (this.closed || this.closing) return Promise.reject(new Error('spool is closed'));
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
    while (this.pendingBuffers.length > 0 && this.failure === undefined) {
      const fit = await this.appendsThatFit();
      if (fit === 0) {
        if (this.closing) break;
        await this.waitForRoom();
        continue;
      }
      // A flush stays within one segment (a new one when the next append would pass its size), so
      // segments stay small and the pump's commits free room in steps of one segment.
      const first = this.pendingBuffers[0]!.length;
      if (this.activeSize > 0 && this.activeSize + first > this.segmentBytes) await this.tryRotate();
      let take = 0;
      let bytes = 0;
      while (take < fit) {
        const next = this.pendingBuffers[take]!.length;
        if (take > 0 && this.activeSize + bytes + next > this.segmentBytes) break;
        bytes += next;
        take++;
      }
      const buffers = this.pendingBuffers.splice(0, take);
      const waiters = this.pendingWaiters.splice(0, take);
      this.pendingBytes -= bytes;
      try {
        await writevAll(this.activeFd, buffers);
        this.activeSize += bytes;
        await datasync(this.activeFd);
        this.durableSize = this.activeSize;
        this.sizes.set(this.activeSegment, this.activeSize);
        this.peakDiskBytes = Math.max(this.peakDiskBytes, this.diskBytes());
        this.flushes++;
        this.failing = false;
        let n = 0;
        for (const w of waiters) {
          n += w.records;
          w.resolve();
        }
        this.appendedRecords += n;
        this.committedRecordsBacklog += n;
        this.markAppended();
        for (const listener of this.appendListeners) listener();
        this.changed();
      } catch (err) {
        const cause = err as NodeJS.ErrnoException;
        this.failing = true;
        this.lastError = cause.message;
        this.appendFailures += waiters.length;
        const refused = Object.assign(new Error(`spool write failed in ${this.dir}: ${cause.message}`), {
          code: cause.code,
        });
        for (const w of waiters) w.reject(refused);
        await this.restoreAfterFailure(cause);
      }
    }
    const refusal =
      this.failure ??
      (this.closing && this.pendingWaiters.length > 0
        ? new Error('spool closed before these fixes fitted under its limit: not acknowledged')
        : undefined);
    if (refusal !== undefined) {
      // shut for good, or closing while appends wait for room: whatever is queued is refused
      for (const w of this.pendingWaiters) w.reject(refusal);
      if (this.failure !== undefined) this.appendFailures += this.pendingWaiters.length;
      this.pendingWaiters = [];
      this.pendingBuffers = [];
      this.pendingBytes = 0;
    }
    this.waitingForRoom = false;
    this.flushing = false;
  }

  /** bytes the segment files take on disk */
  private diskBytes(): number {
    return this.sealedBytes + this.activeSize;
  }

  /**
   * How many of the pending appends (in order) fit under maxBytes and above the free-space floor now.
   * When none fits and the backlog is empty, the store pump will free nothing more: the active segment,
   * wholly consumed, is swapped for a new one and deleted. Should the first still not fit (one message
   * larger than the limit: the config keeps SPOOL_MAX_BYTES far above that), it is written anyway
   * rather than stall the spool for good; peakDiskBytes would show it.
   */
  private async appendsThatFit(): Promise<number> {
    if (this.pendingBuffers.length === 0) return 0;
    let room = this.maxBytes - this.diskBytes();
    if (this.minFreeBytes > 0) {
      if (this.now() - this.freeReadAt >= FREE_SPACE_TTL_MS) await this.readFreeSpace();
      if (this.freeBytes !== undefined) room = Math.min(room, this.freeBytes - this.minFreeBytes);
    }
    if (room === Number.POSITIVE_INFINITY) return this.pendingBuffers.length;
    const fitting = (space: number): number => {
      let n = 0;
      for (const b of this.pendingBuffers) {
        if (b.length > space) break;
        space -= b.length;
        n++;
      }
      return n;
    };
    const n = fitting(room);
    if (n > 0 || this.committedRecordsBacklog > 0) return n;
    const floorReached = this.freeBytes !== undefined && this.freeBytes <= this.minFreeBytes;
    if (floorReached) return 0;
    if (this.activeSize > 0 && this.durableSize === this.activeSize) {
      await this.dropConsumedActive();
      const again = fitting(this.maxBytes - this.diskBytes());
      if (again > 0) return again;
    }
    return 1;
  }

  /** With nothing left to store: a new active segment, and the old one (wholly consumed) deleted. */
  private async dropConsumedActive(): Promise<void> {
    const old = this.activeSegment;
    await this.tryRotate();
    if (this.activeSegment === old) return;
    this.checkpoint = { segment: this.activeSegment, offset: 0 };
    await this.commit(this.checkpoint, 0);
  }

  /** Until a commit frees room, the spool closes, or a second passes (the free space may change). */
  private waitForRoom(): Promise<void> {
    this.waitingForRoom = true;
    this.changed();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(wake, FREE_SPACE_TTL_MS);
      const self = this;
      function wake() {
        clearTimeout(timer);
        if (self.roomWake === wake) self.roomWake = undefined;
        self.waitingForRoom = false;
        resolve();
      }
      this.roomWake = wake;
    });
  }

  private async readFreeSpace(): Promise<void> {
    this.freeReadAt = this.now();
    try {
      const s = await fsp.statfs(this.dir);
      this.freeBytes = s.bavail * s.bsize;
    } catch {
      // not knowing is not a reason to refuse fixes: the byte limit still holds
      this.freeBytes = undefined;
    }
  }

  /** One mark per second of appends: the age of the backlog is read from the first one not committed. */
  private markAppended(): void {
    const end = { segment: this.activeSegment, offset: this.durableSize };
    const at = this.now();
    const last = this.marks.at(-1);
    if (last !== undefined && at - last.at < 1000) last.end = end;
    else this.marks.push({ end, at });
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /**
   * After a failed write or fdatasync, cut the active segment back to its durable end: the bytes after
   * it are in doubt (after a failed fdatasync the kernel may have dropped them while the file still
   * shows them) and belong to appends that were refused. Then seal the segment and go on in a new one
   * (a file-size limit, EFBIG, fails every further write to this file). If the cut fails the log can no
   * longer be vouched for: refuse every append from now on (the fsync-gate lesson).
   */
  private async restoreAfterFailure(cause: Error): Promise<void> {
    try {
      await ftruncate(this.activeFd, this.durableSize);
      await datasync(this.activeFd);
      this.activeSize = this.durableSize;
    } catch (err) {
      this.failure = new Error(
        `spool write failed in ${this.dir} (${cause.message}) and the log could not be cut back to its durable end (${(err as Error).message}): refusing appends`,
      );
      this.lastError = this.failure.message;
      return;
    }
    if (this.activeSize > 0) await this.tryRotate();
  }

  /** Starts a new segment; if it cannot be opened now (EMFILE), the active one simply goes on. */
  private async tryRotate(): Promise<void> {
    try {
      await this.rotate();
    } catch (err) {
      this.rotationFailures++;
      this.lastError = `new segment not opened: ${(err as Error).message}`;
    }
  }

  private async rotate(): Promise<void> {
    // Open the next segment first: if that fails nothing has changed and the active one stays usable.
    const next = this.activeSegment + 1;
    const fd = fs.openSync(this.file(next), 'a');
    try {
      // its directory entry must be durable too, or a crash could lose the whole file
      await fsyncFd(this.dirFd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    fs.closeSync(this.activeFd);
    this.sizes.set(this.activeSegment, this.durableSize);
    this.sealedBytes += this.durableSize;
    this.activeSegment = next;
    this.activeFd = fd;
    this.activeSize = 0;
    this.durableSize = 0;
    this.sizes.set(next, 0);
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
      bytes: this.diskBytes() + this.pendingBytes,
      oldestAppendedAt: this.committedRecordsBacklog > 0 ? this.marks[0]?.at : undefined,
      freeBytes: this.freeBytes,
    };
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

  /**
   * The durable records after the checkpoint, oldest first, read apart from the pump's cursor (a
   * descriptor of its own per segment). At a start, before intake, the compliance engine judges them
   * again: the pump moves the checkpoint only past fixes whose judgement is committed, so whatever a
   * crash left unjudged is here (what was judged is recognised and skipped).
   */
  async *replay(maxRecords = 5000): AsyncGenerator<string[]> {
    let pos: SpoolPosition = { ...this.checkpoint };
    let fd: fs.promises.FileHandle | undefined;
    let fdSegment = -1;
    try {
      for (;;) {
        const seg = pos.segment;
        const end = seg === this.activeSegment ? this.durableSize : this.sizes.get(seg);
        if (end === undefined || pos.offset >= end) {
          if (end !== undefined && seg >= this.activeSegment) return;
          const next = this.nextSegmentAfter(seg);
          if (next === undefined) return;
          pos = { segment: next, offset: 0 };
          continue;
        }
        if (fdSegment !== seg) {
          await fd?.close();
          fd = await fsp.open(this.file(seg), 'r');
          fdSegment = seg;
        }
        const buf = Buffer.allocUnsafe(Math.min(end - pos.offset, READ_CHUNK_BYTES));
        const { bytesRead } = await fd!.read(buf, 0, buf.length, pos.offset);
        const chunk = buf.subarray(0, bytesRead);
        const records: string[] = [];
        let start = 0;
        while (records.length < maxRecords) {
          const nl = chunk.indexOf(NEWLINE, start);
          if (nl < 0) break;
          if (nl > start) records.push(chunk.toString('utf8', start, nl));
          start = nl + 1;
        }
        // an incomplete tail of a sealed segment (see read): skip it
        pos = { segment: seg, offset: start === 0 ? end : pos.offset + start };
        if (records.length > 0) yield records;
      }
    } finally {
      await fd?.close();
    }
  }

  /** Makes `pos` the durable checkpoint and deletes the segments it has consumed wholly. */
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
      // wholly before the checkpoint, or a sealed segment whose end the checkpoint has reached (left in
      // place, it would hold room under maxBytes that nothing frees once the backlog is empty)
      const consumed = n < pos.segment || (n === pos.segment && pos.offset >= (this.sizes.get(n) ?? 0));
      if (consumed && n !== this.activeSegment) {
        if (this.readFdSegment === n) this.closeReadFd();
        const size = this.sizes.get(n) ?? 0;
        await fsp.rm(this.file(n), { force: true });
        this.sizes.delete(n);
        this.sealedBytes -= size;
      }
    }
    while (this.marks.length > 0 && before(this.marks[0]!.end, pos)) this.marks.shift();
    this.roomWake?.();
    this.changed();
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
      appendFailures: this.appendFailures,
      rotationFailures: this.rotationFailures,
      failing: this.failing || this.failure !== undefined,
      failed: this.failure !== undefined,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      diskBytes: this.diskBytes(),
      peakDiskBytes: this.peakDiskBytes,
      pendingBytes: this.pendingBytes,
      waitingForRoom: this.waitingForRoom,
      ...(Number.isFinite(this.maxBytes) ? { limitBytes: this.maxBytes } : {}),
      ...(this.freeBytes !== undefined ? { freeBytes: this.freeBytes } : {}),
      ...(this.committedRecordsBacklog > 0 && this.marks[0] !== undefined
        ? { oldestAppendedAt: this.marks[0].at }
        : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Wait for a flush in progress so every promise given out is settled; appends waiting for room are
    // refused (not acknowledged: their devices send them again).
    this.closing = true;
    this.roomWake?.();
    while (this.flushing) await new Promise((r) => setImmediate(r));
    this.closed = true;
    if (this.activeFd >= 0) {
      fs.closeSync(this.activeFd);
      this.activeFd = -1;
    }
    if (this.dirFd >= 0) {
      fs.closeSync(this.dirFd);
      this.dirFd = -1;
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
    await fsyncFd(this.dirFd);
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

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function ftruncate(fd: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve())));
}
