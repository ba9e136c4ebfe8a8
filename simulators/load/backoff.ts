/**
 * Reconnect delays of the load generator: exponential backoff with jitter. After a broker restart a whole
 * fleet loses its connections at the same instant; retrying on a fixed period would bring every device
 * back in the same few milliseconds (and, on the platform, queue the same burst of scrypt checks), again
 * and again while the broker is down. Doubling spreads the attempts out while the outage lasts; the
 * random half of each delay de-synchronises the fleet.
 *
 * attempt 0 waits between minMs/2 and minMs, attempt k between d/2 and d with d = min(maxMs, minMs 2^k).
 */
export function backoffDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
