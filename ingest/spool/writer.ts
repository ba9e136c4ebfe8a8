/**
 * Appending to the spool (ingest/spool.ts): group commit, the bounds on disk, failures.
 *
 * Appends are group-committed: while one write+fdatasync is in flight, every append that arrives queues
 * behind it and the next flush writes them all with one write and one fdatasync. Under load the cost of
 * durability is shared by thousands of messages.
 *
 * Bounds. With `maxBytes` the segment files never take more than that on disk together: a flush writes
 * only the appends that fit, and the rest wait, unacknowledged, until the store pump has moved the
 * checkpoint past whole segments and they are deleted. With `minFreeBytes` they also wait while the
 * filesystem is down to that many free bytes (checked once a second).
 *
 * Failures. A flush that fails (ENOSPC, EIO, EFBIG at a file-size limit) rejects its appends, so none of
 * them is acknowledged, and the writer carries on: the segment is cut back to its durable end, sealed,
 * and the next flush goes to a new segment. Only when the cut itself fails is the spool shut for good.
 * Running out of descriptors (EMFILE) never fails an append: the active segment and the directory stay
 * open, so a flush opens nothing; a new segment that cannot be opened just leaves the active one growing
 * past its nominal size until it can.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import {
  datasync,
  fsyncFd,
  ftruncate,
  type SegmentSet,
  type SpoolPosition,
  writevAll,
} from './segment-file.ts';

/** How long a free-space reading is trusted, and how often a writer waiting for room looks again. */
export const FREE_SPACE_TTL_MS = 1000;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  records: number;
}

/** What the writer asks of the spool around it. */
export interface WriterHooks {
  /** records appended and not yet committed: while there are any, the store pump will free room */
  backlog(): number;
  /** after a durable flush of `records` records */
  flushed(records: number): void;
  /** appends started waiting for room */
  waiting(): void;
  /** the active segment, wholly consumed, was swapped for a new one that starts at `pos`: commit it */
  droppedConsumed(pos: SpoolPosition): Promise<void>;
}

export interface WriterOptions {
  segmentBytes: number;
  maxBytes: number;
  minFreeBytes: number;
  now: () => number;
}

export class SpoolWriter {
  peakDiskBytes = 0;
  freeBytes: number | undefined;
  waitingForRoom = false;
  pendingBytes = 0;
  flushes = 0;
  /** appends refused because their flush failed (none of them was acknowledged) */
  appendFailures = 0;
  /** new segments that could not be opened (the active one went on) */
  rotationFailures = 0;
  /** the last flush failed */
  failing = false;
  lastError: string | undefined;
  /** set when the writer refuses every append for good (its log could not be restored after a failure) */
  failure: Error | undefined;
  closed = false;

  private freeReadAt = Number.NEGATIVE_INFINITY;
  /** wakes a flush waiting for room (a commit freed some, or the spool closes) */
  private roomWake: (() => void) | undefined;
  private closing = false;
  private activeFd = -1;
  /** the directory, kept open so a new segment's entry can be fsync'ed without a new descriptor */
  private dirFd = -1;
  private pendingBuffers: Buffer[] = [];
  private pendingWaiters: Waiter[] = [];
  private flushing = false;

  constructor(
    private readonly segments: SegmentSet,
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks,
  ) {}

  /** Opens the directory and the active segment (segments.active) for appending. */
  async open(newSegment: boolean): Promise<void> {
    const segs = this.segments;
    this.dirFd = fs.openSync(segs.dir, 'r');
    this.activeFd = fs.openSync(segs.file(segs.active), 'a');
    segs.activeSize = segs.sizes.get(segs.active) ?? 0;
    segs.durableSize = segs.activeSize;
    // The new segment's directory entry must be durable too, or a crash can lose the whole file.
    if (newSegment) await fsyncFd(this.dirFd);
  }

