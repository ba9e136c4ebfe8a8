import type { BodyCameraFixPayload, SanitationFixPayload } from '../../ingest/payload.ts';
import type { Behaviour, FixBody } from '../motion/behaviour.ts';
import { centroidOf, inAnyPolygon } from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import {
  bearingDeg,
  distanceToPolylineM,
  haversineM,
  type LatLon,
  offsetM,
  Polyline,
  roadRoute,
} from '../shared/tracks.ts';
import type { CollectionRole, PatrolRole, Span, SweepRole } from './world.ts';

/**
 * The units of the plans (issue 15) as pure behaviours on the simulated clock (scenario/fleet-sim.ts adds GNSS
 * noise and faults): a collection truck visiting its points in their windows, a sweeper working its
 * plan's stretches in its shifts, an officer patrolling the grid in the shifts and docking at the upload
 * station after each. Each knows the run's instant (it starts at the run's start and adds the steps).
 *
 * The twists (injections naming the unit, on the occurrences listed in `trips`: its stops in time order,
 * or its shifts) make each rule's threshold clearly crossed, never nearly: a stop skipped, a visit 6-12
 * min after its window, 19-24 km/h sweeping for 70-110 s, 45 % of the plan swept, a 250 m detour with the
 * brush on, recording off for 7-9 min, 200 m out of the grid for 4 min, a battery at 27 % draining 35 %
 * an hour, storage running out mid-shift, no docking, SOS for 60-90 s, silent for the allowance + 2.5-4
 * min. The ground truth is not taken from here but judged on the true track (scenario/oracle/plans.ts).
 */

export type TwistTest = (type: string, occurrence: number) => boolean;

const MIN = 60_000;
const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** Moves along a polyline at a wandering speed within a band. */
class Walker {
  d = 0;
  speedKmh: number;
  constructor(
    private readonly rng: Rng,
    public line: Polyline,
    private lo: number,
    private hi: number,
    private readonly loop: boolean,
  ) {
    this.speedKmh = rng.range(lo, hi);
  }
  band(lo: number, hi: number): void {
    this.lo = lo;
    this.hi = hi;
  }
  /** Advances dtMs; true once the end of a non-looping line is reached. */
  advance(dtMs: number): boolean {
    const goal = this.rng.chance(0.2) ? this.rng.range(this.lo, this.hi) : this.speedKmh;
    this.speedKmh = Math.min(this.hi, Math.max(this.lo, goal + this.rng.normal(0, 0.5)));
    this.d += (this.speedKmh * dtMs) / 3600;
    if (this.d < this.line.lengthM) return false;
    if (this.loop) {
      this.d -= this.line.lengthM;
      return false;
    }
    this.d = this.line.lengthM;
    return true;
  }
  get pos(): LatLon {
    return this.line.at(this.d).pos;
  }
  get heading(): number {
    return Math.round(this.line.at(this.d).heading) % 360;
  }
}

const isClosed = (l: Polyline) => haversineM(l.points[0]!, l.points.at(-1)!) < 5;

/** A silence of the allowance + 2.5-4 min starting at the given instant (OFFLINE twist). */
function silence(rng: Rng, at: number, allowanceMs: number): Span {
  return { start: at, end: at + allowanceMs + rng.range(2.5, 4) * MIN };
}

// ---------------------------------------------------------------------------------------------------------
// Collection round

interface Stop {
  pos: LatLon;
  target: number;
  skip: boolean;
}

export class CollectionRoundBehaviour implements Behaviour<SanitationFixPayload> {
  readonly kind = 'sanitation' as const;
  readonly track: Polyline;
  silent = false;
  private now: number;
  private pos: LatLon;
  private readonly stops: Stop[];
  private i = 0;
  private mode: 'wait' | 'drive' | 'collect' | 'done' = 'wait';
  private walker: Walker | undefined;
  /** the road to the next stop, drawn once */
  private path: Polyline | undefined;
  private collectUntil = 0;
  private nextLift = 0;
  private bins = 0;
  private heading = 0;
  private weightT = 0;

