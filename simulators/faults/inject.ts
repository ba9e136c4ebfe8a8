import {
  PLAN_VIOLATION_CODES,
  type PlanViolationCode,
  type Site,
  VIOLATION_CODES,
  type ViolationCode,
  type Zone,
} from '../../geofence/model.ts';
import { spliceDetour, truncateLine } from '../demo/geometry.ts';
import {
  type Drive,
  type Dwell,
  type Leg,
  LOAD_DWELL,
  type TruckCycle,
  UNLOAD_DWELL,
} from '../motion/truck-cycle.ts';
import type { ScenarioInjection } from '../scenario/file-schema.ts';
import {
  FAULT_TYPES,
  type FaultType,
  INJECTION_TYPES,
  type InjectionType,
  takesVehicle,
} from '../scenario/injection-types.ts';
import type { Haul, SimWorld } from '../scenario/world.ts';
import {
  centroidOf,
  depthM,
  edgeDistanceM,
  inAnyPolygon,
  nearestOnLine,
  toLatLon,
  towards,
} from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import { haversineM as haversine, type LatLon, Polyline } from '../shared/tracks.ts';

/**
 * Injections: which trip of which truck breaks which rule, and the trip cycle that does it. Every twist
 * is built on the truck's own haul in the scenario's geometry, large enough that the rule's threshold
 * is clearly crossed (a detour 400 m out, 6 min parked, 1.2 km with the cover open, 30-45 % over the
 * limit...), so what the run injects is what the rule definitions call a violation. The ground truth
 * itself is not taken from here but judged on the true track (scenario/oracle/oracle.ts).
 */

/** Rules broken by changing a trip (NO_PERMIT and OFF_HOURS change the permit instead: scenario/world.ts). */
export type TripTwistType = Exclude<ViolationCode, 'NO_PERMIT' | 'OFF_HOURS' | PlanViolationCode>;
export const TRIP_TWISTS: readonly TripTwistType[] = VIOLATION_CODES.filter(
  (c): c is TripTwistType =>
    c !== 'NO_PERMIT' && c !== 'OFF_HOURS' && !(PLAN_VIOLATION_CODES as readonly string[]).includes(c),
);

export interface Twist {
  type: TripTwistType;
  variant?: 'cover' | 'weight';
}

/** `OFF_ROUTE:0.1,SPILLAGE/weight:0.05,veh-d2002=OVERSPEED,DUPLICATE:0.01` as injections. */
export function parseInjectSpec(spec: string): ScenarioInjection[] {
  const out: ScenarioInjection[] = [];
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(?:([^=]+)=)?([A-Z_]+)(?:\/(cover|weight))?(?::([0-9.]+))?$/.exec(raw);
    const fail = (why: string): never => {
      throw new RangeError(
        `--inject "${raw}": ${why} (expected TYPE:RATE or VEHICLE=TYPE, e.g. OFF_ROUTE:0.1)`,
      );
    };
    if (!m) fail('cannot read it');
    const [, vehicle, type, variant, rateText] = m as RegExpExecArray;
    if (!(INJECTION_TYPES as readonly string[]).includes(type!))
      fail(`unknown type; one of ${INJECTION_TYPES.join(', ')}`);
    if (variant && type !== 'SPILLAGE') fail('a /cover or /weight variant applies to SPILLAGE only');
    if ((vehicle === undefined) === (rateText === undefined)) fail('give a rate or a vehicle');
    const rate = rateText === undefined ? undefined : Number(rateText);
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) fail('a rate is a probability, 0..1');
    if (vehicle && !takesVehicle(type!)) fail(`${type} is injected by rate only`);
    out.push({
      type: type as InjectionType,
      ...(vehicle ? { vehicle } : {}),
      ...(rate !== undefined ? { rate } : {}),
      ...(variant ? { variant: variant as 'cover' | 'weight' } : {}),
    });
  }
  return out;
}

/** File injections with the command line's on top: a rate given again for the same type replaces it. */
export function mergeInjections(
  file: readonly ScenarioInjection[],
  cli: readonly ScenarioInjection[],
): ScenarioInjection[] {
  const key = (i: ScenarioInjection) =>
    i.vehicle ? `v:${i.vehicle}:${i.type}` : `r:${i.type}:${i.variant ?? ''}`;
  const byKey = new Map<string, ScenarioInjection>();
  for (const i of [...file, ...cli]) byKey.set(key(i), i);
  return [...byKey.values()];
}

