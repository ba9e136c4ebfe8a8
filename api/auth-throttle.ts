import ipaddr from 'ipaddr.js';

/**
 * Throttling of failed bearer authentications (OWASP ASVS V2.2.1, "anti-automation"), pure: the clock
 * comes in, nothing is logged or measured here (api/auth.ts does both).
 *
 * Failures are counted in token buckets of two kinds, each allowing `perMinute` failures in a burst and
 * regaining one every 60/perMinute s:
 *  - per source address: one client guessing. IPv6 clients are counted per /64, the smallest prefix a
 *    site is given (RFC 6177), so one client cannot rotate through its own addresses;
 *  - per token prefix (the first 8 characters, `cwk_` and the 4 a key's `hint` shows): many addresses
 *    working on one key.
 * While either bucket of a request is empty, that request is throttled (429 with Retry-After). The
 * buckets live in memory and are bounded (`maxEntries`, full buckets go first, then the oldest), since
 * their keys come from the attacker.
 *
 * Not @fastify/rate-limit: it counts every request it sees, where this counts failures only,
 * checked before and counted after the bearer check; it keeps one counter per request, where this
 * keeps two (address and prefix) and refuses on either; and a throttled address must still be served
 * with a valid API key (api/auth.ts), which a limiter in front of authentication cannot know.
 */

export interface ThrottleDecision {
  /** which bucket is empty */
  by: 'address' | 'prefix';
  /** seconds until it allows a failure again (at least 1) */
  retryAfterS: number;
}

/** How many characters of a presented token make its prefix: `cwk_` + the 4 of a key's hint. */
export const TOKEN_PREFIX_LENGTH = 8;

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by string key, bounded in number. */
class Buckets {
  private readonly map = new Map<string, Bucket>();
  constructor(
    private readonly size: number,
    private readonly perMs: number,
    private readonly maxEntries: number,
  ) {}

  private refill(b: Bucket, now: number): void {
    b.tokens = Math.min(this.size, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
  }

  /** ms until one token is available, 0 when one is */
  waitMs(key: string, now: number): number {
    const b = this.map.get(key);
    if (!b) return 0;
    this.refill(b, now);
    return b.tokens >= 1 ? 0 : (1 - b.tokens) / this.perMs;
  }

  take(key: string, now: number): void {
    let b = this.map.get(key);
    if (!b) {
      this.evict(now);
      b = { tokens: this.size, at: now };
      this.map.set(key, b);
    }
    this.refill(b, now);
    b.tokens = Math.max(0, b.tokens - 1);
    // most recently failed last, so eviction takes the quietest first
    this.map.delete(key);
    this.map.set(key, b);
  }

  private evict(now: number): void {
    if (this.map.size < this.maxEntries) return;
    for (const [key, b] of this.map) {
      this.refill(b, now);
      if (b.tokens >= this.size) this.map.delete(key);
    }
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get entries(): number {
    return this.map.size;
  }
}

export interface AuthThrottleOptions {
  /** failures per minute (and burst) per address and per prefix */
  perMinute: number;
  /** buckets of each kind kept at most (default 100,000) */
  maxEntries?: number;
  now?: () => number;
}

export class AuthFailureThrottle {
  private readonly byAddress: Buckets;
  private readonly byPrefix: Buckets;
  private readonly now: () => number;

  constructor(options: AuthThrottleOptions) {
    if (!Number.isInteger(options.perMinute) || options.perMinute < 1)
      throw new Error('perMinute must be a positive integer');
    const perMs = options.perMinute / 60_000;
    const max = options.maxEntries ?? 100_000;
    this.byAddress = new Buckets(options.perMinute, perMs, max);
    this.byPrefix = new Buckets(options.perMinute, perMs, max);
    this.now = options.now ?? Date.now;
  }

  /** Throttled, and why, or undefined; consumes nothing. */
  check(address: string, token: string | undefined): ThrottleDecision | undefined {
    const now = this.now();
    const a = this.byAddress.waitMs(addressKey(address), now);
    const p = token === undefined ? 0 : this.byPrefix.waitMs(prefixOf(token), now);
    if (a === 0 && p === 0) return undefined;
    return { by: a >= p ? 'address' : 'prefix', retryAfterS: Math.max(1, Math.ceil(Math.max(a, p) / 1000)) };
  }

  /** Counts one failed authentication against the address and the token's prefix. */
  fail(address: string, token: string | undefined): void {
    const now = this.now();
    this.byAddress.take(addressKey(address), now);
    if (token !== undefined) this.byPrefix.take(prefixOf(token), now);
  }

  /** buckets held (for tests and metrics) */
  size(): { addresses: number; prefixes: number } {
    return { addresses: this.byAddress.entries, prefixes: this.byPrefix.entries };
  }
}

export function prefixOf(token: string): string {
  return token.slice(0, TOKEN_PREFIX_LENGTH);
}

/** The bucket of a source address: IPv4 (also when IPv4-mapped) as is, IPv6 by its /64. */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const addr = ipaddr.process(address);
  if (addr.kind() === 'ipv4') return addr.toString();
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}
