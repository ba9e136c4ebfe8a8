/**
 * Per-key token buckets, in memory: each key may make `perMinute` requests in a burst and regains one
 * request every 60/perMinute seconds. In memory because the API runs as one process per deployment; a
 * restart refills every bucket, which errs on the side of serving. Buckets are keyed by the API key id
 * (never the secret), so their number is bounded by the number of keys.
 */
export interface RateLimitDecision {
  ok: boolean;
  /** the bucket's size, for the X-RateLimit-Limit header */
  limit: number;
  /** whole requests left after this one */
  remaining: number;
  /** refused requests: seconds until one request is available again (Retry-After), at least 1 */
  retryAfterS: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(perMinute) || perMinute < 1)
      throw new Error('perMinute must be a positive integer');
    this.perMs = perMinute / 60_000;
  }

  take(key: string): RateLimitDecision {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true, limit: this.perMinute, remaining: Math.floor(bucket.tokens), retryAfterS: 0 };
    }
    const waitMs = (1 - bucket.tokens) / this.perMs;
    return {
      ok: false,
      limit: this.perMinute,
      remaining: 0,
      retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)),
    };
  }
}
