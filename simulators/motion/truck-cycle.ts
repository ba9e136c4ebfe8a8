import type { MuckTruckFixPayload } from '../../ingest/payload.ts';
import type { Rng } from '../shared/rng.ts';
import type { LatLon, Polyline } from '../shared/tracks.ts';
import { type Behaviour, type FixBody, GnssState, GPS_NOISE_SD_M } from './behaviour.ts';

/**
 * The muck-truck motion model of the compliance scenarios: a trip cycle of legs (load at the origin,
 * drive, unload, drive back), each leg able to carry a twist (a detour line, an open cover, a fast
 * stretch, a silence, a leak). The demo scenario trucks (demo/scenario-trucks.ts) and the fleet simulator
 * (scenario/fleet-sim.ts, whose trips change from one cycle to the next) both drive this one model.
 */

export type Dwell = {
  type: 'dwell';
  action: 'load' | 'unload';
  at: LatLon;
  minMs: number;
  maxMs: number;
};
export type Park = {
  type: 'park';
  minMs: number;
  maxMs: number;
  /** ignition during the stop (default on) */
  ign?: boolean;
  /**
   * the terminal goes silent after the first fix of the stop for a duration drawn in [min, max] (the
   * park's own duration is then that plus 40 s: it reports again, still parked, before it leaves)
   */
  silentMs?: readonly [number, number];
};
export type Drive = {
  type: 'drive';
  line: Polyline;
  /** cover open on [fromM, toM) */
  coverOpen?: readonly [number, number];
  /** speed band on [fromM, toM) */
  fast?: { fromM: number; toM: number; minKmh: number; maxKmh: number };
  /** the terminal goes silent once past atM, for a duration drawn in [minMs, maxMs] */
  silence?: { atM: number; minMs: number; maxMs: number };
  /**
   * a blind area (no coverage) once past atM, for a duration drawn in [minMs, maxMs]: the terminal
   * records its fixes but cannot send them (`blind`); the fleet simulator uploads them late
   */
  blind?: { atM: number; minMs: number; maxMs: number };
  /** load escaping on [fromM, toM): totalT tonnes lost, evenly over the distance (weight-loss spillage) */
  leak?: { fromM: number; toM: number; totalT: number };
  /** no red-light stops on [fromM, toM) (keeps a twist in one piece) */
  calm?: readonly [number, number];
};
export type Leg = Dwell | Park | Drive;

export interface TruckCycle {
  legs: Leg[];
  /** index of the leg the truck starts in (first cycle only; later cycles start with leg 0) */
  start: number;
  /** full load as a fraction of the rated load */
  fullRange: [number, number];
}

const MIN = 60_000;
export const LOAD_DWELL = { minMs: 4 * MIN, maxMs: 8 * MIN };
export const UNLOAD_DWELL = { minMs: 2 * MIN, maxMs: 4 * MIN };
/** the demo trucks' speed band (behaviour.ts), km/h */
export const BAND = { minKmh: 20, maxKmh: 50, cornerKmh: 22 };
/** a vertex turning more than this (degrees) is a corner the truck slows for */
const CORNER_DEG = 30;

