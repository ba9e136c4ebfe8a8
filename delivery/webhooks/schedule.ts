/**
 * When to try a failed delivery again. Pure: randomness comes in as a number in [0, 1).
 *
 * Exponential backoff with "equal jitter": the n-th retry waits between half and all of
 * `min(maxMs, baseMs * factor^(n-1))`. The jitter spreads receivers' retries apart after a shared outage
 * (Standard Webhooks, "Deliverability and reliability"); the half that is never random keeps the
 * schedule growing, so a dead receiver is not hammered.
 */

export interface RetryPolicy {
  /** attempts in all, the first included; after the last failed one the delivery is dead-lettered */
  maxAttempts: number;
  /** delay before the first retry (before jitter) */
  baseMs: number;
  /** no delay is longer, Retry-After included */
  maxMs: number;
  /** growth per retry */
  factor: number;
}

/** 8 attempts: about 5 s, 20 s, 80 s, 5 min, 21 min, 85 min and 5.7 h after each failure (before jitter). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseMs: 5_000,
  maxMs: 6 * 3_600_000,
  factor: 4,
};

export type NextStep = { kind: 'retry'; delayMs: number } | { kind: 'dead' };

/**
 * After `failedAttempts` failures (>= 1): dead when they used up the policy, else the delay before the
 * next one. A receiver's Retry-After (ms) lengthens the delay, never shortens it, within maxMs.
 */
export function nextStep(
  failedAttempts: number,
  policy: RetryPolicy,
  random: number,
  retryAfterMs?: number,
): NextStep {
  if (failedAttempts >= policy.maxAttempts) return { kind: 'dead' };
  const exp = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, failedAttempts - 1));
  const jittered = exp / 2 + (Math.min(Math.max(random, 0), 1) * exp) / 2;
  const delayMs = Math.min(policy.maxMs, Math.max(jittered, retryAfterMs ?? 0));
  return { kind: 'retry', delayMs: Math.round(delayMs) };
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
