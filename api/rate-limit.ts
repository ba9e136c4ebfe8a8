/**
 * Per-key token buckets, in memory: each key may make `perMinute` requests in a burst and regains one
 * request every 60/perMinute seconds. In memory because the API runs as one process per deployment; a
 * restart refills every bucket, which errs on the side of serving. Buckets are keyed by the API key id
 * (never the secret), so their number is bounded by the number of keys.
 *
 * Not @fastify/rate-limit, measured: with it (its handler called in the bearer check, counting in a
 * token-bucket store of ours, since its own fixed windows would turn a client away for up to a
 * minute) a GET of one position cost 7 % more CPU (126.6 against 118.0 us a request, the two APIs
 * side by side in one process through inject; the same without a limit: 106.1 against
 * 105.8), because its check is a chain of promises per request. That request is the API's benchmark
 * (`api_ratio`, issue 11 item 7), and the limit is on by default (API_RATE_LIMIT).
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
