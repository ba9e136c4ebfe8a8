import type { UnitKind } from '../../core/fix.ts';
import type {
  BodyCameraFixPayload,
  MuckTruckFixPayload,
  SanitationFixPayload,
} from '../../ingest/payload.ts';
import type { Rng } from '../shared/rng.ts';
import { gpsNoise, type LatLon, type Polyline } from '../shared/tracks.ts';

/**
 * Pure device behaviours: each `step(dtMs)` advances one simulated device by dtMs and returns the fix it
 * reports at the end of that interval. No clock, no I/O: the caller owns time (ts) and the random stream,
 * so the same seed and the same step sizes give the same fixes.
 */

/** GPS noise per axis, metres (about 5 m radial on average). */
export const GPS_NOISE_SD_M = 4;

export type FixBody<P> = Omit<P, 'ts'>;

export interface Behaviour<P> {
  readonly kind: UnitKind;
  /** the path the unit follows (the route, the sweeping round, the patrol loop) */
  readonly track: Polyline;
  step(dtMs: number): FixBody<P>;
  /**
   * Optional: true when the fix of the last `step` is NOT sent (a simulated outage: the device is silent
   * but the unit keeps moving). Behaviours that leave it out always report.
   */
  readonly silent?: boolean;
}

const round = (v: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Satellites, altitude and accuracy: slow random walks shared by every kind (exported for demo/scenario-trucks.ts). */
export class GnssState {
  private sats: number;
  private alt: number;
  constructor(
    private readonly rng: Rng,
    private readonly baseAlt: number,
    private readonly accuracyRangeM: [number, number],
    /** per-axis noise, metres; 0 gives the true position (the fleet simulator adds its own noise model) */
    private readonly noiseSdM: number = GPS_NOISE_SD_M,
  ) {
    this.sats = rng.int(9, 16);
    this.alt = baseAlt + rng.normal(0, 2);
  }
  fields(pos: LatLon): {
    lat: number;
    lon: number;
    alt: number;
    sats: number;
    accuracy: number;
    valid: boolean;
  } {
    this.sats = clamp(Math.round(this.sats + this.rng.normal(0, 0.7)), 6, 22);
    this.alt = clamp(this.alt + this.rng.normal(0, 0.6), this.baseAlt - 6, this.baseAlt + 6);
    const noisy = gpsNoise(this.rng, pos, this.noiseSdM);
    return {
      lat: round(noisy.lat, 6),
      lon: round(noisy.lon, 6),
      alt: round(this.alt, 1),
      sats: this.sats,
      accuracy: round(this.rng.range(this.accuracyRangeM[0], this.accuracyRangeM[1]), 1),
      valid: true,
    };
  }
}

/** Moves along a polyline at a speed that wanders within a band, slowing at corners. */
class Mover {
  distanceM: number;
  speedKmh = 0;
  private target: number;
  constructor(
    private readonly rng: Rng,
    private readonly line: Polyline,
    private readonly minKmh: number,
    private readonly maxKmh: number,
    startM = 0,
    /** speed cap within 40 m of a corner (vehicles turn slowly) */
    private readonly cornerKmh = maxKmh,
    private readonly loop = false,
  ) {
    this.distanceM = startM;
    this.target = rng.range(minKmh, maxKmh);
  }
  /** Advances dtMs; returns true when the end of a non-looping line was reached. */
  advance(dtMs: number): boolean {
    if (this.rng.chance(0.15)) this.target = this.rng.range(this.minKmh, this.maxKmh);
    const toCorner = this.line.toNextVertexM(this.distanceM);
    const goal = toCorner < 40 ? Math.min(this.target, this.cornerKmh) : this.target;
    const previous = this.speedKmh === 0 ? goal : this.speedKmh;
    this.speedKmh = clamp(
      previous + (goal - previous) * 0.6 + this.rng.normal(0, 1),
      this.minKmh,
      this.maxKmh,
    );
    this.distanceM += (((previous + this.speedKmh) / 2) * dtMs) / 3600;
    if (this.distanceM >= this.line.lengthM) {
      if (this.loop) {
        this.distanceM -= this.line.lengthM;
      } else {
        this.distanceM = this.line.lengthM;
        return true;
      }
    }
    return false;
  }
  heading(): number {
    return Math.round(this.line.at(this.distanceM).heading) % 360;
  }
  position(): LatLon {
    return this.line.at(this.distanceM).pos;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Muck truck: load at the origin, haul along the route, tip at the disposal site, return empty, repeat.

export type TruckPhase = 'loading' | 'haul' | 'unloading' | 'return';

export interface TruckOptions {
  /** route from the origin (first point) to the disposal site (last point) */
  route: Polyline;
  ratedLoadT: number;
  /** where in the cycle to start; default loading */
  startPhase?: TruckPhase;
  /** fraction of the phase already done (0..1) */
  startProgress?: number;
}

export class MuckTruckBehaviour implements Behaviour<MuckTruckFixPayload> {
  readonly kind = 'muck_truck' as const;
  readonly track: Polyline;
  phase: TruckPhase;
  private readonly back: Polyline;
  private mover: Mover;
  private dwellMs = 0;
  private dwellTotalMs = 0;
  private fullT: number;
  private weightT = 0;
  private heading: number;
  private readonly gnss: GnssState;
  private stopLeftMs = 0;
  private readonly rated: number;

  constructor(
    private readonly rng: Rng,
    opts: TruckOptions,
  ) {
    this.track = opts.route;
    this.back = opts.route.reversed();
    this.gnss = new GnssState(rng, 32, [4, 9]);
    this.fullT = this.sampleFull(opts.ratedLoadT);
    this.rated = opts.ratedLoadT;
    this.phase = opts.startPhase ?? 'loading';
    const progress = clamp(opts.startProgress ?? 0, 0, 0.95);
    this.mover = this.newMover(this.phase === 'return' ? this.back : this.track, progress);
    this.heading = this.mover.heading();
    if (this.phase === 'loading' || this.phase === 'unloading') this.beginDwell(progress);
    if (this.phase === 'haul' || this.phase === 'unloading') this.weightT = this.fullT;
  }

  private sampleFull(rated: number): number {
    return round(rated * this.rng.range(0.8, 0.95), 2);
  }

  private newMover(line: Polyline, progress: number): Mover {
    return new Mover(this.rng, line, 20, 50, line.lengthM * progress, 22);
  }

  private beginDwell(progress = 0): void {
    this.dwellTotalMs =
      this.phase === 'loading' ? this.rng.range(4, 8) * 60_000 : this.rng.range(2, 4) * 60_000;
    this.dwellMs = this.dwellTotalMs * progress;
  }

  step(dtMs: number): FixBody<MuckTruckFixPayload> {
    let speed = 0;
    let pos: LatLon;
    if (this.phase === 'loading' || this.phase === 'unloading') {
      this.dwellMs += dtMs;
      const f = clamp(this.dwellMs / this.dwellTotalMs, 0, 1);
      this.weightT = this.phase === 'loading' ? this.fullT * f : this.fullT * (1 - f);
      pos = (this.phase === 'loading' ? this.track.points[0] : this.track.points.at(-1)) as LatLon;
      const body = this.dwellBody(f, pos);
      if (f >= 1) {
        // Dwell complete: leave on the next step.
        if (this.phase === 'loading') {
          this.phase = 'haul';
          this.mover = this.newMover(this.track, 0);
        } else {
          this.phase = 'return';
          this.weightT = 0;
          this.mover = this.newMover(this.back, 0);
          this.fullT = this.sampleFull(this.rated);
        }
      }
      return body;
    }
    // Driving (haul or return), with the odd red light at a corner.
    if (this.stopLeftMs > 0) {
      this.stopLeftMs -= dtMs;
      pos = this.mover.position();
    } else {
      const arrived = this.mover.advance(dtMs);
      speed = this.mover.speedKmh;
      pos = this.mover.position();
      this.heading = this.mover.heading();
      if (!arrived && this.mover.speedKmh <= 23 && this.rng.chance(0.15)) {
        this.stopLeftMs = this.rng.range(20, 60) * 1000;
      }
      if (arrived) {
        speed = 0;
        this.phase = this.phase === 'haul' ? 'unloading' : 'loading';
        this.beginDwell();
      }
    }
    const loaded = this.phase === 'haul' || this.phase === 'unloading';
    return {
      ...this.gnss.fields(pos),
      speed: round(speed, 1),
      heading: this.heading,
      ign: true,
      load: loaded ? 'full' : 'empty',
      weight: round(Math.max(0, (loaded ? this.weightT : 0) + this.rng.normal(0, 0.03)), 2),
      cover: 'closed',
      lift: 'down',
      doors: 'closed',
    };
  }

  private dwellBody(f: number, pos: LatLon): FixBody<MuckTruckFixPayload> {
    const loading = this.phase === 'loading';
    const load = f < 0.2 ? (loading ? 'empty' : 'full') : f < 0.8 ? 'half' : loading ? 'full' : 'empty';
    // Cover open while the load goes in or out; lift up while tipping; both back before leaving.
    const open = f > 0.05 && f < 0.95;
    return {
      ...this.gnss.fields(pos),
      speed: 0,
      heading: this.heading,
      ign: true,
      load: f >= 1 ? (loading ? 'full' : 'empty') : load,
      weight: round(Math.max(0, this.weightT + this.rng.normal(0, 0.03)), 2),
      cover: open ? 'open' : 'closed',
      lift: !loading && open ? 'up' : 'down',
      doors: 'closed',
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sanitation sweeper: slow rounds of a block with the brush on, a break every few rounds.

export class SweeperBehaviour implements Behaviour<SanitationFixPayload> {
  readonly kind = 'sanitation' as const;
  readonly track: Polyline;
  private readonly mover: Mover;
  private breakLeftMs = 0;
  private roundsUntilBreak: number;
  private lastDistance: number;
  private weightT: number;
  private readonly gnss: GnssState;

  constructor(
    private readonly rng: Rng,
    loop: Polyline,
    startProgress = 0,
    gnssNoiseSdM = GPS_NOISE_SD_M,
  ) {
    this.track = loop;
    this.mover = new Mover(rng, loop, 5, 12, loop.lengthM * clamp(startProgress, 0, 0.99), 6, true);
    this.lastDistance = this.mover.distanceM;
    this.roundsUntilBreak = rng.int(2, 3);
    this.weightT = round(rng.range(0, 1.5), 2);
    this.gnss = new GnssState(rng, 30, [4, 9], gnssNoiseSdM);
  }

  step(dtMs: number): FixBody<SanitationFixPayload> {
    if (this.breakLeftMs > 0) {
      this.breakLeftMs -= dtMs;
      if (this.breakLeftMs <= 0) this.weightT = 0; // hopper emptied at the transfer point during the break
      return {
        ...this.gnss.fields(this.mover.position()),
        speed: 0,
        heading: this.mover.heading(),
        ign: true,
        task: 'idle',
        brush: false,
        weight: round(this.weightT, 2),
      };
    }
    this.mover.advance(dtMs);
    const d = this.mover.distanceM;
    const moved = d >= this.lastDistance ? d - this.lastDistance : d + this.track.lengthM - this.lastDistance;
    this.weightT = Math.min(4, this.weightT + moved * 0.0002); // about 0.2 t per km of kerb
    if (d < this.lastDistance) {
      // Completed a round.
      this.roundsUntilBreak--;
      if (this.roundsUntilBreak <= 0) {
        this.roundsUntilBreak = this.rng.int(2, 3);
        this.breakLeftMs = this.rng.range(3, 5) * 60_000;
      }
    }
    this.lastDistance = d;
    return {
      ...this.gnss.fields(this.mover.position()),
      speed: round(this.mover.speedKmh, 1),
      heading: this.mover.heading(),
      ign: true,
      task: 'sweeping',
      brush: true,
      weight: round(this.weightT, 2),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Body camera: an officer walks a patrol loop with the camera recording; battery and storage run down.

export class OfficerBehaviour implements Behaviour<BodyCameraFixPayload> {
  readonly kind = 'body_camera' as const;
  readonly track: Polyline;
  private readonly mover: Mover;
  private pauseLeftMs = 0;
  private battery: number;
  /** percent per hour */
  private readonly drain: number;
  private storageMb: number;
  private readonly gnss: GnssState;

  constructor(
    private readonly rng: Rng,
    loop: Polyline,
    private readonly officer: string,
    startProgress = 0,
    gnssNoiseSdM = GPS_NOISE_SD_M,
  ) {
    this.track = loop;
    this.mover = new Mover(rng, loop, 3, 5, loop.lengthM * clamp(startProgress, 0, 0.99), 3, true);
    this.battery = rng.range(80, 100);
    this.drain = rng.range(8, 12);
    this.storageMb = rng.range(20_000, 60_000);
    this.gnss = new GnssState(rng, 30, [6, 14], gnssNoiseSdM);
  }

  step(dtMs: number): FixBody<BodyCameraFixPayload> {
    let speed = 0;
    if (this.pauseLeftMs > 0) {
      this.pauseLeftMs -= dtMs;
    } else {
      this.mover.advance(dtMs);
      speed = this.mover.speedKmh;
      // Now and then the officer stops (a shop front, a vendor, a question from a passer-by).
      if (this.rng.chance(0.02)) this.pauseLeftMs = this.rng.range(1, 3) * 60_000;
    }
    this.battery = Math.max(5, this.battery - (this.drain * dtMs) / 3_600_000);
    this.storageMb = Math.max(0, this.storageMb - 0.25 * (dtMs / 1000)); // ~0.9 GB/h of 1080p video
    return {
      ...this.gnss.fields(this.mover.position()),
      speed: round(speed, 1),
      heading: this.mover.heading(),
      recording: true,
      battery: round(this.battery, 1),
      storageFree: Math.round(this.storageMb),
      officer: this.officer,
      sos: false,
      docked: false,
    };
  }
}
