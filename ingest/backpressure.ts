/**
 * Backpressure from the spool to the devices: when the store takes fixes more slowly than devices send
 * them, the acknowledged backlog grows in the spool. Rather than let it fill the disk, the platform
 * acknowledges more slowly as the spool nears its limit, and not at all at the limit: a message waits
 * here before ingest, its PUBACK with it. Holding the PUBACK is what slows the sender: a device keeps an
 * unacknowledged QoS 1 message and may have only so many in flight [MQTT-4.3.2-1, MQTT-4.4.0-1], aedes
 * reads no further packets from a connection while its current batch is unanswered, and mqtt.js
 * (the external-broker path) takes no next message before the current one's callback, so the broker
 * holds them in its session. Nothing acknowledged is ever dropped; what is not yet acknowledged stays
 * with its sender.
 *
 *   fill < SLOW_AT        admitted at once
 *   SLOW_AT <= fill < 1   admitted after a delay growing with the fill, up to MAX_DELAY_MS
 *   fill >= 1             held until the store pump has made room
 *
 * fill = the larger of the spool's disk use over its byte limit and the age of its oldest unstored fix
 * over the age limit, or 1 when the filesystem is down to its free-space floor. Waiting messages are
 * released strictly in arrival order, so a device's fixes reach ingest in the order it sent them.
 */

export const SLOW_AT = 0.8;
export const MAX_DELAY_MS = 1000;

export interface SpoolLimits {
  /** bytes the spool's segment files may take */
  maxBytes: number;
  /** age of the oldest fix not yet in the store, ms; 0: no age limit */
  maxAgeMs: number;
  /** free bytes the filesystem keeps; 0: no floor */
  minFreeBytes: number;
}

export interface SpoolLevel {
  /** segment files on disk plus appends waiting to be written */
  bytes: number;
  /** when the oldest fix not yet in the store was appended (epoch ms); undefined when none waits */
  oldestAppendedAt: number | undefined;
  /** free bytes on the spool's filesystem (last reading); undefined when unknown */
  freeBytes: number | undefined;
}

export interface Pressure {
  /** 0 (empty) .. >= 1 (at a limit) */
  fill: number;
  /** what the fill comes from, for /healthz; undefined below SLOW_AT */
  reason?: string;
}

const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;

/** The spool's fill against its limits, pure: the same inputs give the same answer. */
export function spoolPressure(level: SpoolLevel, limits: SpoolLimits, nowMs: number): Pressure {
  if (limits.minFreeBytes > 0 && level.freeBytes !== undefined && level.freeBytes <= limits.minFreeBytes) {
    return {
      fill: 1,
      reason: `the filesystem of the spool has ${mib(level.freeBytes)} free, at its floor of ${mib(limits.minFreeBytes)} (SPOOL_MIN_FREE_BYTES)`,
    };
  }
  const byBytes = level.bytes / limits.maxBytes;
  const ageMs = level.oldestAppendedAt === undefined ? 0 : Math.max(0, nowMs - level.oldestAppendedAt);
  const byAge = limits.maxAgeMs > 0 ? ageMs / limits.maxAgeMs : 0;
  const fill = Math.max(byBytes, byAge);
  if (fill < SLOW_AT) return { fill };
  const reason =
    byBytes >= byAge
      ? `the spool holds ${mib(level.bytes)} of its ${mib(limits.maxBytes)} (SPOOL_MAX_BYTES)`
      : `the oldest fix not yet in the store waits for ${Math.round(ageMs / 1000)} s of at most ${Math.round(limits.maxAgeMs / 1000)} (SPOOL_MAX_AGE_S)`;
  return { fill, reason };
}

/** How long a message arriving at this fill waits before ingest, ms (Infinity: until room is made). */
export function admissionDelayMs(fill: number): number {
  if (fill >= 1) return Number.POSITIVE_INFINITY;
  if (fill < SLOW_AT) return 0;
  return Math.round((MAX_DELAY_MS * (fill - SLOW_AT)) / (1 - SLOW_AT));
}

export interface BackpressureStats {
  fill: number;
  reason?: string;
  /** messages waiting now (their PUBACK with them) */
  waiting: number;
  /** messages delayed since start (fill between SLOW_AT and 1) */
  slowed: number;
  /** messages that met a full spool since start (on arrival, or while they waited) */
  held: number;
}

interface Waiter {
  /** not released before this (performance.now() ms); later waiters never before earlier ones */
  releaseAt: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The admission queue in front of ingest. `admit()` returns undefined when a message may go on at once
 * (the common case: no promise, no timer), else a promise that resolves when its turn comes, or rejects
 * when the platform stops (the message is then not acknowledged and comes again). `poke()` re-evaluates
 * the queue (the spool calls it after every flush and commit); a timer does too while messages wait, so a
 * free-space floor or an age limit is noticed without one.
 */
export class Backpressure {
  private readonly queue: Waiter[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private closedWith: Error | undefined;
  private slowed = 0;
  private held = 0;
  /** queue entries before this index have been counted in `held` */
  private heldCursor = 0;

  constructor(
    private readonly pressure: () => Pressure,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  admit(): Promise<void> | undefined {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const waiting = this.queue.length - this.head;
    const { fill } = this.pressure();
    const delay = admissionDelayMs(fill);
    if (delay === 0 && waiting === 0) return undefined;
    if (delay > 0 && Number.isFinite(delay)) this.slowed++;
    const now = this.clock();
    const last = waiting > 0 ? this.queue[this.queue.length - 1]!.releaseAt : now;
    const releaseAt = Math.max(last, now + (Number.isFinite(delay) ? delay : 0));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ releaseAt, resolve, reject });
      if (delay === Number.POSITIVE_INFINITY) this.countHeld();
      this.schedule(0);
    });
  }

  /** Releases what may go now; the spool calls it whenever it has written or freed room. */
  poke(): void {
    if (this.queue.length - this.head > 0) this.schedule(0);
  }

  /** Rejects every waiting message and all later ones (the platform is stopping). */
  close(err: Error): void {
    this.closedWith = err;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.reject(err);
    this.queue.length = 0;
    this.head = 0;
    this.heldCursor = 0;
  }

  stats(): BackpressureStats {
    const p = this.pressure();
    return {
      fill: p.fill,
      ...(p.reason !== undefined ? { reason: p.reason } : {}),
      waiting: this.queue.length - this.head,
      slowed: this.slowed,
      held: this.held,
    };
  }

  /** A check of the queue in `ms` (one timer: an earlier check, or one at once, replaces a later one). */
  private schedule(ms: number): void {
    const due = this.clock() + ms;
    if (this.timer !== undefined) {
      if (ms > 0 && this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.release();
    }, ms);
  }

  /**
   * Counts every waiting message not yet counted as held: the one that arrived at a full spool, and
   * those that were delayed before it and met the full spool while they waited.
   */
  private countHeld(): void {
    this.held += this.queue.length - Math.max(this.heldCursor, this.head);
    this.heldCursor = this.queue.length;
  }

  private release(): void {
    while (this.head < this.queue.length) {
      if (this.pressure().fill >= 1) {
        this.countHeld();
        // full: the next flush or commit pokes; the timer covers an age limit or a free-space floor
        this.schedule(100);
        return;
      }
      const next = this.queue[this.head]!;
      const wait = next.releaseAt - this.clock();
      if (wait > 0) {
        this.schedule(Math.ceil(wait));
        return;
      }
      this.queue[this.head++] = undefined as unknown as Waiter;
      next.resolve();
    }
    this.queue.length = 0;
    this.head = 0;
    this.heldCursor = 0;
  }
}
