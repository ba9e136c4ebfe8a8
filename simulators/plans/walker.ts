import type { Rng } from '../shared/rng.ts';
import { haversineM, type LatLon, type Polyline } from '../shared/tracks.ts';
import type { Span } from './world.ts';

/**
 * What the units of the plans share (collection.ts, sweeper.ts, patrol.ts): a walker along a line, the
 * OFFLINE silence, the twist test. The units of the plans (issue 15) are pure behaviours on the simulated
 * clock (scenario/fleet-sim.ts adds GNSS noise and faults): a collection truck visiting its points in their windows, a sweeper working its
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

export const MIN = 60_000;
export const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** Moves along a polyline at a wandering speed within a band. */
export class Walker {
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

export const isClosed = (l: Polyline) => haversineM(l.points[0]!, l.points.at(-1)!) < 5;

/** A silence of the allowance + 2.5-4 min starting at the given instant (OFFLINE twist). */
export function silence(rng: Rng, at: number, allowanceMs: number): Span {
  return { start: at, end: at + allowanceMs + rng.range(2.5, 4) * MIN };
}