const round = (v: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const within = (d: number, r: readonly [number, number] | undefined): boolean =>
  r !== undefined && d >= r[0] && d < r[1];

/** Distances along a line of the vertices where it turns by more than CORNER_DEG. */
export function cornersOf(line: Polyline): number[] {
  const out: number[] = [];
  for (let i = 1; i + 1 < line.points.length; i++) {
    const h1 = line.at((line.cumulative[i] as number) - 0.01).heading;
    const h2 = line.at((line.cumulative[i] as number) + 0.01).heading;
    const turn = Math.abs(((h2 - h1 + 540) % 360) - 180);
    if (turn > CORNER_DEG) out.push(line.cumulative[i] as number);
  }
  return out;
}

export interface CycleTruckOptions {
  /** the haul route (origin first); the behaviour's `track` */
  track: Polyline;
  ratedLoadT: number;
  cycle: TruckCycle;
  /**
   * The next trip's cycle, asked when a cycle ends (after its last leg). Absent: the same cycle repeats.
   * `trip` counts from 1 (the first cycle is trip 0).
   */
  nextCycle?: (trip: number) => TruckCycle;
  /** fraction of the first leg already done when the first leg is a dwell or a park (0..0.95) */
  startProgress?: number;
  /** per-axis GNSS noise of the reported positions, metres (default GPS_NOISE_SD_M; 0 = true positions) */
  gnssNoiseSdM?: number;
}

/**
 * A muck truck driving trip cycles. Pure: `step(dtMs)` advances it and returns the fix; `silent` says
 * whether that fix is sent. The same rng seed and step sizes give the same fixes.
 */
export class CycleTruckBehaviour implements Behaviour<MuckTruckFixPayload> {
  readonly kind = 'muck_truck' as const;
  readonly track: Polyline;
  silent = false;
  /** the fix of the last step was recorded in a blind area: kept by the terminal, sent later */
  blind = false;
  /** trips begun so far, the first one included */
  trip = 0;
  private cycle: TruckCycle;
  private readonly nextCycle: ((trip: number) => TruckCycle) | undefined;
  private readonly rated: number;
  private readonly gnss: GnssState;
  private legIndex: number;
  private startProgress: number;
  // dwell / park
  private elapsedMs = 0;
  private totalMs = 0;
  // drive
  private distanceM = 0;
  private speedKmh = 0;
  private targetKmh = 0;
  private corners: number[] = [];
  private redLightMs = 0;
  private silenceLeftMs = 0;
  /** a silence that starts after the current step (a silent park: its first fix is sent) */
  private silenceNextMs = 0;
  private silenceDone = false;
  private blindLeftMs = 0;
  private blindDone = false;
  private leakedT = 0;
  // cargo
  private fullT: number;
  private weightT = 0;
  private cargo = false;
  private heading = 0;
  private pos: LatLon;

  constructor(
    private readonly rng: Rng,
    opts: CycleTruckOptions,
  ) {
    this.rated = opts.ratedLoadT;
    this.cycle = opts.cycle;
    this.nextCycle = opts.nextCycle;
    this.track = opts.track;
    this.startProgress = clamp(opts.startProgress ?? 0, 0, 0.95);
    this.gnss = new GnssState(rng, 32, [4, 9], opts.gnssNoiseSdM ?? GPS_NOISE_SD_M);
    this.fullT = this.sampleFull();
    this.legIndex = this.cycle.start;
    // Trucks that start on the road start loaded after their loading, or empty after their unloading.
    const startLeg = this.cycle.legs[this.legIndex] as Leg;
    this.cargo = this.legIndex > 0 && this.legIndex < this.cycle.legs.length - 1;
    this.weightT = this.cargo ? this.fullT : 0;
    this.pos = startLeg.type === 'drive' ? (startLeg.line.points[0] as LatLon) : this.track.points[0]!;
    this.enter();
  }

  /** the leg the truck is in (for the fleet simulator's bookkeeping) */
  get currentLeg(): Leg {
    return this.cycle.legs[this.legIndex] as Leg;
  }

  /** metres left of the drive leg it is in (0 outside drive legs) */
  get remainingM(): number {
    const leg = this.currentLeg;
    return leg.type === 'drive' ? Math.max(0, leg.line.lengthM - this.distanceM) : 0;
  }

  /** whether it carries a load now (true state) */
  get loaded(): boolean {
    return this.cargo;
  }

  private sampleFull(): number {
    const [lo, hi] = this.cycle.fullRange;
    return round(this.rated * this.rng.range(lo, hi), 2);
  }

  private get leg(): Leg {
    return this.cycle.legs[this.legIndex] as Leg;
  }

  private enter(): void {
    const leg = this.leg;
    this.elapsedMs = 0;
    if (leg.type === 'drive') {
      this.distanceM = 0;
      this.speedKmh = 0;
      this.targetKmh = this.rng.range(BAND.minKmh, BAND.maxKmh);
      this.corners = cornersOf(leg.line);
      this.redLightMs = 0;
      this.silenceDone = false;
      this.blindDone = false;
      this.leakedT = 0;
      this.heading = Math.round(leg.line.at(0).heading) % 360;
    } else {
      this.totalMs = this.rng.range(leg.minMs, leg.maxMs);
      if (leg.type === 'park' && leg.silentMs !== undefined) {
        this.silenceNextMs = this.rng.range(leg.silentMs[0], leg.silentMs[1]);
        this.totalMs = this.silenceNextMs + 40_000;
      }
      if (leg.type === 'dwell') this.pos = leg.at;
      if (this.startProgress > 0) this.elapsedMs = this.totalMs * this.startProgress;
    }
    this.startProgress = 0;
  }

  private advanceLeg(): void {
    this.legIndex = (this.legIndex + 1) % this.cycle.legs.length;
    if (this.legIndex === 0 && this.nextCycle !== undefined) {
      this.trip++;
      const next = this.nextCycle(this.trip);
      const rangeChanged =
        next.fullRange[0] !== this.cycle.fullRange[0] || next.fullRange[1] !== this.cycle.fullRange[1];
      this.cycle = next;
      // the load of the coming trip follows its own range (an overload trip loads more)
      if (rangeChanged) this.fullT = this.sampleFull();
    }
    this.enter();
  }

  step(dtMs: number): FixBody<MuckTruckFixPayload> {
    if (this.silenceLeftMs > 0) this.silenceLeftMs -= dtMs;
    if (this.blindLeftMs > 0) this.blindLeftMs -= dtMs;
    const leg = this.leg;
    let body: FixBody<MuckTruckFixPayload>;
    if (leg.type === 'dwell') body = this.dwellStep(leg, dtMs);
    else if (leg.type === 'park') body = this.parkStep(leg, dtMs);
    else body = this.driveStep(leg, dtMs);
    this.silent = this.silenceLeftMs > 0;
    this.blind = !this.silent && this.blindLeftMs > 0;
    if (this.silenceNextMs > 0 && leg.type === 'park') {
      this.silenceLeftMs = this.silenceNextMs;
      this.silenceNextMs = 0;
    }
    return body;
  }

  private fix(pos: LatLon, speed: number, over: Partial<FixBody<MuckTruckFixPayload>>) {
    return {
      ...this.gnss.fields(pos),
      speed: round(speed, 1),
      heading: this.heading,
      ign: true,
      load: this.cargo ? ('full' as const) : ('empty' as const),
      weight: round(Math.max(0, (this.cargo ? this.weightT : 0) + this.rng.normal(0, 0.03)), 2),
      cover: 'closed' as const,
      lift: 'down' as const,
      doors: 'closed' as const,
      ...over,
    };
  }

  /** Loading or tipping while stopped (the same profile as the demo trucks of behaviour.ts). */
  private dwellStep(leg: Dwell, dtMs: number): FixBody<MuckTruckFixPayload> {
    this.elapsedMs += dtMs;
    const f = clamp(this.elapsedMs / this.totalMs, 0, 1);
    const loading = leg.action === 'load';
    this.weightT = loading ? this.fullT * f : this.fullT * (1 - f);
    const load = f < 0.2 ? (loading ? 'empty' : 'full') : f < 0.8 ? 'half' : loading ? 'full' : 'empty';
    const open = f > 0.05 && f < 0.95;
    const body = this.fix(leg.at, 0, {
      load: f >= 1 ? (loading ? 'full' : 'empty') : load,
      weight: round(Math.max(0, this.weightT + this.rng.normal(0, 0.03)), 2),
      cover: open ? 'open' : 'closed',
      lift: !loading && open ? 'up' : 'down',
    });
    if (f >= 1) {
      this.cargo = loading;
      if (!loading) {
        this.weightT = 0;
        this.fullT = this.sampleFull();
      }
      this.advanceLeg();
    }
    return body;
  }

  /** A stop (loaded at the roadside, or parked): engine on unless the leg says off, nothing moves. */
  private parkStep(leg: Park, dtMs: number): FixBody<MuckTruckFixPayload> {
    this.elapsedMs += dtMs;
    const body = this.fix(this.pos, 0, leg.ign === false ? { ign: false } : {});
    if (this.elapsedMs >= this.totalMs) this.advanceLeg();
    return body;
  }

  private driveStep(leg: Drive, dtMs: number): FixBody<MuckTruckFixPayload> {
    const line = leg.line;
    let speed = 0;
    if (this.redLightMs > 0) {
      this.redLightMs -= dtMs;
    } else {
      const d = this.distanceM;
      const fast = leg.fast && d >= leg.fast.fromM && d < leg.fast.toM ? leg.fast : undefined;
      const minKmh = fast?.minKmh ?? BAND.minKmh;
      const maxKmh = fast?.maxKmh ?? BAND.maxKmh;
      if (this.rng.chance(0.15)) this.targetKmh = this.rng.range(BAND.minKmh, BAND.maxKmh);
      const nearCorner = !fast && this.corners.some((c) => c >= d && c - d < 40);
      const goal = clamp(
        nearCorner ? Math.min(this.targetKmh, BAND.cornerKmh) : this.targetKmh,
        minKmh,
        maxKmh,
      );
      const previous = this.speedKmh === 0 ? goal : this.speedKmh;
      this.speedKmh = clamp(previous + (goal - previous) * 0.6 + this.rng.normal(0, 1), minKmh, maxKmh);
      this.distanceM = Math.min(line.lengthM, d + (((previous + this.speedKmh) / 2) * dtMs) / 3600);
      speed = this.speedKmh;
      this.heading = Math.round(line.at(this.distanceM).heading) % 360;
      if (leg.silence && !this.silenceDone && this.distanceM >= leg.silence.atM) {
        this.silenceDone = true;
        this.silenceLeftMs = this.rng.range(leg.silence.minMs, leg.silence.maxMs);
      }
      if (leg.blind && !this.blindDone && this.distanceM >= leg.blind.atM) {
        this.blindDone = true;
        this.blindLeftMs = this.rng.range(leg.blind.minMs, leg.blind.maxMs);
      }
      const calm = within(this.distanceM, leg.calm);
      // The odd red light at a corner, as the demo trucks do.
      if (this.distanceM < line.lengthM && !fast && this.speedKmh <= 23 && !calm && this.rng.chance(0.15)) {
        this.redLightMs = this.rng.range(20, 60) * 1000;
      }
    }
    this.pos = line.at(this.distanceM).pos;
    const d = this.distanceM;
    if (leg.leak) {
      const { fromM, toM, totalT } = leg.leak;
      const leaked = totalT * clamp((d - fromM) / Math.max(1, toM - fromM), 0, 1);
      const delta = leaked - this.leakedT;
      this.leakedT = leaked;
      this.weightT = Math.max(0, this.weightT - delta);
      // the unloading starts from what is left
      this.fullT = Math.max(0, this.fullT - delta);
    }
    const cover = within(d, leg.coverOpen) ? 'open' : 'closed';
    const arrived = d >= line.lengthM;
    const body = this.fix(this.pos, arrived ? 0 : speed, { cover });
    if (arrived) this.advanceLeg();
    return body;
  }
}
