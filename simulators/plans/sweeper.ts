import type { SanitationFixPayload } from '../../ingest/payload.ts';
import type { Behaviour, FixBody } from '../motion/behaviour.ts';
import type { Rng } from '../shared/rng.ts';
import { distanceToPolylineM, type LatLon, offsetM, Polyline } from '../shared/tracks.ts';
import { isClosed, round, silence, type TwistTest, Walker } from './walker.ts';
import type { Span, SweepRole } from './world.ts';

/**
 * The sweeper of issue 15: it works its sweep plan's stretches in its shifts (walker.ts says how the plans' units behave and twist).
 */

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
