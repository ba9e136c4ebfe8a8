/**
 * The health of calls to a store that may fail (the event outbox's writes, the evidence queue's track
 * queries and package writes): whether the last call worked, its error, the failures in a row, and a
 * wait before the next try that doubles from `initialMs` up to `maxMs` with each failure. When the
 * store fails every call would fail alike: the caller pauses all of them until `retryAt`.
 */
export class StoreBackoff {
  ok = true;
  lastError: string | undefined;
  /** failures in a row */
  failures = 0;
  /** the wait after the last failure (ms), 0 after a success */
  waitMs = 0;
  /** wall clock: no call before this */
  retryAt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** A call failed: the wait doubles. Returns whether to log it (the first failures, then every 50th). */
  failed(err: Error): boolean {
    this.ok = false;
    this.lastError = err.message;
    this.failures++;
    this.waitMs = Math.min(this.waitMs === 0 ? this.initialMs : this.waitMs * 2, this.maxMs);
    this.retryAt = Date.now() + this.waitMs;
    return this.failures <= 3 || this.failures % 50 === 0;
  }

  /** A call worked. Returns the failures in a row it ends (0 when the store was fine). */
  succeeded(): number {
    const ended = this.ok ? 0 : this.failures;
    this.ok = true;
    this.lastError = undefined;
    this.failures = 0;
    this.waitMs = 0;
    this.retryAt = 0;
    return ended;
  }
}
