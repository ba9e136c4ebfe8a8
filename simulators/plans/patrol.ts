import type { BodyCameraFixPayload } from '../../ingest/payload.ts';
import type { Behaviour, FixBody } from '../motion/behaviour.ts';
import { centroidOf, inAnyPolygon } from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import { bearingDeg, haversineM, type LatLon, offsetM, Polyline } from '../shared/tracks.ts';
import { MIN, round, silence, type TwistTest, Walker } from './walker.ts';
import type { PatrolRole, Span } from './world.ts';

/**
 * The officer of issue 15 on foot patrol with a body camera: the grid in the shifts, docking at the upload station after each (walker.ts says how the plans' units behave and twist).
 */

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
