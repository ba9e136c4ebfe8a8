import { inAnyPolygon } from '../../shared/geo.ts';
import type { LatLon } from '../../shared/tracks.ts';
import type { AddTruth } from './truths.ts';
import {
  type CompiledPermit,
  loadedOf,
  type OracleThresholds,
  type OracleWorld,
  type TrueState,
} from './world.ts';

/**
 * A muck truck's cargo as the ground-truth oracle follows it (oracle.ts has the definitions): loadings and
 * unloadings (one per load, a cargo latch), and the truths they make, NO_PERMIT, ILLEGAL_DUMP and
 * WRONG_SITE, and SPILLAGE (an open cover while moving, or weight lost on the way).
 */
export class CargoOracle {
  // cargo latch (-1 unknown, 0 empty, 1 loaded) and the open NO_PERMIT
  private latch = -1;
  /** lowest and highest weight since the truck last moved (-1 unknown) */
  private stoppedLo = -1;
  private stoppedHi = -1;
  private noPermit: number | undefined;
  /** a loaded movement without a permit in force, not yet long enough */
  private noPermitRun: number | undefined;
  // SPILLAGE
  private coverSince = -1;
  /** weight at the first step of the moving run that began loaded (-1 none), the loss's onset and state */
  private weightRef = -1;
  private lossSince = -1;
  private lossOn = false;
  private spill: { start: number } | undefined;

  constructor(
    private readonly world: OracleWorld,
    private readonly th: OracleThresholds,
    private readonly add: AddTruth,
  ) {}

  /** True while a NO_PERMIT or SPILLAGE condition holds. */
  alarm(): boolean {
    return (
      this.noPermit !== undefined ||
      this.noPermitRun !== undefined ||
      this.coverSince >= 0 ||
      this.spill !== undefined
    );
  }

  /** A NO_PERMIT still going on at the end of the run, without an end. */
  finishNoPermit(): void {
    if (this.noPermit !== undefined) this.add('NO_PERMIT', this.noPermit, undefined);
  }

  /** A SPILLAGE still going on at the end of the run, without an end. */
  finishSpill(): void {
    if (this.spill) this.add('SPILLAGE', this.spill.start, undefined);
  }

  /**
   * Loadings and unloadings (domain.md): loading = load empty -> half/full, or the weight rising more than
   * dumpWeightDropT while stopped; unloading = lift up, or, while stopped, load -> empty or the weight
   * falling more than dumpWeightDropT. A cargo latch makes one unloading per load (and one loading per
   * unloading), whichever signal comes first. "While stopped": against the lowest (highest) weight since
   * the truck last moved.
   */
  loadEvents(s: TrueState, prev: TrueState | undefined, pos: LatLon, valid: CompiledPermit[]): void {
    const p = prev;
    const hasCargo = loadedOf(s, this.th);
    const stopped = s.speed < this.th.suspectedDumpSpeedKmh;
    const w = s.weight;
    if (!stopped || w === undefined) {
      this.stoppedLo = stopped ? this.stoppedLo : (w ?? -1);
      this.stoppedHi = stopped ? this.stoppedHi : (w ?? -1);
    } else {
      this.stoppedLo = this.stoppedLo < 0 ? w : Math.min(this.stoppedLo, w);
      this.stoppedHi = this.stoppedHi < 0 ? w : Math.max(this.stoppedHi, w);
    }
    if (this.latch < 0 || p === undefined) {
      this.latch = hasCargo ? 1 : 0;
      return;
    }
    const drop =
      stopped && w !== undefined && this.stoppedHi >= 0 && this.stoppedHi - w > this.th.dumpWeightDropT;
    const rise =
      stopped && w !== undefined && this.stoppedLo >= 0 && w - this.stoppedLo > this.th.dumpWeightDropT;
    const liftUp = p.lift === 'down' && s.lift === 'up';
    const emptied = stopped && p.load !== undefined && p.load !== 'empty' && s.load === 'empty';
    let event: 'loading' | 'unloading' | undefined;
    if (this.latch === 1 && (liftUp || emptied || drop)) {
      event = 'unloading';
      this.latch = 0;
    } else if (
      this.latch === 0 &&
      ((p.load === 'empty' && s.load !== undefined && s.load !== 'empty') || rise)
    ) {
      event = 'loading';
      this.latch = 1;
    }
    if (event !== undefined) {
      this.stoppedLo = w ?? -1;
      this.stoppedHi = w ?? -1;
    }
    if (this.noPermit !== undefined && (event === 'unloading' || valid.length > 0)) {
      this.add('NO_PERMIT', this.noPermit, s.ts);
      this.noPermit = undefined;
    }
    if (event === undefined) return;
    const here = this.world.sites.filter((x) => inAnyPolygon(x.polygons, pos));
    if (event === 'loading') {
      if (valid.length === 0 && this.noPermit === undefined) {
        this.noPermit = s.ts;
        this.noPermitRun = undefined;
      }
      const origins = here.filter((x) => x.kind === 'origin');
      const named = new Set(valid.flatMap((v) => v.permit.origins));
      if (valid.length > 0 && origins.length > 0 && !origins.some((x) => named.has(x.id)))
        this.add('WRONG_SITE', s.ts, s.ts, { action: 'loading', site: origins[0]!.id });
      return;
    }
    const disposals = here.filter((x) => x.kind === 'disposal');
    if (disposals.length === 0) {
      this.add('ILLEGAL_DUMP', s.ts, s.ts);
      return;
    }
    const named = new Set(valid.flatMap((v) => v.permit.disposals));
    if (valid.length > 0 && !disposals.some((x) => named.has(x.id)))
      this.add('WRONG_SITE', s.ts, s.ts, { action: 'unloading', site: disposals[0]!.id });
  }

