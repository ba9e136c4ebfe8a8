import { spliceDetour, truncateLine } from '../demo/geometry.ts';
import { type Drive, type Dwell, type Leg, type TruckCycle, UNLOAD_DWELL } from '../motion/truck-cycle.ts';
import type { ScenarioInjection } from '../scenario/file-schema.ts';
import type { Haul, SimWorld } from '../scenario/world.ts';
import { centroidOf, nearestOnLine } from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import { type LatLon, Polyline } from '../shared/tracks.ts';

import type { Twist } from './inject-spec.ts';
import {
  clearanceM,
  longestStretch,
  nearestZone,
  normalCycle,
  roadsidePoint,
  routeLimitAt,
  tippingPoint,
  withSpur,
} from './twist-geometry.ts';

/**
 * The trip cycle that breaks one rule (a twist) on a truck's own haul, large enough that the rule's
 * threshold is clearly crossed (inject.ts says which trips get one).
 */

const MIN = 60_000;

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

export function buildTwist(
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

export const round2 = (x: number) => Math.round(x * 100) / 100;
