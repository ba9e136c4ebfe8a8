import type { Fix } from '../ingest/fix.ts';

/**
 * The clock the compliance tick judges silence (OFFLINE) against, chosen by COMPLIANCE_CLOCK:
 *
 * - `wall` (the default, production): the machine's clock, held back by the platform's own intake lag
 *   (IntakeLag below: a fix waiting in its queue is not silence). A device is silent when that clock is
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

/** recent fixes the intake lag is the median of */
const LAG_SAMPLES = 512;
/** the most the wall clock is held back: the platform's own queues, not a fleet's clocks, are meant */
export const MAX_LAG_COMPENSATION_MS = 60_000;
/** samples older than this (no fix accepted since) say nothing about the intake now */
const LAG_SAMPLES_FRESH_MS = 10_000;

/**
 * How far behind its devices the platform's intake runs: the median of (received - ts) over the last
 * fixes accepted. Devices report with GNSS-disciplined clocks, so in a healthy platform this is the
 * network's and ingest's few milliseconds; when the platform falls behind (CPU saturated by a load
 * test, a long GC) fixes wait in socket buffers and queues, and it grows to seconds.
 *
 * Why the wall clock subtracts it: silence is "no fix for longer than the allowance", and a fix that
 * is waiting in the platform's own queue is not silence. Judged at the plain wall clock, a platform 25 s
 * behind declared 100,000 devices OFFLINE at once (a load test at 10,000 msg/s on two cores), and the
 * evidence packages for them then kept it behind. Capped at MAX_LAG_COMPENSATION_MS, and dropped when
 * no fix has come for LAG_SAMPLES_FRESH_MS (a fleet-wide silence is judged as one). Late fixes (a
 * device's stored backlog after a coverage gap) are left out: their age is the device's, not the intake's.
 */
export class IntakeLag {
  private readonly samples = new Float64Array(LAG_SAMPLES);
  private count = 0;
  private next = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly wallNow: () => number) {}

  observe(fixes: readonly Fix[]): void {
    for (const fix of fixes) {
      if (fix.late) continue;
      this.samples[this.next] = fix.received - fix.ts;
      this.next = (this.next + 1) % LAG_SAMPLES;
      if (this.count < LAG_SAMPLES) this.count++;
      this.lastAt = this.wallNow();
    }
  }

  /** the median lag, between 0 and MAX_LAG_COMPENSATION_MS; 0 without fresh samples */
  compensationMs(): number {
    if (this.count === 0 || this.wallNow() - this.lastAt > LAG_SAMPLES_FRESH_MS) return 0;
    const sorted = this.samples.slice(0, this.count).sort();
    const median = sorted[this.count >> 1] ?? 0;
    return Math.min(MAX_LAG_COMPENSATION_MS, Math.max(0, median));
  }
}
export type ComplianceClockMode = (typeof COMPLIANCE_CLOCKS)[number];

export interface ComplianceClock {
  readonly mode: ComplianceClockMode;
  /** the instant the tick judges silence at (ms since the epoch; NaN: no time yet) */
  now(): number;
  /** accepted fixes, in order (IngestCore.onFixes): the fleet clock's time, the wall clock's intake lag */
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
  if (mode === 'wall') {
    const lag = new IntakeLag(wallNow);
    return { mode, now: () => wallNow() - lag.compensationMs(), observe: (fixes) => lag.observe(fixes) };
  }
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
