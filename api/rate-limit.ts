import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { AUTH_PROBLEM_TYPES, type KeyRateLimit } from './auth.ts';
import { HttpProblem } from './problem.ts';

/**
 * The per-key request budget (API_RATE_LIMIT), by @fastify/rate-limit: it keys the request, counts it
 * in a store, sets X-RateLimit-Limit, -Remaining, -Reset and Retry-After, and refuses with 429.
 *
 * The counting is a token bucket of our own (its store interface): each key may make `perMinute`
 * requests in a burst and regains one every 60/perMinute seconds, so a refused client may retry in a
 * few seconds. The plugin's own store counts fixed windows, which would turn away a client that spent
 * its budget for up to a whole minute. Buckets are in memory because the API runs as one process per
 * deployment (a restart refills every bucket, which errs on the side of serving), keyed by the API key
 * id (never the secret), so their number is bounded by the number of keys.
 *
 * The limiter runs inside the bearer check (api/auth.ts), between knowing the key and checking the
 * route's scope, so refused requests (403) are limited too; hence `global: false` and the handler the
 * plugin builds (`app.rateLimit()`), not a hook on every route.
 */

const WINDOW_MS = 60_000;

/** The plugin's store interface, counting in token buckets: `current` requests spent of `max`. */
class TokenBucketStore implements FastifyRateLimitStore {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void {
    const now = Date.now();
    const perMs = max / timeWindow;
    const bucket = this.buckets.get(key) ?? { tokens: max, at: now };
    bucket.tokens = Math.min(max, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      // remaining = max - current: the whole requests left; ttl: until the bucket is full again
      callback(null, { current: max - Math.floor(bucket.tokens), ttl: (max - bucket.tokens) / perMs });
      return;
    }
    // over the budget; ttl: until one request is available again (Retry-After, at least 1 s)
    callback(null, { current: max + 1, ttl: Math.max(1000, (1 - bucket.tokens) / perMs) });
  }

  child(): FastifyRateLimitStore {
    return this;
  }
}

/** Registers the plugin in `app` (the /api/v1 scope) and returns its handler for the bearer check. */
export async function keyRateLimit(app: FastifyInstance, perMinute: number): Promise<KeyRateLimit> {
  if (!Number.isInteger(perMinute) || perMinute < 1) throw new Error('perMinute must be a positive integer');
  // the store is the plugin's, given at registration (a handler's own `store` option is not used)
  await app.register(rateLimit, { global: false, store: TokenBucketStore });
  return app.rateLimit({
    max: perMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => request.principal.keyId,
    errorResponseBuilder: (_request, context) => {
      const retryAfterS = Math.max(1, Math.ceil(context.ttl / 1000));
      return new HttpProblem({
        status: 429,
        type: AUTH_PROBLEM_TYPES.rateLimited,
        title: 'Too many requests',
        detail: `This key may make ${context.max} requests per minute; retry in ${retryAfterS} s.`,
        headers: { 'retry-after': String(retryAfterS) },
      });
    },
  }) as unknown as KeyRateLimit;
}
