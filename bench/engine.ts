import { performance } from 'node:perf_hooks';
import * as turf from '@turf/turf';
import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { createEngine, type VehicleState } from '../geofence/engine.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import { backfillFigures } from './engine-backfill.ts';
import { errorSummary, type LoopResult, runLoop } from './engine-loop.ts';
import { runStateChild } from './engine-state.ts';
import { type BenchWorld, buildWorld, FixStream, ROUTES, vehicleId, ZONES } from './engine-world.ts';
import type { BenchContext, Benchmark, Figure } from './types.ts';

/**
 * The compliance engine alone (issue 3), in this process, no I/O:
 *
 * - World: a seeded registry snapshot around Hefei: 1,000 routes (10-30 km, 400-600 vertices, road-like:
 *   mostly straight with bends and turns), an origin and a disposal site polygon at the ends of each,
 *   500 zones (restricted and speed, with daily windows, some with holes), 1,000 active permits (10
 *   vehicles, 1 origin, 1 disposal, 1 route, hours 20:00-06:00 for most, valid all November 2026), 10,000
 *   muck trucks. `compileWorld` once (engine_compile_ms).
 * - Fixes: every vehicle drives its permit's route, loaded, every 10 s, interleaved as a live stream
 *   (vehicle 0..9999, then the next round), from 22:30 CST: GNSS jitter, rare multipath jumps, rare
 *   invalid fixes, some trucks leaving the corridor for minutes, some speeding, some loading at the origin
 *   first, some reaching the disposal site and tipping. All generated before timing.
 * - engine_fixes_per_s: `createEngine(ALL_RULES, chinaCalendar).step` per fix with a Map<vehicle,
 *   VehicleState>, after a warm-up of the first rounds (same states, in time order). One core by
 *   construction: the step loop is synchronous JavaScript on the main thread, no workers.
 * - naive_turf_fixes_per_s, the baseline of engine_ratio: a sample of the same fixes through what a user
 *   would write with turf and no spatial index: pointToLineDistance to the permit's own route (the
 *   corridor check), and every zone and every site tested with booleanPointInPolygon behind a bounding-box
 *   prefilter (turf.bbox of each polygon computed once, outside the timing). Geometry only, once per fix;
 *   the engine also runs every rule's state machine, so the comparison favours the baseline on work
 *   done, and the index (the engine's advantage) is the difference.
 * - naive_turf_all_routes_fixes_per_s (full runs only): the same plus pointToLineDistance to every one of the 1,000 routes
 *   (a nearest-route search); kept under its own name only, it is not a baseline (the engine checks the
 *   permit's routes, never all of them).
 * - engine_bytes_per_vehicle: a child process started with --expose-gc compiles a world with 100,000
 *   vehicles (10,000 quick; the same 1,000 permits, more vehicles each), steps each vehicle through a few
 *   fixes, and divides the heap growth after gc() (Map, keys, states, last fixes) by the vehicle count.
 *
 * A rule that throws is not hidden: the fix is counted in engine_step_errors, the state is left as it
 * was, and the failing rule (found by re-running the fix with each rule wrapped) and the fix are reported
 * on stderr and in the figure note.
 */

type BBox = [number, number, number, number];

const inBox = (b: BBox, lon: number, lat: number): boolean =>
  lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3];

/**
 * Fixes per second through turf, timed over `sample` fixes spread over the stream after one warm-up
 * fix. `allRoutes` adds the distance to every route (the strawman); without it this is the fair
 * baseline: own route, then every zone and site behind a bounding-box prefilter.
 */
function naiveRate(
  world: BenchWorld,
  fixes: readonly Fix[],
  sample: number,
  allRoutes: boolean,
  progress: (l: string) => void,
): { perS: number; checksum: number; n: number; bboxHits: number } {
  const snap = world.snapshot;
  const routeLines = snap.routes.map((r) => turf.lineString(r.line));
  const areas = [...snap.zones, ...snap.sites].map((a) => {
    const poly = turf.multiPolygon(a.polygons);
    return { poly, box: turf.bbox(poly) as BBox };
  });
  const permitRoute = new Map<string, number>();
  for (let i = 0; i < snap.permits.length; i++)
    for (const v of snap.permits[i]!.vehicles) permitRoute.set(v, i);
  let bboxHits = 0;
  const one = (f: Fix): number => {
    const pt = turf.point([f.lon, f.lat]);
    const own = turf.pointToLineDistance(pt, routeLines[permitRoute.get(f.vehicle)!]!, { units: 'meters' });
    let nearest = 0;
    if (allRoutes) {
      nearest = Number.POSITIVE_INFINITY;
      for (const l of routeLines) {
        const d = turf.pointToLineDistance(pt, l, { units: 'meters' });
        if (d < nearest) nearest = d;
      }
    }
    let inside = 0;
    for (const a of areas) {
      if (!inBox(a.box, f.lon, f.lat)) continue;
      bboxHits++;
      if (turf.booleanPointInPolygon(pt, a.poly)) inside++;
    }
    return own + nearest + inside;
  };
  const stride = Math.max(1, Math.floor(fixes.length / sample));
  let checksum = one(fixes[1]!) + one(fixes[2]!); // warm-up, not timed
  bboxHits = 0;
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < fixes.length && n < sample; i += stride, n++) checksum += one(fixes[i]!);
  const s = (performance.now() - t0) / 1000;
  progress(
    `[engine] naive turf${allRoutes ? ' (all routes)' : ''}: ${n} fixes in ${s.toFixed(1)} s, ` +
      `${(bboxHits / Math.max(1, n)).toFixed(2)} polygons past the bbox prefilter per fix`,
  );
  return { perS: n / s, checksum, n, bboxHits };
}

