/**
 * The compliance service's timers (compliance/service.ts): its flush, every `flushMs` of the wall clock
 * (commits the engine state, writes to the EventStore once it is open), and its silence tick, which
 * follows the judgement clock. Both unref'd: they never keep a process alive.
 *
 * The judgement clock may run faster than the wall (a fleet clock at 120x), so the tick timer polls it
 * often (every 25 ms at most) and ticks once `tickMs` of its time has passed: a simulated silence of a
 * minute is not skipped over between two wall-clock ticks. On the wall clock this is a tick every tickMs.
 * When the clock went back (the wall clock held back by a growing intake lag) it ticks at once.
 */

export interface ServiceTimerOptions {
  flushMs: number;
  tickMs: number;
  /** the judgement clock */
  now: () => number;
  /** the judgement clock's instant of the last tick */
  lastTickAt: () => number;
  flush: () => void;
  tick: () => void;
}

/** Starts both timers; returns what stops them. */
export function startServiceTimers(o: ServiceTimerOptions): () => void {
  const flushTimer = setInterval(o.flush, o.flushMs);
  flushTimer.unref();
  const tickTimer = setInterval(
    () => {
      const now = o.now();
      if (now - o.lastTickAt() >= o.tickMs || now < o.lastTickAt()) o.tick();
    },
    Math.min(o.tickMs, 25),
  );
  tickTimer.unref();
  return () => {
    clearInterval(flushTimer);
    clearInterval(tickTimer);
  };
}