  /** NO_PERMIT by loaded movement without a permit in force (after loadEvents at the same step). */
  noPermitMoving(s: TrueState, loaded: boolean, valid: CompiledPermit[]): void {
    if (this.noPermit !== undefined) return;
    if (!loaded || valid.length > 0 || this.latch !== 1) {
      this.noPermitRun = undefined;
      return;
    }
    const moving = s.speed > this.th.offHoursSpeedKmh;
    if (this.noPermitRun === undefined) {
      if (moving) this.noPermitRun = s.ts;
      return;
    }
    if (moving && s.ts - this.noPermitRun >= this.th.noPermitMovingMinMs) {
      this.noPermit = this.noPermitRun;
      this.noPermitRun = undefined;
    }
  }

  spillage(s: TrueState, prev: TrueState | undefined, loaded: boolean): void {
    const moving = s.speed > this.th.spillageSpeedKmh;
    if (loaded && moving && s.cover === 'open') {
      if (this.coverSince < 0) this.coverSince = s.ts;
    } else {
      this.coverSince = -1;
    }
    const coverOn = this.coverSince >= 0 && s.ts - this.coverSince >= this.th.spillageMinMs;
    const weightOn = this.weightLoss(s, prev, moving);
    const active = coverOn || weightOn;
    if (active && this.spill === undefined) {
      const start =
        coverOn && (!weightOn || this.coverSince <= this.lossSince) ? this.coverSince : this.lossSince;
      this.spill = { start };
    } else if (!active && this.spill !== undefined) {
      this.add('SPILLAGE', this.spill.start, s.ts);
      this.spill = undefined;
    }
    if (!moving && this.lossOn) {
      // the run of a confirmed loss ended (after counting it at this step if it was confirmed here)
      this.lossOn = false;
      this.lossSince = -1;
      this.weightRef = -1;
    }
  }

  /** The weight-loss part of SPILLAGE: whether a confirmed loss is in force at this step. */
  private weightLoss(s: TrueState, prev: TrueState | undefined, moving: boolean): boolean {
    const limit = this.th.spillageWeightDropT;
    if (s.lift === 'up') {
      this.weightRef = -1;
      this.lossSince = -1;
      this.lossOn = false;
      return false;
    }
    const w = s.weight;
    let confirmedNow = false;
    if (this.lossSince >= 0 && !this.lossOn && w !== undefined) {
      if (!(this.weightRef - w > limit / 2)) {
        this.lossSince = -1; // back: not a loss
      } else if (s.ts - this.lossSince >= this.th.sensorConfirmMs) {
        this.lossOn = true;
        confirmedNow = true;
      }
    }
    const on = this.lossOn && (moving || confirmedNow);
    if (!moving) {
      if (this.lossSince < 0) this.weightRef = -1;
    } else if (w !== undefined && this.lossSince < 0) {
      if (this.weightRef < 0) {
        if (this.latch === 1 && this.stoppedBefore(prev)) this.weightRef = w;
      } else if (this.weightRef - w > limit) {
        this.lossSince = s.ts;
      }
    }
    return on;
  }

  /** The weight reference is the first step of a moving run (the previous step was stopped or absent). */
  private stoppedBefore(p: TrueState | undefined): boolean {
    return p === undefined || !(p.speed > this.th.spillageSpeedKmh) || p.lift === 'up';
  }
}