// ---- the benchmark ------------------------------------------------------------------------------------

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export const engine: Benchmark = {
  name: 'engine',
  description:
    'compliance engine alone, one core: 1,000 permits/routes, 500 zones, 10,000 vehicles; vs naive turf; state bytes',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const VEHICLES = 10_000;
    // quick: 100,000 timed fixes (2 to 3 s of stepping), enough for a stable rate; the quick run has
    // to leave room for the cluster benchmark in its 3 minutes
    const WARM_ROUNDS = ctx.quick ? 3 : 10;
    const TIMED_ROUNDS = ctx.quick ? 10 : 50;
    // own route + bbox-prefiltered zones and sites: a few ms per fix
    const NAIVE_SAMPLE = ctx.quick ? 200 : 2000;
    // all routes: about 2 s per fix (~500,000 turf segment distances); not a baseline, full runs only
    const ALL_ROUTES_SAMPLE = ctx.quick ? 0 : 3;
    const STATE_VEHICLES = ctx.quick ? 10_000 : 100_000;
    const STATE_ROUNDS = 6;

    let t = performance.now();
    const world = buildWorld(VEHICLES / ROUTES);
    ctx.progress(
      `[engine] world: ${ROUTES} routes (${fmt(world.vertexCount)} vertices), ${world.snapshot.sites.length} sites, ` +
        `${ZONES} zones, ${world.snapshot.permits.length} permits, ${VEHICLES} vehicles (${(performance.now() - t).toFixed(0)} ms)`,
    );
    t = performance.now();
    const compiled = compileWorld(world.snapshot);
    const compileMs = performance.now() - t;

    const rounds = WARM_ROUNDS + TIMED_ROUNDS;
    t = performance.now();
    const stream = new FixStream(world, compiled, VEHICLES, rounds);
    const fixes: Fix[] = [];
    for (let k = 0; k < rounds; k++) for (let v = 0; v < VEHICLES; v++) fixes.push(stream.fix(v, k));
    ctx.progress(
      `[engine] ${fmt(fixes.length)} fixes generated in ${(performance.now() - t).toFixed(0)} ms (not timed)`,
    );

    const eng = createEngine(ALL_RULES, chinaCalendar);
    const states = new Map<string, VehicleState>();
    const warm: LoopResult = { events: 0, errors: 0, byCode: new Map(), firstErrors: [] };
    const warmEnd = WARM_ROUNDS * VEHICLES;
    runLoop(eng, ALL_RULES, compiled, states, fixes, 0, warmEnd, warm);
    const timed: LoopResult = { events: 0, errors: 0, byCode: warm.byCode, firstErrors: warm.firstErrors };
    t = performance.now();
    runLoop(eng, ALL_RULES, compiled, states, fixes, warmEnd, fixes.length, timed);
    const engineS = (performance.now() - t) / 1000;
    const timedFixes = fixes.length - warmEnd;
    const engineRate = timedFixes / engineS;
    const errors = warm.errors + timed.errors;
    ctx.progress(
      `[engine] ${fmt(timedFixes)} fixes in ${(engineS * 1000).toFixed(0)} ms after ${fmt(warmEnd)} warm-up; ` +
        `events ${warm.events} warm + ${timed.events} timed; errors ${errors}`,
    );
    ctx.progress(
      `[engine] events by code:phase: ${[...timed.byCode.entries()]
        .sort()
        .map(([k, n]) => `${k}=${n}`)
        .join(' ')}`,
    );
    for (const e of timed.firstErrors.slice(0, 5)) {
      ctx.progress(`[engine] RULE THREW ${e.rule}: ${e.message} on fix ${JSON.stringify(e.fix)}`);
    }

    const timedFixesList = fixes.slice(warmEnd);
    const naive = naiveRate(world, timedFixesList, NAIVE_SAMPLE, false, ctx.progress);
    const allRoutes =
      ALL_ROUTES_SAMPLE > 0
        ? naiveRate(world, timedFixesList, ALL_ROUTES_SAMPLE, true, ctx.progress)
        : undefined;
    const ratio = engineRate / naive.perS;

    // late fixes (issue 17): 1,000 trucks, a 10-minute blind area each, re-judged vs in-order stepping
    // (per-fix rates: half the trucks in a quick run measure the same thing)
    const BACKFILL_TRUCKS = ctx.quick ? 500 : 1_000;
    const backfillRounds = ctx.quick ? 120 : 240;
    const bs = new FixStream(world, compiled, BACKFILL_TRUCKS, backfillRounds, 23);
    const tracks = Array.from({ length: BACKFILL_TRUCKS }, (_, v) => ({
      vehicle: vehicleId(v),
      fixes: [] as Fix[],
    }));
    for (let k = 0; k < backfillRounds; k++)
      for (let v = 0; v < BACKFILL_TRUCKS; v++) tracks[v]!.fixes.push(bs.fix(v, k));
    const backfill = backfillFigures({ world: compiled, tracks, progress: ctx.progress });

    ctx.progress(`[engine] state size: child process (--expose-gc), ${fmt(STATE_VEHICLES)} vehicles`);
    const st = await runStateChild(STATE_VEHICLES, STATE_ROUNDS, ctx.progress);
    ctx.progress(
      `[engine] state: heap ${fmt(st.heapBefore)} -> ${fmt(st.heapAfter)} bytes for ${fmt(st.vehicles)} vehicles; ` +
        `${st.openViolations} violations open; errors ${st.errors}${st.errorSummary ? ` (${st.errorSummary})` : ''}`,
    );

    const errNote =
      errors > 0 ? `; ${errors} fixes threw, state kept: ${errorSummary(timed.firstErrors)}` : '';
    const figures: Figure[] = [
      {
        name: 'engine_compile_ms',
        value: Math.round(compileMs * 10) / 10,
        unit: 'ms',
        note: `compileWorld once: ${ROUTES} routes / ${fmt(world.vertexCount)} vertices, ${world.snapshot.sites.length} sites, ${ZONES} zones, ${world.snapshot.permits.length} permits`,
      },
      {
        name: 'engine_fixes_per_s',
        value: Math.round(engineRate),
        unit: 'fixes/s',
        note:
          `one core: synchronous step loop on the main thread, ${ALL_RULES.length} rules, ${fmt(timedFixes)} fixes ` +
          `of ${fmt(VEHICLES)} vehicles interleaved, after ${fmt(warmEnd)} warm-up; ${timed.events} events${errNote}`,
      },
      {
        name: 'engine_events',
        value: timed.events,
        unit: 'events',
        note: 'violation events (opened/updated/closed) in the timed run',
      },
      {
        name: 'engine_step_errors',
        value: errors,
        unit: 'fixes',
        note: errors > 0 ? errorSummary(timed.firstErrors) : 'no rule threw',
      },
      {
        name: 'naive_turf_fixes_per_s',
        value: Number(naive.perS.toPrecision(3)),
        unit: 'fixes/s',
        note:
          `${naive.n} sampled fixes, one core: turf pointToLineDistance to the permit's own route, ` +
          `booleanPointInPolygon for the ${ZONES} zones + ${world.snapshot.sites.length} sites behind a bbox prefilter ` +
          `(${(naive.bboxHits / Math.max(1, naive.n)).toFixed(2)} polygons tested per fix; checksum ${naive.checksum.toFixed(0)})`,
      },
      {
        name: 'engine_ratio',
        value: Math.round(ratio),
        unit: 'x',
        note: 'engine_fixes_per_s / naive_turf_fixes_per_s (geometry only on the naive side, all rules on the engine side)',
      },
      {
        name: 'engine_bytes_per_vehicle',
        value: Math.round(st.bytesPerVehicle),
        unit: 'bytes',
        note:
          `heapUsed growth after gc() / ${fmt(st.vehicles)} vehicles (child --expose-gc), ${st.rounds} fixes each: ` +
          `Map entry, ids, VehicleState, slices, last fix; ${st.openViolations} violations open` +
          (st.errors > 0 ? `; ${st.errors} fixes threw: ${st.errorSummary}` : ''),
      },
      ...backfill,
      {
        name: 'judge_bytes_per_vehicle',
        value: Math.round(st.judgeBytesPerVehicle),
        unit: 'bytes',
        note:
          `heapUsed growth after gc() / ${fmt(st.vehicles)} vehicles: the shell's state with late fixes judged in time order ` +
          '(engine + trip tracker + ledger, and the id in the set of vehicles with a history; the history itself on disk); goal ≤ 2,048',
      },
    ];
    if (allRoutes !== undefined)
      figures.push({
        name: 'naive_turf_all_routes_fixes_per_s',
        value: Number(allRoutes.perS.toPrecision(3)),
        unit: 'fixes/s',
        note: `${allRoutes.n} sampled fixes: the same plus pointToLineDistance to all ${ROUTES} routes (not a baseline: the engine never checks all routes)`,
      });
    return figures;
  },
};