  /** Resolves once the records are on disk and fdatasync'ed. */
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
    const segs = this.segments;
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
      if (segs.activeSize > 0 && segs.activeSize + first > this.options.segmentBytes) await this.tryRotate();
      let take = 0;
      let bytes = 0;
      while (take < fit) {
        const next = this.pendingBuffers[take]!.length;
        if (take > 0 && segs.activeSize + bytes + next > this.options.segmentBytes) break;
        bytes += next;
        take++;
      }
      const buffers = this.pendingBuffers.splice(0, take);
      const waiters = this.pendingWaiters.splice(0, take);
      this.pendingBytes -= bytes;
      try {
        await writevAll(this.activeFd, buffers);
        segs.activeSize += bytes;
        await datasync(this.activeFd);
        segs.durableSize = segs.activeSize;
        segs.sizes.set(segs.active, segs.activeSize);
        this.peakDiskBytes = Math.max(this.peakDiskBytes, segs.diskBytes());
        this.flushes++;
        this.failing = false;
        let n = 0;
        for (const w of waiters) {
          n += w.records;
          w.resolve();
        }
        this.hooks.flushed(n);
      } catch (err) {
        const cause = err as NodeJS.ErrnoException;
        this.failing = true;
        this.lastError = cause.message;
        this.appendFailures += waiters.length;
        const refused = Object.assign(new Error(`spool write failed in ${segs.dir}: ${cause.message}`), {
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

  /**
   * How many of the pending appends (in order) fit under maxBytes and above the free-space floor now.
   * When none fits and the backlog is empty, the store pump will free nothing more: the active segment,
   * wholly consumed, is swapped for a new one and deleted. Should the first still not fit (one message
   * larger than the limit: the config keeps SPOOL_MAX_BYTES far above that), it is written anyway
   * rather than stall the spool for good; peakDiskBytes would show it.
   */
  private async appendsThatFit(): Promise<number> {
    const { maxBytes, minFreeBytes } = this.options;
    const segs = this.segments;
    if (this.pendingBuffers.length === 0) return 0;
    let room = maxBytes - segs.diskBytes();
    if (minFreeBytes > 0) {
      if (this.options.now() - this.freeReadAt >= FREE_SPACE_TTL_MS) await this.readFreeSpace();
      if (this.freeBytes !== undefined) room = Math.min(room, this.freeBytes - minFreeBytes);
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
    if (n > 0 || this.hooks.backlog() > 0) return n;
    const floorReached = this.freeBytes !== undefined && this.freeBytes <= minFreeBytes;
    if (floorReached) return 0;
    if (segs.activeSize > 0 && segs.durableSize === segs.activeSize) {
      await this.dropConsumedActive();
      const again = fitting(maxBytes - segs.diskBytes());
      if (again > 0) return again;
    }
    return 1;
  }

  /** With nothing left to store: a new active segment, and the old one (wholly consumed) deleted. */
  private async dropConsumedActive(): Promise<void> {
    const old = this.segments.active;
    await this.tryRotate();
    if (this.segments.active === old) return;
    await this.hooks.droppedConsumed({ segment: this.segments.active, offset: 0 });
  }

  /** Until a commit frees room, the spool closes, or a second passes (the free space may change). */
  private waitForRoom(): Promise<void> {
    this.waitingForRoom = true;
    this.hooks.waiting();
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

  /** A commit freed room (or the spool closes): a flush waiting for room looks again now. */
  wakeForRoom(): void {
    this.roomWake?.();
  }

  async readFreeSpace(): Promise<void> {
    this.freeReadAt = this.options.now();
    try {
      const s = await fsp.statfs(this.segments.dir);
      this.freeBytes = s.bavail * s.bsize;
    } catch {
      // not knowing is not a reason to refuse fixes: the byte limit still holds
      this.freeBytes = undefined;
    }
  }

  /**
   * After a failed write or fdatasync, cut the active segment back to its durable end: the bytes after
   * it are in doubt (after a failed fdatasync the kernel may have dropped them while the file still
   * shows them) and belong to appends that were refused. Then seal the segment and go on in a new one
   * (a file-size limit, EFBIG, fails every further write to this file). If the cut fails the log can no
   * longer be vouched for: refuse every append from now on (the fsync-gate lesson).
   */
  private async restoreAfterFailure(cause: Error): Promise<void> {
    const segs = this.segments;
    try {
      await ftruncate(this.activeFd, segs.durableSize);
      await datasync(this.activeFd);
      segs.activeSize = segs.durableSize;
    } catch (err) {
      this.failure = new Error(
        `spool write failed in ${segs.dir} (${cause.message}) and the log could not be cut back to its durable end (${(err as Error).message}): refusing appends`,
      );
      this.lastError = this.failure.message;
      return;
    }
    if (segs.activeSize > 0) await this.tryRotate();
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
    const segs = this.segments;
    // Open the next segment first: if that fails nothing has changed and the active one stays usable.
    const next = segs.active + 1;
    const fd = fs.openSync(segs.file(next), 'a');
    try {
      // its directory entry must be durable too, or a crash could lose the whole file
      await fsyncFd(this.dirFd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    fs.closeSync(this.activeFd);
    segs.sizes.set(segs.active, segs.durableSize);
    segs.sealedBytes += segs.durableSize;
    segs.active = next;
    this.activeFd = fd;
    segs.activeSize = 0;
    segs.durableSize = 0;
    segs.sizes.set(next, 0);
  }

  /**
   * Waits for a flush in progress so every promise given out is settled; appends waiting for room are
   * refused (not acknowledged: their devices send them again).
   */
  async close(): Promise<void> {
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
  }
}
