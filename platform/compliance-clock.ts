import type { Fix } from '../ingest/fix.ts';

/**
 * The clock the compliance tick judges silence (OFFLINE) against, chosen by COMPLIANCE_CLOCK:
 *
 * - `wall` (the default, production): the machine's clock. A device is silent when the wall clock is
 *   more than its allowance past its last fix.
 * - `fleet` (simulations and replays only): the fleet's own time, read from the fixes it sends: the
 *   newest fix timestamp accepted so far, plus the wall time elapsed since it was accepted, scaled by
 *   `speedup`. A fleet simulated at 60x (or a day of recorded fixes replayed in minutes) carries
 *   timestamps that run ahead of or behind the wall clock; judged by the wall clock every device of it
 *   looks silent (or none does), so OFFLINE cannot be scored. Judged by the fleet's time, a device is
 *   silent when the rest of the fleet has moved on without it. The elapsed-time term keeps the clock
 *   moving when the whole fleet falls quiet (a fleet-wide outage is still an outage); `speedup` is the
 *   rate of the fleet's time to wall time in that case (the simulator's --speedup).
 *   Before the first fix there is no fleet time: `now()` is NaN and the service judges nothing.
 *
 * Why not in production: one device with a clock set in the future would move everyone's time forward
 * (ingest refuses fixes beyond MAX_FUTURE_SKEW_S, which bounds but does not remove that).
 */

export const COMPLIANCE_CLOCKS = ['wall', 'fleet'] as const;
export type ComplianceClockMode = (typeof COMPLIANCE_CLOCKS)[number];

export interface ComplianceClock {
  readonly mode: ComplianceClockMode;
  /** the instant the tick judges silence at (ms since the epoch; NaN: no time yet) */
  now(): number;
  /** accepted fixes, in order (IngestCore.onFixes); the wall clock ignores them */
  observe(fixes: readonly Fix[]): void;
}

export interface ComplianceClockOptions {
  /** fleet time per wall time while no newer fix arrives (default 1) */
  speedup?: number;
  /** the wall clock (tests inject one) */
  wallNow?: () => number;
}

export function createComplianceClock(
  mode: ComplianceClockMode,
  opts: ComplianceClockOptions = {},
): ComplianceClock {
  const wallNow = opts.wallNow ?? Date.now;
  if (mode === 'wall') return { mode, now: wallNow, observe: () => undefined };
  const speedup = opts.speedup ?? 1;
  if (!(speedup > 0)) throw new Error(`fleet clock speed-up must be > 0, got ${speedup}`);
  let newestTs = Number.NaN;
  let newestAt = 0;
  return {
    mode,
    // Never ahead of the wall clock: a sped-up fleet that has caught up with the present (the demo's
    // catch-up mode) runs at 1x from then on, and its time must not run ahead between its fixes.
    now: () => Math.min(wallNow(), newestTs + (wallNow() - newestAt) * speedup),
    observe(fixes) {
      let max = newestTs;
      for (const fix of fixes) if (!(fix.ts <= max)) max = fix.ts;
      if (max !== newestTs) {
        newestTs = max;
        newestAt = wallNow();
      }
    },
  };
}
