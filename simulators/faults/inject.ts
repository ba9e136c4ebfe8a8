import type { Drive, Leg, TruckCycle } from '../motion/truck-cycle.ts';
import type { ScenarioInjection } from '../scenario/file-schema.ts';

import { faultRates, TRIP_TWISTS, type TripTwistType, type Twist } from './inject-spec.ts';
import { buildTwist, type TripPlannerOptions } from './twist.ts';
import { normalCycle } from './twist-geometry.ts';

/**
 * Injections: which trip of which truck breaks which rule, and the trip cycle that does it. Every twist
 * is built on the truck's own haul in the scenario's geometry, large enough that the rule's threshold
 * is clearly crossed (a detour 400 m out, 6 min parked, 1.2 km with the cover open, 30-45 % over the
 * limit...), so what the run injects is what the rule definitions call a violation. The ground truth
 * itself is not taken from here but judged on the true track (scenario/oracle/oracle.ts).
 *
 * This module plans the trips; the specs and rates are inject-spec.ts, the twists twist.ts (with
 * twist-geometry.ts).
 */

const MIN = 60_000;

export interface PlannedTrip {
  cycle: TruckCycle;
  twist?: Twist;
  /** why a twist drawn for the trip could not be built (the trip then runs clean) */
  skipped?: string;
  /** faults laid on the trip (BLIND_AREA, SLEEP) */
  faults?: string[];
}

/**
 * Chooses each trip's twist (explicit per-vehicle injections first, else one draw against the per-trip
 * rates) and builds its cycle. The first trip begins with a wait of 0-15 min at the origin so the
 * trucks of a fleet do not all move in step.
 */
export class TripPlanner {
  readonly trips: PlannedTrip[] = [];
  private readonly explicit: ScenarioInjection[];
  private readonly rates: ScenarioInjection[];

  constructor(private readonly o: TripPlannerOptions) {
    const isTwist = (i: ScenarioInjection) => (TRIP_TWISTS as readonly string[]).includes(i.type);
    this.explicit = o.injections.filter((i) => i.vehicle === o.vehicle && isTwist(i));
    const hasExplicit = o.injections.some((i) => i.vehicle === o.vehicle);
    this.rates = hasExplicit ? [] : o.injections.filter((i) => i.rate !== undefined && isTwist(i));
  }

  cycleFor(trip: number): TruckCycle {
    const twist = this.choose(trip);
    const built = twist ? buildTwist(this.o, twist) : undefined;
    const planned: PlannedTrip = built?.cycle
      ? { cycle: built.cycle, ...(twist ? { twist } : {}) }
      : { cycle: normalCycle(this.o.haul), ...(built?.skipped ? { skipped: built.skipped } : {}) };
    this.layFaults(planned, built?.blindAtM);
    if (trip === 0) {
      const wait: Leg = { type: 'park', minMs: 0, maxMs: 15 * MIN };
      planned.cycle = { ...planned.cycle, legs: [wait, ...planned.cycle.legs], start: 0 };
    }
    this.trips[trip] = planned;
    return planned.cycle;
  }

  /** BLIND_AREA and SLEEP by their per-trip rates (see scenario/injection-types.ts FAULT_TYPES). */
  private layFaults(planned: PlannedTrip, blindAtM: number | undefined): void {
    const r = this.o.faultRng;
    if (r === undefined) return;
    const rates = faultRates(this.o.injections);
    const faults: string[] = [];
    const legs = [...planned.cycle.legs];
    if (rates.BLIND_AREA > 0 && r.chance(rates.BLIND_AREA)) {
      // the loaded drive: the first drive after the loading
      const loadAt = legs.findIndex((l) => l.type === 'dwell' && l.action === 'load');
      const i = legs.findIndex((l, k) => k > loadAt && l.type === 'drive');
      const drive = legs[i] as Drive | undefined;
      if (drive !== undefined) {
        const atM = blindAtM ?? 0.4 * drive.line.lengthM;
        legs[i] = { ...drive, blind: { atM, minMs: 6 * MIN, maxMs: 12 * MIN } };
        faults.push('BLIND_AREA');
      }
    }
    if (rates.SLEEP > 0 && r.chance(rates.SLEEP)) {
      legs.push({ type: 'park', minMs: 0, maxMs: 0, ign: false, silentMs: [20 * MIN, 40 * MIN] });
      faults.push('SLEEP');
    }
    if (faults.length > 0) {
      planned.cycle = { ...planned.cycle, legs };
      planned.faults = faults;
    }
  }

  private choose(trip: number): Twist | undefined {
    const explicit = this.explicit.find((i) => i.trips === undefined || i.trips.includes(trip));
    if (explicit) return this.withVariant(explicit);
    if (this.rates.length === 0) return undefined;
    let u = this.o.rng.next();
    for (const r of this.rates) {
      u -= r.rate ?? 0;
      if (u < 0) return this.withVariant(r);
    }
    return undefined;
  }

  private withVariant(i: ScenarioInjection): Twist {
    const type = i.type as TripTwistType;
    if (type !== 'SPILLAGE') return { type };
    return { type, variant: i.variant ?? (this.o.rng.chance(0.5) ? 'cover' : 'weight') };
  }
}