  constructor(
    private readonly rng: Rng,
    startTs: number,
    role: CollectionRole,
    twist: TwistTest,
  ) {
    this.now = startTs;
    this.stops = role.stops.map((s, k) => {
      const len = s.window.end - s.window.start;
      const late = twist('LATE_COLLECTION', k);
      return {
        pos: s.pos,
        target: late ? s.window.end + rng.range(6, 12) * MIN : s.window.start + rng.range(0.2, 0.4) * len,
        skip: twist('MISSED_COLLECTION', k),
      };
    });
    const first = this.stops[0]?.pos ?? { lat: 31.82, lon: 117.23 };
    this.pos = offsetM(first, -500, -300);
    const pts = [this.pos, ...this.stops.map((x) => x.pos)].filter(
      (p, k, a) => k === 0 || haversineM(p, a[k - 1]!) > 1,
    );
    this.track = new Polyline(pts.length >= 2 ? pts : [this.pos, first]);
  }

  step(dtMs: number): FixBody<SanitationFixPayload> {
    this.now += dtMs;
    let speed = 0;
    let task: 'idle' | 'collecting' = 'idle';
    if (this.mode === 'wait' && this.i < this.stops.length) {
      const stop = this.stops[this.i]!;
      this.path ??= this.pathTo(stop);
      const travelMs = (this.path.lengthM / (25 / 3.6)) * 1000;
      if (this.now >= stop.target - travelMs) {
        this.walker = new Walker(this.rng, this.path, 20, 30, false);
        this.path = undefined;
        this.mode = 'drive';
      }
    } else if (this.mode === 'wait') {
      this.mode = 'done';
    }
    if (this.mode === 'drive' && this.walker) {
      const arrived = this.walker.advance(dtMs);
      speed = this.walker.speedKmh;
      this.pos = this.walker.pos;
      this.heading = this.walker.heading;
      if (arrived) {
        const stop = this.stops[this.i];
        if (stop === undefined || stop.skip) {
          // drove past the point (a skipped stop) or back to the depot: the next stop, or done
          this.i++;
          this.mode = stop === undefined ? 'done' : 'wait';
        } else if (this.now >= stop.target - 30_000) {
          this.mode = 'collect';
          speed = 0;
          this.collectUntil = this.now + this.rng.range(2, 4) * MIN;
          this.nextLift = this.now + this.rng.range(15, 30) * 1000;
        } else {
          // early: parked at the point, not working, until its time
          this.mode = 'collect';
          speed = 0;
          this.collectUntil = -stop.target;
        }
      }
    } else if (this.mode === 'collect') {
      if (this.collectUntil < 0) {
        // waiting at the point for its time (idle: not a visit)
        if (this.now >= -this.collectUntil) {
          this.collectUntil = this.now + this.rng.range(2, 4) * MIN;
          this.nextLift = this.now + this.rng.range(15, 30) * 1000;
        }
      } else {
        task = 'collecting';
        if (this.now >= this.nextLift) {
          this.bins++;
          this.weightT = Math.min(8, this.weightT + 0.12);
          this.nextLift = this.now + this.rng.range(20, 35) * 1000;
        }
        if (this.now >= this.collectUntil) {
          this.i++;
          this.mode = 'wait';
          task = 'idle';
          if (this.i >= this.stops.length) {
            // back towards the depot, 400 m away from the last point
            this.walker = new Walker(
              this.rng,
              new Polyline([this.pos, offsetM(this.pos, 400, 0)]),
              20,
              30,
              false,
            );
            this.mode = 'drive';
          }
        }
      }
    }
    return {
      lat: this.pos.lat,
      lon: this.pos.lon,
      speed: round(speed, 1),
      heading: this.heading,
      ign: true,
      task,
      brush: false,
      binLifts: this.bins,
      weight: round(this.weightT, 2),
    };
  }

