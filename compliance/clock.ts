import type { Fix } from '../core/fix.ts';

/**
 * The clock the compliance tick judges silence (OFFLINE) against, chosen by COMPLIANCE_CLOCK:
 *
 * - `wall` (the default, production): the machine's clock, held back by the platform's own intake lag
 *   (IntakeLag below: a fix waiting in its queue is not silence). A device is silent when that clock is
 *   more than its allowance past its last fix.
 * - `fleet` (simulations and replays only): the fleet's own time, read from the fixes it sends: the
 *   median over the devices heard from recently of their newest fix timestamp, each carried forward by
 *   the wall time elapsed since it was accepted, scaled by `speedup` (FleetTime below). A fleet simulated at 60x (or a day of recorded fixes replayed in minutes) carries
 *   timestamps that run ahead of or behind the wall clock; judged by the wall clock every device of it
 *   looks silent (or none does), so OFFLINE cannot be scored. Judged by the fleet's time, a device is
 *   silent when the rest of the fleet has moved on without it. The elapsed-time term keeps the clock
 *   moving when the whole fleet falls quiet (a fleet-wide outage is still an outage); `speedup` is the
 *   rate of the fleet's time to wall time in that case (the simulator's --speedup).
 *   Before the first fix there is no fleet time: `now()` is NaN and the service judges nothing.
 *
 * Why not in production: the fleet's time is only as good as the fleet's clocks (the median takes out a
 * minority of wrong ones, not a fleet whose clocks are all wrong), and a whole fleet replaying the past
 * is not a present to judge by.
 */

export const COMPLIANCE_CLOCKS = ['wall', 'fleet'] as const;

/** recent fixes the intake lag is the median of */
const LAG_SAMPLES = 512;
/** the most the wall clock is held back: the platform's own queues, not a fleet's clocks, are meant */
export const MAX_LAG_COMPENSATION_MS = 60_000;
/** devices that must lag past the cap before the platform counts as behind its own queues */
export const BEHIND_MIN_DEVICES = 10;
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
  private readonly devices: string[] = new Array<string>(LAG_SAMPLES).fill('');
  private count = 0;
  private next = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly wallNow: () => number) {}

  observe(fixes: readonly Fix[]): void {
    for (const fix of fixes) {
      if (fix.late) continue;
      this.samples[this.next] = fix.received - fix.ts;
      this.devices[this.next] = fix.device;
      this.next = (this.next + 1) % LAG_SAMPLES;
      if (this.count < LAG_SAMPLES) this.count++;
      this.lastAt = this.wallNow();
    }
  }

  /** the median lag, between 0 and MAX_LAG_COMPENSATION_MS; 0 without fresh samples */
  compensationMs(): number {
    return Math.min(MAX_LAG_COMPENSATION_MS, this.medianMs());
  }

  /** the median lag, uncapped (0 without fresh samples) */
  medianMs(): number {
    if (this.count === 0 || this.wallNow() - this.lastAt > LAG_SAMPLES_FRESH_MS) return 0;
    const sorted = this.samples.slice(0, this.count).sort();
    return Math.max(0, sorted[this.count >> 1] ?? 0);
  }

  /**
   * The lag when the platform is behind its own queues: the median past MAX_LAG_COMPENSATION_MS, seen on
   * at least BEHIND_MIN_DEVICES devices (undefined otherwise). One device sending its old fixes in order
   * (a backlog after a coverage gap, with no live fix first) lags too, but that is the device's age, not
   * the platform's: a platform that is behind is behind for every device.
   */
  behindMs(): number | undefined {
    const median = this.medianMs();
    if (median <= MAX_LAG_COMPENSATION_MS) return undefined;
    const behind = new Set<string>();
    for (let i = 0; i < this.count; i++) {
      if (this.samples[i]! > MAX_LAG_COMPENSATION_MS) behind.add(this.devices[i]!);
      if (behind.size >= BEHIND_MIN_DEVICES) return median;
    }
    return undefined;
  }
}
/** devices heard from within this much wall time make up the fleet's time */
export const FLEET_RECENT_MS = 10_000;
/** above this many recent devices the median is recomputed at most every FLEET_RECOMPUTE_MS of wall time */
const FLEET_RECOMPUTE_DEVICES = 1024;
const FLEET_RECOMPUTE_MS = 100;

