import { localDate } from '../geofence/geo/windows.ts';
import type { Position } from '../geofence/model.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import { FixFactory } from '../simulators/load/fix-factory.ts';

/**
 * The compliance world of the e2e benchmark: one disposal permit per bench truck, built around the
 * path that truck will actually drive, so that every fix the load generator sends is judged against a
 * real permit, route, corridor, segment speed limit and sites (the rules do little for a truck without
 * a permit).
 *
 * The load generator's trucks (simulators/load/run.ts FixFactory, seeded `seed * 100_003 + index`) drive a
 * straight line from their start, turning back every 600 fixes. Replaying the same factory gives that
 * line; the route follows it (with a margin at both ends), an origin site surrounds the start and a
 * disposal site the far end. Every `offRouteEvery`-th truck gets its route 300 m to the side: it runs
 * outside its corridor from the first fix, so OFF_ROUTE opens for it (the engine's output then also
 * flows through the outbox to the event store during the run).
 */

export interface BenchTruck {
  /** index in the load generator's credential list */
  index: number;
  vehicle: string;
  firm: string;
}

export interface E2eWorldOptions {
  /** the load generator's --seed (simulators/load/run.ts default 1) */
  seed?: number;
  /** every n-th truck drives outside its corridor (0: none) */
  offRouteEvery?: number;
  now?: number;
}

export interface E2eWorldSummary {
  permits: number;
  routes: number;
  sites: number;
  offRouteTrucks: number;
}

const TURN_FIXES = 600; // FixFactory reverses every 600 fixes
const MARGIN_STEPS = 20;
const ROUTE_VERTICES = 40;
const SIDE_SHIFT_M = 300;
const M_PER_DEG_LAT = 111_320;

/**
 * The factory's first forward position and its turning point, as [lon, lat]: the positions the
 * payloads of its 1st and 599th next() carry (advance() moves as next() does, without the payload).
 */
export function pathOf(seed: number, index: number): { a: Position; b: Position } {
  const factory = new FixFactory(seed * 100_003 + index);
  factory.advance(0);
  const a = factory.position();
  for (let n = 2; n < TURN_FIXES; n++) factory.advance(0);
  return { a, b: factory.position() };
}

function square(c: Position, halfM: number): Position[][] {
  const dLat = halfM / M_PER_DEG_LAT;
  const dLon = halfM / (M_PER_DEG_LAT * Math.cos((c[1] * Math.PI) / 180));
  return [
    [
      [c[0] - dLon, c[1] - dLat],
      [c[0] + dLon, c[1] - dLat],
      [c[0] + dLon, c[1] + dLat],
      [c[0] - dLon, c[1] + dLat],
      [c[0] - dLon, c[1] - dLat],
    ],
  ];
}

/** Writes sites, routes and active permits for the trucks; call before the platform starts (no recompiles). */
export function seedE2eWorld(
  compliance: ComplianceRegistry,
  trucks: readonly BenchTruck[],
  opts: E2eWorldOptions = {},
): E2eWorldSummary {
  const seed = opts.seed ?? 1;
  const every = opts.offRouteEvery ?? 0;
  const now = opts.now ?? Date.now();
  const day = 86_400_000;
  let offRouteTrucks = 0;
  // one transaction for the whole world (one fsync, not 4 per truck)
  compliance.batch(() => {
    for (const truck of trucks) {
      const { a, b } = pathOf(seed, truck.index);
      const steps = TURN_FIXES - 2;
      const step: Position = [(b[0] - a[0]) / steps, (b[1] - a[1]) / steps];
      const offRoute = every > 0 && truck.index % every === every - 1;
      if (offRoute) offRouteTrucks++;
      // sideways = perpendicular to the direction of travel, in metres, back to degrees
      const kx = M_PER_DEG_LAT * Math.cos((a[1] * Math.PI) / 180);
      const ex = step[0] * kx;
      const ny = step[1] * M_PER_DEG_LAT;
      const len = Math.hypot(ex, ny) || 1;
      const shift: Position = offRoute
        ? [((-ny / len) * SIDE_SHIFT_M) / kx, ((ex / len) * SIDE_SHIFT_M) / M_PER_DEG_LAT]
        : [0, 0];
      const line: Position[] = [];
      const span = steps + 2 * MARGIN_STEPS;
      for (let k = 0; k < ROUTE_VERTICES; k++) {
        const s = -MARGIN_STEPS + (span * k) / (ROUTE_VERTICES - 1);
        line.push([a[0] + step[0] * s + shift[0], a[1] + step[1] * s + shift[1]]);
      }
      const id = truck.vehicle;
      compliance.put('site', {
        id: `site-o-${id}`,
        kind: 'origin',
        name: `工地 ${id}`,
        polygons: [square(a, 150)],
      });
      compliance.put('site', {
        id: `site-d-${id}`,
        kind: 'disposal',
        name: `消纳场 ${id}`,
        polygons: [square(b, 150)],
      });
      compliance.put('route', {
        id: `route-${id}`,
        name: `线路 ${id}`,
        line,
        limits: [{ from: 0, to: ROUTE_VERTICES - 1, speedLimitKmh: 40 }],
      });
      compliance.put('permit', {
        id: `permit-${id}`,
        firm: truck.firm,
        vehicles: [truck.vehicle],
        origins: [`site-o-${id}`],
        disposals: [`site-d-${id}`],
        routes: [`route-${id}`],
        validFrom: localDate(now - day),
        validTo: localDate(now + day),
        windows: ['00:00-24:00'],
        cargo: '建筑垃圾',
        state: 'active',
      });
    }
  });
  return { permits: trucks.length, routes: trucks.length, sites: 2 * trucks.length, offRouteTrucks };
}