  /** The road to the stop; through a skipped one without stopping, and on 300 m past it. */
  private pathTo(stop: Stop): Polyline {
    const direct = haversineM(this.pos, stop.pos) > 30 ? roadRoute(this.rng, this.pos, stop.pos) : undefined;
    const pts = direct ? [...direct.points] : [this.pos, stop.pos];
    if (stop.skip) {
      const h = bearingDeg(pts.at(-2)!, stop.pos);
      pts.push(offsetM(stop.pos, 300 * Math.sin((h * Math.PI) / 180), 300 * Math.cos((h * Math.PI) / 180)));
    }
    return new Polyline(pts);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sweeper on a plan

interface SweepShift extends Span {
  overspeed?: Span;
  /** SWEEP_COVERAGE twist: stops working once this many metres are swept */
  stopAfterM?: number;
  detourAt?: number;
  offline?: Span;
}

export class PlanSweeperBehaviour implements Behaviour<SanitationFixPayload> {
  readonly kind = 'sanitation' as const;
  readonly track: Polyline;
  silent = false;
  private now: number;
  private readonly walker: Walker;
  private readonly shifts: SweepShift[];
  private sweptM = 0;
  private detour: Walker | undefined;
  private resting = false;
  private weightT = 0;

  constructor(
    private readonly rng: Rng,
    startTs: number,
    role: SweepRole,
    twist: TwistTest,
    allowanceMs: number,
  ) {
    this.now = startTs;
    this.track = role.line;
    const line = isClosed(role.line)
      ? role.line
      : new Polyline([...role.line.points, ...[...role.line.points].reverse().slice(1)]);
    this.walker = new Walker(rng, line, 6, 11, true);
    this.shifts = role.shifts.map((s, k) => {
      // a shift already running at the start (the demo): its twists in the time left
      const from = Math.max(s.start, startTs);
      const len = s.end - from;
      const out: SweepShift = { ...s };
      if (twist('SWEEP_OVERSPEED', k)) {
        const at = from + rng.range(0.3, 0.5) * len;
        out.overspeed = { start: at, end: at + rng.range(70, 110) * 1000 };
      }
      if (twist('SWEEP_COVERAGE', k)) out.stopAfterM = 0.45 * role.line.lengthM;
      if (twist('OUT_OF_AREA', k)) out.detourAt = from + rng.range(0.35, 0.5) * len;
      if (twist('OFFLINE', k)) out.offline = silence(rng, from + 0.3 * len, allowanceMs);
      return out;
    });
  }

  step(dtMs: number): FixBody<SanitationFixPayload> {
    this.now += dtMs;
    const shift = this.shifts.find((s) => s.start <= this.now && this.now < s.end);
    this.silent =
      shift?.offline !== undefined && shift.offline.start <= this.now && this.now < shift.offline.end;
    let speed = 0;
    let working = false;
    let pos = this.walker.pos;
    let heading = this.walker.heading;
    if (shift === undefined) {
      this.sweptM = 0;
      this.resting = false;
      this.detour = undefined;
    } else if (!this.resting) {
      working = true;
      const over =
        shift.overspeed !== undefined && shift.overspeed.start <= this.now && this.now < shift.overspeed.end;
      if (this.detour === undefined && shift.detourAt !== undefined && this.now >= shift.detourAt) {
        shift.detourAt = undefined;
        this.detour = this.detourFrom(this.walker.pos, this.walker.heading);
      }
      if (this.detour !== undefined) {
        const back = this.detour.advance(dtMs);
        speed = this.detour.speedKmh;
        pos = this.detour.pos;
        heading = this.detour.heading;
        if (back) this.detour = undefined;
      } else {
        this.walker.band(over ? 19 : 6, over ? 24 : 11);
        const before = this.walker.d;
        this.walker.advance(dtMs);
        this.sweptM += (this.walker.d - before + this.walker.line.lengthM) % this.walker.line.lengthM;
        speed = this.walker.speedKmh;
        pos = this.walker.pos;
        heading = this.walker.heading;
        if (shift.stopAfterM !== undefined && this.sweptM >= shift.stopAfterM) this.resting = true;
      }
      this.weightT = Math.min(4, this.weightT + (speed * dtMs) / 3600 / 5000);
    }
    return {
      lat: pos.lat,
      lon: pos.lon,
      speed: round(speed, 1),
      heading,
      ign: true,
      task: working ? 'sweeping' : 'idle',
      brush: working,
      weight: round(this.weightT, 2),
    };
  }

  /**
   * Out 250 m square to the road, 150 m along, and back the same way, brush on (a street off the plan):
   * to the side away from the plan (a block's inside would bring it near the far side of the block,
   * within the GNSS allowance of the plan: not clearly outside).
   */
  private detourFrom(p: LatLon, heading: number): Walker {
    const h = (heading * Math.PI) / 180;
    let best: { path: LatLon[]; clearM: number } | undefined;
    for (const side of [90, -90]) {
      const rad = ((heading + side) * Math.PI) / 180;
      const out = offsetM(p, 250 * Math.sin(rad), 250 * Math.cos(rad));
      const along = offsetM(out, 150 * Math.sin(h), 150 * Math.cos(h));
      const clearM = Math.min(distanceToPolylineM(out, this.track), distanceToPolylineM(along, this.track));
      if (best === undefined || clearM > best.clearM) best = { path: [p, out, along, out, p], clearM };
    }
    return new Walker(this.rng, new Polyline(best!.path), 6, 11, false);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Officer on foot patrol with a body camera

interface DutyShift extends Span {
  notRecording?: Span;
  excursionAt?: number;
  sos?: Span;
  offline?: Span;
  lowBattery?: boolean;
  lowStorage?: boolean;
}

export class PatrolCameraBehaviour implements Behaviour<BodyCameraFixPayload> {
  readonly kind = 'body_camera' as const;
  readonly track: Polyline;
  silent = false;
  private now: number;
  private readonly patrol: Walker;
  private readonly shifts: DutyShift[];
  private readonly dock: boolean;
  private pos: LatLon;
  private heading = 0;
  /** a walk in progress (to the loop, out of the grid and back, to the station) */
  private walk: Walker | undefined;
  private walkKind: 'toLoop' | 'excursion' | 'toStation' | undefined;
  private stayUntil = 0;
  private pauseLeftMs = 0;
  private docked: boolean;
  private battery: number;
  private drainPerH: number;
  private readonly capacityMb: number;
  private storageMb: number;
  private current: DutyShift | undefined;

  constructor(
    private readonly rng: Rng,
    startTs: number,
    private readonly officer: string,
    private readonly role: PatrolRole,
    twist: TwistTest,
    allowanceMs: number,
  ) {
    this.now = startTs;
    this.track = role.loop;
    this.patrol = new Walker(rng, role.loop, 3, 5, true);
    this.dock = !twist('NOT_UPLOADED', 0);
    this.pos = role.station;
    this.docked = this.dock;
    this.battery = rng.range(80, 100);
    this.drainPerH = rng.range(8, 12);
    this.capacityMb = Math.round(rng.range(20_000, 60_000));
    this.storageMb = this.capacityMb;
    this.shifts = role.shifts.map((s, k) => {
      // a shift already running at the start (the demo): its twists in the time left
      const from = Math.max(s.start, startTs);
      const len = s.end - from;
      const out: DutyShift = { ...s };
      if (twist('NOT_RECORDING', k)) {
        const at = from + rng.range(0.3, 0.45) * len;
        out.notRecording = { start: at, end: at + rng.range(7, 9) * MIN };
      }
      if (twist('OUT_OF_GRID', k)) out.excursionAt = from + rng.range(0.25, 0.35) * len;
      if (twist('SOS', k)) {
        const at = from + rng.range(0.4, 0.6) * len;
        out.sos = { start: at, end: at + rng.range(60, 90) * 1000 };
      }
      if (twist('OFFLINE', k)) out.offline = silence(rng, from + 0.35 * len, allowanceMs);
      if (twist('LOW_BATTERY', k)) out.lowBattery = true;
      if (twist('LOW_STORAGE', k)) out.lowStorage = true;
      return out;
    });
  }

  step(dtMs: number): FixBody<BodyCameraFixPayload> {
    this.now += dtMs;
    const shift = this.shifts.find((s) => s.start <= this.now && this.now < s.end);
    if (shift !== this.current) {
      if (shift !== undefined) this.beginShift(shift);
      else this.endShift();
      this.current = shift;
    }
    this.silent =
      shift?.offline !== undefined && shift.offline.start <= this.now && this.now < shift.offline.end;
    let speed = 0;
    if (this.walk !== undefined) {
      if (
        this.walkKind === 'excursion' &&
        this.now < this.stayUntil &&
        this.walk.d >= this.walk.line.lengthM / 2
      ) {
        // out of the grid: standing there (a meal, a private errand)
      } else {
        const half = this.walk.line.lengthM / 2;
        const wasOut = this.walk.d < half;
        const done = this.walk.advance(dtMs);
        if (this.walkKind === 'excursion' && wasOut && this.walk.d >= half) {
          this.walk.d = half;
          this.stayUntil = this.now + 4 * MIN;
        }
        speed = this.walk.speedKmh;
        this.pos = this.walk.pos;
        this.heading = this.walk.heading;
        if (done) {
          if (this.walkKind === 'toStation') this.dockNow();
          this.walk = undefined;
          this.walkKind = undefined;
        }
      }
    } else if (shift !== undefined) {
      if (shift.excursionAt !== undefined && this.now >= shift.excursionAt) {
        shift.excursionAt = undefined;
        this.walk = new Walker(this.rng, this.excursionFrom(this.pos), 3.5, 5, false);
        this.walkKind = 'excursion';
      } else if (this.pauseLeftMs > 0) {
        this.pauseLeftMs -= dtMs;
      } else {
        this.patrol.advance(dtMs);
        speed = this.patrol.speedKmh;
        this.pos = this.patrol.pos;
        this.heading = this.patrol.heading;
        if (this.rng.chance(0.02)) this.pauseLeftMs = this.rng.range(1, 3) * MIN;
      }
    }
    const recording =
      shift !== undefined &&
      !(
        shift.notRecording !== undefined &&
        shift.notRecording.start <= this.now &&
        this.now < shift.notRecording.end
      );
    if (this.docked) {
      this.battery = Math.min(100, this.battery + (60 * dtMs) / 3_600_000);
    } else {
      this.battery = Math.max(5, this.battery - (this.drainPerH * dtMs) / 3_600_000);
    }
    if (recording) this.storageMb = Math.max(0, this.storageMb - 0.25 * (dtMs / 1000));
    const sos = shift?.sos !== undefined && shift.sos.start <= this.now && this.now < shift.sos.end;
    return {
      lat: this.pos.lat,
      lon: this.pos.lon,
      speed: round(speed, 1),
      heading: this.heading,
      recording,
      battery: round(this.battery, 1),
      storageFree: Math.round(this.storageMb),
      officer: this.officer,
      sos,
      docked: this.docked,
    };
  }

  private beginShift(shift: DutyShift): void {
    this.docked = false;
    this.drainPerH = this.rng.range(8, 12);
    if (shift.lowBattery) {
      this.battery = 27;
      this.drainPerH = 35;
    }
    // storage that runs out about 40 % into the shift (0.25 MB/s while recording)
    if (shift.lowStorage) this.storageMb = 1024 + 0.25 * 0.4 * ((shift.end - shift.start) / 1000);
    const start = this.role.loop.at(this.patrol.d).pos;
    this.walk =
      haversineM(this.pos, start) > 5
        ? new Walker(this.rng, new Polyline([this.pos, start]), 3.5, 5, false)
        : undefined;
    this.walkKind = this.walk ? 'toLoop' : undefined;
  }

  private endShift(): void {
    this.walk =
      haversineM(this.pos, this.role.station) > 5
        ? new Walker(this.rng, new Polyline([this.pos, this.role.station]), 3.5, 5, false)
        : undefined;
    this.walkKind = this.walk ? 'toStation' : undefined;
    if (this.walk === undefined) this.dockNow();
  }

  /** At the station: docked (footage uploaded, the card emptied, charging), unless it skips docking. */
  private dockNow(): void {
    if (!this.dock) return;
    this.docked = true;
    this.storageMb = this.capacityMb;
  }

  /** Out of the grid: straight away from its middle to 200 m beyond its edge, and back the same way. */
  private excursionFrom(p: LatLon): Polyline {
    const c = centroidOf(this.role.grid);
    const h = haversineM(c, p) > 1 ? bearingDeg(c, p) : 90;
    const rad = (h * Math.PI) / 180;
    let m = 0;
    while (m < 5000 && inAnyPolygon(this.role.grid, offsetM(p, m * Math.sin(rad), m * Math.cos(rad))))
      m += 10;
    const far = offsetM(p, (m + 200) * Math.sin(rad), (m + 200) * Math.cos(rad));
    return new Polyline([p, far, p]);
  }
}