/** Per-message fault rates. */
export function faultRates(injections: readonly ScenarioInjection[]): Record<FaultType, number> {
  const out = Object.fromEntries(FAULT_TYPES.map((f) => [f, 0])) as Record<FaultType, number>;
  for (const i of injections)
    if ((FAULT_TYPES as readonly string[]).includes(i.type) && i.rate !== undefined)
      out[i.type as FaultType] = i.rate;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Trip planner

const MIN = 60_000;

export interface PlannedTrip {
  cycle: TruckCycle;
  twist?: Twist;
  /** why a twist drawn for the trip could not be built (the trip then runs clean) */
  skipped?: string;
  /** faults laid on the trip (BLIND_AREA, SLEEP) */
  faults?: string[];
}

export interface TripPlannerOptions {
  world: SimWorld;
  vehicle: string;
  haul: Haul;
  /** nominal report interval of the truck's device, ms (sizes the OFFLINE silence) */
  intervalMs: number;
  injections: readonly ScenarioInjection[];
  rng: Rng;
  /** draws of the per-trip faults (BLIND_AREA, SLEEP): a stream of their own, so they change no twist */
  faultRng?: Rng;
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

function normalCycle(h: Haul): TruckCycle {
  const load: Dwell = { type: 'dwell', action: 'load', at: h.line.points[0]!, ...LOAD_DWELL };
  const unload: Dwell = { type: 'dwell', action: 'unload', at: h.line.points.at(-1)!, ...UNLOAD_DWELL };
  return {
    legs: [load, { type: 'drive', line: h.line }, unload, { type: 'drive', line: h.line.reversed() }],
    start: 0,
    fullRange: [0.8, 0.95],
  };
}

/** The longest segment of a line, as distances along it. */
function longestStretch(line: Polyline): [number, number] {
  let best: [number, number] = [0, 0];
  for (let i = 0; i + 1 < line.points.length; i++) {
    const a = line.cumulative[i] as number;
    const b = line.cumulative[i + 1] as number;
    if (b - a > best[1] - best[0]) best = [a, b];
  }
  return best;
}

/** Clearance of a point from every site and zone (0 inside one), metres. */
function clearanceM(world: SimWorld, p: LatLon): number {
  let best = Number.POSITIVE_INFINITY;
  for (const x of [...world.sites, ...world.zones]) {
    if (inAnyPolygon(x.polygons, p)) return 0;
    best = Math.min(best, edgeDistanceM(x.polygons, p));
  }
  return best;
}

/** A roadside point on the line, well clear of every site and zone (distance along the line), if any. */
function roadsidePoint(world: SimWorld, line: Polyline, minClearM = 150): number | undefined {
  for (const f of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
    const d = line.lengthM * f;
    if (clearanceM(world, line.at(d).pos) >= minClearM) return d;
  }
  return undefined;
}

/** `line` with an out-and-back spur at distance atM to `target` (the truck turns round there). */
function withSpur(line: Polyline, atM: number, target: LatLon): Polyline {
  const first = truncateLine(line, atM);
  const p = line.at(atM).pos;
  const rest = line.points.filter((_, i) => (line.cumulative[i] as number) > atM);
  return new Polyline([...first.points, target, p, ...rest]);
}

/** The lowest day/night limit on a route stretch around distance `atM` of the truck's line. */
function routeLimitAt(h: Haul, pos: LatLon): number | undefined {
  const routeLine = new Polyline(h.route.line.map(toLatLon));
  const seg = nearestOnLine(routeLine, pos).segment;
  const limits = h.route.limits
    .filter((l) => l.from <= seg && seg + 1 <= l.to)
    .flatMap((l) => [l.speedLimitKmh, l.nightLimitKmh].filter((x): x is number => x !== undefined));
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/** The nearest zone of a kind that applies to muck trucks, with the spur that reaches its middle. */
function nearestZone(world: SimWorld, line: Polyline, kind: Zone['kind']) {
  let best: { zone: Zone; atM: number; target: LatLon; lengthM: number } | undefined;
  for (const z of world.zones) {
    if (z.kind !== kind || !(z.appliesTo ?? ['muck_truck']).includes('muck_truck')) continue;
    const c = centroidOf(z.polygons);
    if (depthM(z.polygons, c) < 30) continue;
    const near = nearestOnLine(line, c);
    if (near.alongM < 100 || near.alongM > line.lengthM - 100) continue;
    if (!best || near.distanceM < best.lengthM)
      best = { zone: z, atM: near.alongM, target: c, lengthM: near.distanceM };
  }
  return best && best.lengthM <= 3000 ? best : undefined;
}

/**
 * Where a truck tips inside a site reached from the road at `p`: on the way to the site's middle, the
 * deepest point that stays 20 m inside the route's corridor (not off route while it unloads), when that
 * is at least 30 m inside the site (two GNSS sigmas at 15 m); otherwise the first point 50 m inside, or
 * the middle, off the corridor if it must be (the truth then holds an OFF_ROUTE as well).
 */
function tippingPoint(p: LatLon, c: LatLon, polygons: Site['polygons'], corridorM: number): LatLon {
  const total = haversine(p, c);
  let best: { q: LatLon; depth: number } | undefined;
  for (let m = 0; m <= Math.min(total, corridorM - 20); m += 5) {
    const q = towards(p, c, m);
    const depth = depthM(polygons, q);
    if (!best || depth > best.depth) best = { q, depth };
  }
  if (best && best.depth >= 30) return best.q;
  for (let m = 0; m < total; m += 5) {
    const q = towards(p, c, m);
    if (depthM(polygons, q) >= 50) return q;
  }
  return c;
}

function buildTwist(
  o: TripPlannerOptions,
  twist: Twist,
): { cycle?: TruckCycle; skipped?: string; blindAtM?: number } {
  const { world, haul: h, rng } = o;
  const base = normalCycle(h);
  const [load, , unload] = base.legs as [Dwell, Drive, Dwell, Drive];
  const haulLine = h.line;
  const back = h.line.reversed();
  const L = haulLine.lengthM;
  const cycle = (legs: Leg[], fullRange: [number, number] = [0.8, 0.95]): TruckCycle => ({
    legs,
    start: 0,
    fullRange,
  });
  const onHaul = (over: Partial<Drive>): TruckCycle =>
    cycle([load, { type: 'drive', line: haulLine, ...over }, unload, base.legs[3]!]);
  switch (twist.type) {
    case 'OFF_ROUTE': {
      const [a, b] = longestStretch(haulLine);
      if (b - a < 400) return { skipped: 'OFF_ROUTE: no straight stretch of 400 m on the haul for a detour' };
      const from = a + 0.15 * (b - a);
      const to = b - 0.15 * (b - a);
      // the side with more room: the detour must stay clear of sites and zones
      const sides = [400, -400].map((m) => ({ m, d: spliceDetour(haulLine, from, to, m) }));
      const room = (d: ReturnType<typeof spliceDetour>) =>
        clearanceM(world, d.line.at((d.parallelFromM + d.parallelToM) / 2).pos);
      const side = room(sides[0]!.d) >= room(sides[1]!.d) ? sides[0]! : sides[1]!;
      // a blind area on this trip covers the detour: it starts just before the truck leaves the route
      return { cycle: onHaul({ line: side.d.line }), blindAtM: Math.max(0, from - 100) };
    }
    case 'ILLEGAL_DUMP': {
      const at = roadsidePoint(world, haulLine);
      if (at === undefined) return { skipped: 'ILLEGAL_DUMP: no roadside point clear of sites and zones' };
      const to = truncateLine(haulLine, at);
      const dump: Dwell = {
        type: 'dwell',
        action: 'unload',
        at: to.points.at(-1)!,
        minMs: 2 * MIN,
        maxMs: 3 * MIN,
      };
      return {
        cycle: cycle([load, { type: 'drive', line: to }, dump, { type: 'drive', line: to.reversed() }]),
      };
    }
    case 'SUSPECTED_DUMP': {
      const at = roadsidePoint(world, haulLine);
      if (at === undefined) return { skipped: 'SUSPECTED_DUMP: no roadside point clear of sites and zones' };
      const first = truncateLine(haulLine, at);
      const rest = new Polyline([
        haulLine.at(at).pos,
        ...haulLine.points.filter((_, i) => (haulLine.cumulative[i] as number) > at),
      ]);
      return {
        cycle: cycle([
          load,
          { type: 'drive', line: first },
          { type: 'park', minMs: 6 * MIN, maxMs: 7 * MIN },
          { type: 'drive', line: rest },
          unload,
          base.legs[3]!,
        ]),
      };
    }
    case 'SPILLAGE': {
      const from = 0.25 * L;
      const to = Math.min(from + 1200, 0.8 * L);
      if (to - from < 500) return { skipped: 'SPILLAGE: haul shorter than 2 km' };
      const calm = [from - 50, to + 50] as const;
      if (twist.variant === 'weight')
        return {
          cycle: onHaul({ leak: { fromM: from, toM: to, totalT: round2(rng.range(1.2, 2.2)) }, calm }),
        };
      return { cycle: onHaul({ coverOpen: [from, to], calm }) };
    }
    case 'WRONG_SITE': {
      const named = new Set(
        world.permits.filter((p) => p.vehicles.includes(o.vehicle)).flatMap((p) => p.disposals),
      );
      if (named.size === 0)
        return { skipped: 'WRONG_SITE: the truck holds no permit (not judged without one)' };
      let best: { atM: number; target: LatLon; d: number } | undefined;
      for (const s of world.sites) {
        if (s.kind !== 'disposal' || named.has(s.id)) continue;
        const c = centroidOf(s.polygons);
        const near = nearestOnLine(haulLine, c);
        if (near.alongM < 200 || near.distanceM > 2000) continue;
        const target = tippingPoint(haulLine.at(near.alongM).pos, c, s.polygons, h.route.corridorM);
        if (!best || near.distanceM < best.d) best = { atM: near.alongM, target, d: near.distanceM };
      }
      if (!best) return { skipped: 'WRONG_SITE: no disposal site off the permit within 2 km of the haul' };
      const to = new Polyline([...truncateLine(haulLine, best.atM).points, best.target]);
      const tip: Dwell = { type: 'dwell', action: 'unload', at: best.target, ...UNLOAD_DWELL };
      return {
        cycle: cycle([load, { type: 'drive', line: to }, tip, { type: 'drive', line: to.reversed() }]),
      };
    }
    case 'OVERSPEED': {
      const [a, b] = longestStretch(haulLine);
      const limit = b - a >= 400 ? routeLimitAt(h, haulLine.at((a + b) / 2).pos) : undefined;
      if (limit !== undefined) {
        const from = a + 0.1 * (b - a);
        const to = b - 0.1 * (b - a);
        const fast = { fromM: from, toM: to, minKmh: limit * 1.3, maxKmh: limit * 1.45 };
        return { cycle: onHaul({ fast, calm: [from, to] }) };
      }
      const zone = nearestZone(world, back, 'speed');
      if (!zone?.zone.speedLimitKmh)
        return { skipped: 'OVERSPEED: no route limit on a long stretch and no speed zone near the haul' };
      const line = withSpur(back, zone.atM, zone.target);
      const lim = zone.zone.speedLimitKmh;
      const fast = {
        fromM: zone.atM,
        toM: zone.atM + 2 * zone.lengthM,
        minKmh: lim * 1.4,
        maxKmh: lim * 1.6,
      };
      return { cycle: cycle([load, base.legs[1]!, unload, { type: 'drive', line, fast }]) };
    }
    case 'RESTRICTED_ZONE': {
      // on the way back, empty: a loaded short cut would be OFF_ROUTE as well
      const zone = nearestZone(world, back, 'restricted');
      if (!zone)
        return { skipped: 'RESTRICTED_ZONE: no restricted zone for muck trucks within 3 km of the haul' };
      return {
        cycle: cycle([
          load,
          base.legs[1]!,
          unload,
          { type: 'drive', line: withSpur(back, zone.atM, zone.target) },
        ]),
      };
    }
    case 'OVERLOAD':
      return { cycle: { ...base, fullRange: [1.12, 1.2] } };
    case 'OFFLINE': {
      // parked empty in the disposal site after tipping, ignition on, its terminal silent for longer than
      // the allowance (max(3 x interval, 10 min)); it reports again before it leaves, still parked, so
      // the silence is no TRACK_GAP (nothing moved)
      const allowed = Math.max(
        o.world.thresholds.offlineMinMs,
        o.world.thresholds.offlineFactor * o.intervalMs,
      );
      const silentMs = [allowed + MIN, allowed + 3 * MIN] as const;
      const wait: Leg = { type: 'park', minMs: 0, maxMs: 0, silentMs };
      return { cycle: cycle([load, base.legs[1]!, unload, wait, base.legs[3]!]) };
    }
    case 'TRACK_GAP':
      return { cycle: onHaul({ silence: { atM: 0.4 * L, minMs: 6 * MIN, maxMs: 6.5 * MIN } }) };
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