/**
 * The fleet's time for COMPLIANCE_CLOCK=fleet: the MEDIAN over the devices heard from recently (within
 * FLEET_RECENT_MS of wall time) of each one's newest fix timestamp, each carried forward by the wall time
 * since it arrived (times `speedup`). Why a median over devices, not the newest timestamp of any device:
 * one device whose clock ran 90 s ahead moved the whole fleet's time 90 s ahead, and every other truck
 * whose allowance was shorter than that looked silent (issue 17: 342 zero-length OFFLINEs on 14 trucks).
 * A median follows the bulk of the fleet: a minority of skewed clocks (ahead or behind) does not move it,
 * and each device counts once however often it reports. Devices not heard from for FLEET_RECENT_MS drop
 * out, so trucks asleep at the depot do not hold the time back; with none recent, the last time found
 * runs on at `speedup` (a fleet-wide silence is still judged). With two devices the upper one counts
 * (the median of an even count is taken at n/2, as the intake lag's is): one reporting truck and one
 * silent one, the silent one is judged by the other's time.
 *
 * Each device's estimate at wall instant W is ts + (W - at) * speedup = (ts - at * speedup) + W * speedup,
 * so only the offsets k = ts - at * speedup are kept: their median plus W * speedup is the fleet's time,
 * and it changes only when a fix arrives (for a large fleet recomputed at most every FLEET_RECOMPUTE_MS).
 */
export class FleetTime {
  /** device → its newest fix timestamp and the wall instant it was last heard from */
  private readonly devices = new Map<string, { ts: number; at: number }>();
  private medianK = Number.NaN;
  private dirty = false;
  private computedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly wallNow: () => number,
    private readonly speedup: number,
  ) {}

  observe(fixes: readonly Fix[]): void {
    if (fixes.length === 0) return;
    const at = this.wallNow();
    for (const fix of fixes) {
      const d = this.devices.get(fix.device);
      if (d === undefined) this.devices.set(fix.device, { ts: fix.ts, at });
      else if (fix.ts > d.ts) {
        d.ts = fix.ts;
        d.at = at;
      }
      // a backfilled (older) fix neither moves the device's time back nor counts as hearing it now
    }
    this.dirty = true;
  }

  /** the fleet's time (NaN before the first fix) */
  now(): number {
    const wall = this.wallNow();
    if (
      this.dirty &&
      (this.devices.size <= FLEET_RECOMPUTE_DEVICES ||
        wall - this.computedAt >= FLEET_RECOMPUTE_MS ||
        Number.isNaN(this.medianK))
    ) {
      this.recompute(wall);
    }
    return this.medianK + wall * this.speedup;
  }

  private recompute(wall: number): void {
    const ks: number[] = [];
    for (const [device, d] of this.devices) {
      if (wall - d.at > FLEET_RECENT_MS) this.devices.delete(device);
      else ks.push(d.ts - d.at * this.speedup);
    }
    this.computedAt = wall;
    this.dirty = false;
    if (ks.length === 0) return; // nobody recent: the last median runs on
    ks.sort((a, b) => a - b);
    this.medianK = ks[ks.length >> 1]!;
  }
}

export type ComplianceClockMode = (typeof COMPLIANCE_CLOCKS)[number];

export interface ComplianceClock {
  readonly mode: ComplianceClockMode;
  /** the instant the tick judges silence at (ms since the epoch; NaN: no time yet) */
  now(): number;
  /** accepted fixes, in order (IngestCore.onFixes): the fleet clock's time, the wall clock's intake lag */
  observe(fixes: readonly Fix[]): void;
  /**
   * While the intake lags its devices by more than MAX_LAG_COMPENSATION_MS (the wall clock's median of
   * received - ts, on BEHIND_MIN_DEVICES devices at least): the fix time it has caught up to (the wall
   * time less the lag), from which the
   * silence it sees is its own (compliance/platform-outages.ts); undefined otherwise, and always for the
   * fleet clock (its fixes are not meant to be recent).
   */
  behindSince(): number | undefined;
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
    return {
      mode,
      now: () => wallNow() - lag.compensationMs(),
      observe: (fixes) => lag.observe(fixes),
      behindSince: () => {
        const lagMs = lag.behindMs();
        return lagMs === undefined ? undefined : wallNow() - lagMs;
      },
    };
  }
  const speedup = opts.speedup ?? 1;
  if (!(speedup > 0)) throw new Error(`fleet clock speed-up must be > 0, got ${speedup}`);
  const fleet = new FleetTime(wallNow, speedup);
  return {
    mode,
    // Never ahead of the wall clock: a sped-up fleet that has caught up with the present (the demo's
    // catch-up mode) runs at 1x from then on, and its time must not run ahead between its fixes.
    now: () => Math.min(wallNow(), fleet.now()),
    observe: (fixes) => fleet.observe(fixes),
    behindSince: () => undefined,
  };
}
