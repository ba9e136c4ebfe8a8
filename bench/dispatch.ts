import { type Fix, UNIT_KINDS } from '../core/fix.ts';
import { LiveUnits } from '../dispatch/live-units.ts';
import { compileWorld } from '../geofence/compile.ts';
import { Ruler } from '../geofence/geo/ruler.ts';
import { DEFAULT_THRESHOLDS } from '../geofence/thresholds/index.ts';
import { mulberry32 } from '../simulators/shared/rng.ts';
import type { Benchmark, Figure } from './types.ts';

/**
 * Nearest-unit dispatch (issue 15, item 5): 100,000 live units (a third of each kind) spread over a
 * 60 km square around Hefei, a third of each kind clustered in the central 10 km as a city's fleet is,
 * fed to the live index (dispatch/live-units.ts) as fixes; between two queries, 100 fixes move random
 * units. Each query asks what GET /dispatch/nearest asks (the 10 nearest units of one kind; every other
 * vehicle query the available ones: online, and on duty as units without plans are) at a random point,
 * once from the grids and once by a linear scan of every live unit (the kind checked per unit, as the
 * other filters are), in the same run, on the same state: p50 and p99 of each, and the ratio of the
 * medians (a p99 on a loaded machine is the scheduler's more than the search's; the means are in the
 * note). Both answers are compared for every query: a wrong fast answer would be no figure.
 */

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const CENTRE: [number, number] = [117.23, 31.82];

export const dispatch: Benchmark = {
  name: 'dispatch',
  description: 'nearest units from the live grid index vs a linear scan, 100,000 units',
  async run(ctx) {
    const units = 100_000;
    const queries = ctx.quick ? 300 : 1500;
    const movesPerQuery = 100;
    const rnd = mulberry32(15);
    const ruler = new Ruler(CENTRE[1], CENTRE[0]);
    // no plans: every online unit is on duty, so `available` costs the online check of each candidate
    const world = compileWorld({
      sites: [],
      routes: [],
      zones: [],
      permits: [],
      vehicles: [],
      thresholds: { id: 'city', version: 1, values: { ...DEFAULT_THRESHOLDS } },
    });
    let now = Date.UTC(2026, 11, 7, 2);
    const live = new LiveUnits({ world: () => world, now: () => now, intervalS: () => 30 });
    const fixOf = (i: number): Fix => {
      const central = Math.floor(i / 3) % 3 === 0;
      const r = central ? 5_000 : 30_000;
      const [lon, lat] = ruler.offset(CENTRE, (rnd() * 2 - 1) * r, (rnd() * 2 - 1) * r);
      return {
        vehicle: `u${i}`,
        device: `d${i}`,
        kind: UNIT_KINDS[i % 3]!,
        firm: `F${i % 40}`,
        // a tenth of the units last heard an hour ago: offline, so `available` skips them
        ts: i % 10 === 9 ? now - 3_600_000 : now - Math.floor(rnd() * 30_000),
        received: now,
        lat,
        lon,
        speed: rnd() * 40,
        valid: true,
        crsIn: 'WGS84',
        late: false,
      };
    };
    const all: Fix[] = [];
    for (let i = 0; i < units; i++) all.push(fixOf(i));
    live.onFixes(all);
    ctx.progress(`[dispatch] ${live.size} units live; ${queries} queries, ${movesPerQuery} moves each`);
    const query = (q: number) => {
      const [lon, lat] = ruler.offset(CENTRE, (rnd() * 2 - 1) * 25_000, (rnd() * 2 - 1) * 25_000);
      const kind = UNIT_KINDS[q % 3]!;
      // without duty plans no camera is on duty: `available` is asked of the vehicles
      return { lon, lat, kind, limit: 10, available: q % 2 === 1 && kind !== 'body_camera' };
    };
    // warm-up: both searches compiled by the JIT before anything is timed
    for (let q = 0; q < 200; q++) {
      const args = query(q);
      live.nearest(args);
      if (q < 20) live.scan(args);
    }
    const grid: number[] = [];
    const scan: number[] = [];
    let mismatches = 0;
    for (let q = 0; q < queries; q++) {
      now += 1000;
      const moves: Fix[] = [];
      for (let m = 0; m < movesPerQuery; m++) {
        const f = fixOf(Math.floor(rnd() * units));
        moves.push({ ...f, ts: now });
      }
      live.onFixes(moves);
      const args = query(q);
      let t0 = process.hrtime.bigint();
      const a = live.nearest(args);
      grid.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      const b = live.scan(args);
      scan.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (a.length !== 10 || a.map((x) => x.unit).join() !== b.map((x) => x.unit).join()) mismatches++;
    }
    if (mismatches > 0) throw new Error(`dispatch: ${mismatches} grid answers differ from the scan's`);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const figures: Figure[] = [
      {
        name: 'dispatch_nearest_p50_ms',
        value: round(quantile(grid, 0.5)),
        unit: 'ms',
        note: 'k=10 of one kind, a third of the queries available vehicles only',
      },
      {
        name: 'dispatch_nearest_p99_ms',
        value: round(quantile(grid, 0.99)),
        unit: 'ms',
        note: `${units} live units, goal <= 2 ms`,
      },
      {
        name: 'dispatch_scan_p99_ms',
        value: round(quantile(scan, 0.99)),
        unit: 'ms',
        note: 'linear scan of every live unit, the kind checked per unit, same queries',
      },
      {
        name: 'dispatch_ratio',
        value: Math.round((quantile(scan, 0.5) / quantile(grid, 0.5)) * 10) / 10,
        unit: 'x',
        note: `median scan / median grid, same queries (goal >= 100x); means ${round(mean(scan))} / ${round(mean(grid))} ms`,
      },
    ];
    return figures;
  },
};
