/**
 * The last writes of a stopping compliance service (compliance/service.ts stop): the outbox is written
 * to the EventStore try after try until it is empty or the shutdown's deadline has passed. A hung
 * EventStore must not hold the shutdown: each try is waited for only until the deadline, and what is not
 * written stays in the outbox (durable) for the next start.
 *
 * The timers here are ref'd: once the servers are closed they are what keeps the process alive while it
 * stops (the jobs' own timers are unref'd), else the loop empties and the process quits mid-stop.
 */

/** Pause between two tries. */
const RETRY_MS = 100;

/** Calls `flush` while `queued()` is above 0 and the deadline (epoch ms) is ahead. */
export async function drainUntil(
  queued: () => number,
  flush: () => Promise<void>,
  deadline: number,
): Promise<void> {
  while (queued() > 0 && Date.now() < deadline) {
    await within(flush(), deadline - Date.now());
    if (queued() > 0 && Date.now() < deadline) await sleep(RETRY_MS);
  }
}

/** Waits for `work`, at most `ms` (a ref'd timer, cleared as soon as the work is done). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A ref'd timer (see the header). */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
