/**
 * Failed-login throttling for one key (a device id, or a source address): device ids are not secret
 * (they are topic levels), so anyone can try passwords for them, and every try of an unknown password
 * costs a scrypt run. Pure: the clock is injected.
 *
 * A key gets `free` attempts that may fail; each attempt counts from the moment its check starts (so a
 * burst of concurrent CONNECTs cannot slip past the limit while their checks are still running) until it
 * is known: a success forgets the key, a failure stays counted. Past `free` failures the key is blocked
 * for `baseBlockMs`, doubling with each further failure up to `maxBlockMs`, and while blocked its CONNECTs
 * are refused before any scrypt runs; once a block is over, one attempt at a time is let through (its
 * failure blocks again, longer). A key without failures for `forgetMs` starts afresh. At most `maxKeys`
 * keys are remembered (the oldest forgotten first), so a flood from ever new addresses costs bounded
 * memory.
 */

export interface ThrottleOptions {
  /** failed attempts allowed before the key is blocked */
  free: number;
  baseBlockMs: number;
  maxBlockMs: number;
  /** failures are forgotten after this long without a new one */
  forgetMs: number;
  maxKeys: number;
  now?: () => number;
}

interface KeyState {
  failures: number;
  /** checks under way */
  pending: number;
  lastFailureAt: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly keys = new Map<string, KeyState>();
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** May an attempt for `key` run its check now? */
  check(key: string): ThrottleVerdict {
    const s = this.live(key);
    if (s === undefined) return { allowed: true };
    const { free } = this.opts;
    if (s.failures + s.pending < free) return { allowed: true };
    if (s.failures < free) return { allowed: false, retryAfterMs: this.opts.baseBlockMs }; // checks under way fill it
    const until = s.lastFailureAt + this.blockMs(s.failures);
    const t = this.now();
    if (t < until) return { allowed: false, retryAfterMs: until - t };
    return s.pending > 0 ? { allowed: false, retryAfterMs: this.opts.baseBlockMs } : { allowed: true };
  }

  /** An attempt's check starts (after check() allowed it). */
  begin(key: string): void {
    let s = this.live(key);
    if (s === undefined) {
      if (this.keys.size >= this.opts.maxKeys) {
        const oldest = this.keys.keys().next().value;
        if (oldest !== undefined) this.keys.delete(oldest);
      }
      s = { failures: 0, pending: 0, lastFailureAt: Number.NEGATIVE_INFINITY };
    } else this.keys.delete(key); // re-inserted below: the map stays in order of last use
    s.pending++;
    this.keys.set(key, s);
  }

  /** The attempt's check ended: ok forgets the key's failures, a failure counts. */
  end(key: string, ok: boolean): void {
    const s = this.keys.get(key);
    if (s === undefined) return;
    s.pending = Math.max(0, s.pending - 1);
    if (ok) s.failures = 0;
    else {
      s.failures++;
      s.lastFailureAt = this.now();
    }
    if (s.failures === 0 && s.pending === 0) this.keys.delete(key);
  }

  /** A failure known without a check (an unknown user, a remembered wrong secret). */
  fail(key: string): void {
    this.begin(key);
    this.end(key, false);
  }

  /** keys remembered now (diagnostics, tests) */
  get size(): number {
    return this.keys.size;
  }

  private blockMs(failures: number): number {
    const { free, baseBlockMs, maxBlockMs } = this.opts;
    return Math.min(maxBlockMs, baseBlockMs * 2 ** Math.min(30, failures - free));
  }

  /** the key's state, or undefined when it has none or its failures are old enough to forget */
  private live(key: string): KeyState | undefined {
    const s = this.keys.get(key);
    if (s === undefined) return undefined;
    if (s.pending === 0 && this.now() - s.lastFailureAt >= this.opts.forgetMs) {
      this.keys.delete(key);
      return undefined;
    }
    return s;
  }
}

/** Per device id: a terminal with a stale password fails a few times in a row, a guesser many times. */
export const DEVICE_THROTTLE: Omit<ThrottleOptions, 'now'> = {
  free: 5,
  baseBlockMs: 1_000,
  maxBlockMs: 60_000,
  forgetMs: 15 * 60_000,
  maxKeys: 100_000,
};

/**
 * Per source address: more room, since many devices may share one (carrier-grade NAT of a mobile
 * network), and a refusal only delays them (CONNACK 3, they retry). auth.ts counts only new wrong
 * secrets here (scrypt runs), never checks under way or successes, so a fleet behind one address
 * logging in at once is not taken for a flood.
 */
export const ADDRESS_THROTTLE: Omit<ThrottleOptions, 'now'> = {
  free: 50,
  baseBlockMs: 1_000,
  maxBlockMs: 60_000,
  forgetMs: 15 * 60_000,
  maxKeys: 100_000,
};
