import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as turf from '@turf/turf';
import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { createEngine, type VehicleState } from '../geofence/engine.ts';
import { type LonLat, Ruler } from '../geofence/geo/ruler.ts';
import { createJudge, type JudgeState } from '../geofence/judge.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  RegistrySnapshot,
  Route,
  Site,
  VehicleProfile,
  Zone,
} from '../geofence/model.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../geofence/thresholds/index.ts';
import type { RuleContext, RuleModule, World } from '../geofence/types.ts';
import { REPO_ROOT } from './child.ts';
import { backfillFigures } from './engine-backfill.ts';
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
 *   vehicles (20,000 quick; the same 1,000 permits, more vehicles each), steps each vehicle through a few
 *   fixes, and divides the heap growth after gc() (Map, keys, states, last fixes) by the vehicle count.
 *
 * A rule that throws is not hidden: the fix is counted in engine_step_errors, the state is left as it
 * was, and the failing rule (found by re-running the fix with each rule wrapped) and the fix are reported
 * on stderr and in the figure note.
 */

// ---- seeded world -------------------------------------------------------------------------------------

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEFEI: LonLat = [117.23, 31.82];
const ruler = new Ruler(HEFEI[1], HEFEI[0]);
const ROUTES = 1000;
const ZONES = 500;
/** 2026-11-10 22:30 China Standard Time: night, when muck trucks run */
const T0 = Date.UTC(2026, 10, 10, 14, 30, 0);
const REPORT_MS = 10_000;

export interface BenchWorld {
  snapshot: RegistrySnapshot;
  /** per route: metres from the start at each vertex */
  cum: Float64Array[];
  vehiclesPerPermit: number;
  vertexCount: number;
}

function ring(c: LonLat, r: number, n: number, rnd: () => number): Position[] {
  const out: Position[] = [];
  for (let i = 0; i < n; i++)
    out.push(ruler.destination(c, r * (0.5 + rnd() * 0.5), ((i + rnd() * 0.8) / n) * 360));
  out.push(out[0]!);
  return out;
}

function regular(c: LonLat, r: number, n: number, rot: number): Position[] {
  const out: Position[] = [];
  for (let i = 0; i < n; i++) out.push(ruler.destination(c, r, rot + (i / n) * 360));
  out.push(out[0]!);
  return out;
}

export function vehicleId(v: number): string {
  return `v${String(v).padStart(6, '0')}`;
}

/** The registry snapshot; `vehiclesPerPermit` x 1,000 muck trucks (vehicle v drives permit v / per). */
export function buildWorld(vehiclesPerPermit: number, seed = 2026): BenchWorld {
  const rnd = prng(seed);
  const near = (c: LonLat, r: number) => ruler.offset(c, (rnd() * 2 - 1) * r, (rnd() * 2 - 1) * r);
  const routes: Route[] = [];
  const sites: Site[] = [];
  const cum: Float64Array[] = [];
  let vertexCount = 0;
  for (let i = 0; i < ROUTES; i++) {
    const lengthM = 10_000 + rnd() * 20_000;
    const n = 400 + Math.floor(rnd() * 200);
    // step lengths scaled so the polyline is exactly lengthM long
    const steps: number[] = [];
    let sum = 0;
    for (let k = 1; k < n; k++) {
      const s = 0.6 + rnd() * 0.8;
      steps.push(s);
      sum += s;
    }
    const line: Position[] = [near(HEFEI, 20_000)];
    const c = new Float64Array(n);
    let heading = rnd() * 360;
    for (let k = 1; k < n; k++) {
      const prev = line[k - 1]!;
      const u = rnd();
      // road-like: straight stretches with slight bends, now and then a turn at a junction
      if (u < 0.04) heading += (rnd() < 0.5 ? -1 : 1) * (60 + rnd() * 30);
      else if (u < 0.5) heading += (rnd() * 2 - 1) * 5;
      // stay in the city: steer back toward the centre when more than 25 km out
      if (ruler.distanceM(prev, HEFEI) > 25_000) heading = ruler.bearingDeg(prev, HEFEI);
      const d = (steps[k - 1]! / sum) * lengthM;
      line.push(ruler.destination(prev, d, heading));
      c[k] = c[k - 1]! + ruler.distanceM(prev, line[k]!);
    }
    vertexCount += n;
    cum.push(c);
    routes.push({
      id: `route-${i}`,
      version: 1,
      name: `Route ${i}`,
      line,
      corridorM: 50,
      limits: [
        { from: 0, to: n - 1, speedLimitKmh: 60, nightLimitKmh: 50 },
        // a school or market stretch a third of the way along
        { from: Math.floor(n / 3), to: Math.floor(n / 3) + 20, speedLimitKmh: 40 },
      ],
    });
    sites.push({
      id: `site-o-${i}`,
      version: 1,
      kind: 'origin',
      name: `Origin ${i}`,
      polygons: [[regular(line[0]!, 120 + rnd() * 130, 8, rnd() * 45)]],
    });
    sites.push({
      id: `site-d-${i}`,
      version: 1,
      kind: 'disposal',
      name: `Disposal ${i}`,
      polygons: [[regular(line[n - 1]!, 150 + rnd() * 150, 10, rnd() * 36)]],
    });
  }

  // most bans on muck trucks are by day; a few zones are closed all day or at night
  const restrictedWindows = [
    ['07:00-09:00', '17:00-19:00'],
    ['06:00-22:00'],
    ['00:00-24:00'],
    ['22:00-06:00'],
  ];
  const zones: Zone[] = [];
  for (let i = 0; i < ZONES; i++) {
    const c = near(HEFEI, 22_000);
    const r = 200 + rnd() * 1300;
    const outer = ring(c, r, 8 + Math.floor(rnd() * 52), rnd);
    const polygon: PolygonCoords = rnd() < 0.3 ? [outer, ring(c, r * 0.4, 6, rnd).reverse()] : [outer];
    if (rnd() < 0.6) {
      const u = rnd();
      zones.push({
        id: `zone-${i}`,
        version: 1,
        kind: 'restricted',
        name: `Restricted ${i}`,
        polygons: [polygon],
        windows: restrictedWindows[u < 0.45 ? 0 : u < 0.9 ? 1 : u < 0.97 ? 2 : 3]!,
      });
    } else {
      zones.push({
        id: `zone-${i}`,
        version: 1,
        kind: 'speed',
        name: `Speed ${i}`,
        polygons: [polygon],
        windows: rnd() < 0.5 ? [] : ['22:00-06:00'],
        speedLimitKmh: [30, 40, 50][Math.floor(rnd() * 3)]!,
      });
    }
  }

  const permits: Permit[] = [];
  const vehicles: VehicleProfile[] = [];
  for (let i = 0; i < ROUTES; i++) {
    const firm = `firm-${i % 60}`;
    const ids: string[] = [];
    for (let j = 0; j < vehiclesPerPermit; j++) {
      const id = vehicleId(i * vehiclesPerPermit + j);
      ids.push(id);
      vehicles.push({ id, version: 1, firm, kind: 'muck_truck', ratedLoadT: 30, reportIntervalS: 10 });
    }
    permits.push({
      id: `permit-${i}`,
      version: 1,
      firm,
      vehicles: ids,
      origins: [`site-o-${i}`],
      disposals: [`site-d-${i}`],
      routes: [`route-${i}`],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      // 2 % of the permits start later: their trucks drive outside permitted hours at 22:30
      windows: rnd() < 0.02 ? ['23:30-05:00'] : ['20:00-06:00'],
      cargo: 'construction muck',
    });
  }
  return {
    snapshot: {
      sites,
      routes,
      zones,
      permits,
      vehicles,
      thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    },
    cum,
    vehiclesPerPermit,
    vertexCount,
  };
}

// ---- fixes --------------------------------------------------------------------------------------------

/**
 * Per-vehicle driving plans; `fix(v, k)` is vehicle v's fix of round k (call in increasing k per vehicle).
 * Strings (vehicle, device ids) are created here, not shared with the registry, as ingest would. Drivers
 * keep to the route's night limit and to the speed zones in force (asked of the compiled world, outside
 * any timing), except the speeders.
 */
export class FixStream {
  private readonly rnd: () => number;
  private readonly vehicle: string[] = [];
  private readonly device: string[] = [];
  /** metres along the route now (advanced by each fix's speed) */
  private readonly arc: Float64Array;
  private readonly mps: Float64Array;
  private readonly speeder: Uint8Array;
  /** 0 normal, 1 loads at the origin first */
  private readonly mode: Uint8Array;
  private readonly offFrom: Int32Array;
  private readonly offLen: Int32Array;
  private readonly offM: Float64Array;
  /** direction of the detour's offset, fixed when it starts (NaN before) */
  private readonly offBearing: Float64Array;
  private readonly seg: Int32Array;
  private readonly arrived: Int32Array;
  private readonly weight: Float64Array;

  constructor(
    private readonly world: BenchWorld,
    private readonly compiled: World,
    readonly vehicles: number,
    rounds: number,
    seed = 7,
  ) {
    const rnd = prng(seed);
    this.rnd = rnd;
    this.arc = new Float64Array(vehicles);
    this.mps = new Float64Array(vehicles);
    this.speeder = new Uint8Array(vehicles);
    this.mode = new Uint8Array(vehicles);
    this.offFrom = new Int32Array(vehicles).fill(-1);
    this.offLen = new Int32Array(vehicles);
    this.offM = new Float64Array(vehicles);
    this.offBearing = new Float64Array(vehicles).fill(Number.NaN);
    this.seg = new Int32Array(vehicles);
    this.arrived = new Int32Array(vehicles).fill(-1);
    this.weight = new Float64Array(vehicles);
    for (let v = 0; v < vehicles; v++) {
      this.vehicle.push(`v${String(v).padStart(6, '0')}`);
      this.device.push(`dev-${String(v).padStart(6, '0')}`);
      const c = world.cum[this.routeOf(v)]!;
      const len = c[c.length - 1]!;
      this.mode[v] = rnd() < 0.05 ? 1 : 0;
      this.arc[v] = this.mode[v] === 1 ? 0 : rnd() * len * 0.95;
      // 3 % speeders (68-80 km/h whatever the limit), the rest want 35-50 km/h within the limits
      this.speeder[v] = rnd() < 0.03 ? 1 : 0;
      this.mps[v] = (this.speeder[v] === 1 ? 68 + rnd() * 12 : 35 + rnd() * 15) / 3.6;
      // 1 % overloaded (rated 30 t)
      this.weight[v] = rnd() < 0.01 ? 34 + rnd() * 4 : 22 + rnd() * 6;
      // 3 % leave the corridor for a while
      if (rnd() < 0.03) {
        this.offFrom[v] = Math.floor(rnd() * Math.max(1, rounds * 0.8));
        this.offLen[v] = 8 + Math.floor(rnd() * 20);
        this.offM[v] = 150 + rnd() * 250;
      }
    }
  }

  routeOf(v: number): number {
    return Math.floor(v / this.world.vehiclesPerPermit);
  }

  fix(v: number, k: number): Fix {
    const rnd = this.rnd;
    const r = this.routeOf(v);
    const line = this.world.snapshot.routes[r]!.line;
    const c = this.world.cum[r]!;
    const len = c[c.length - 1]!;
    const ts = T0 + k * REPORT_MS + Math.floor((v * REPORT_MS) / this.vehicles);
    let moving = true;
    let load: 'empty' | 'full' = 'full';
    let weight = this.weight[v]!;
    let lift: 'up' | 'down' = 'down';
    let s: number;
    if (this.mode[v] === 1) {
      // at the excavator for three rounds, loading on the third, then off
      if (k < 3) {
        moving = false;
        s = 0;
        if (k < 2) {
          load = 'empty';
          weight = 0.6;
        }
      } else s = this.arc[v]!;
    } else s = this.arc[v]!;
    if (s >= len) {
      // at the disposal site: tip once, then stand there empty
      s = len;
      moving = false;
      if (this.arrived[v]! < 0) this.arrived[v] = k;
      if (k === this.arrived[v]) lift = 'up';
      else {
        load = 'empty';
        weight = 0.6;
      }
    }
    let i = this.seg[v]!;
    while (i < c.length - 2 && c[i + 1]! < s) i++;
    this.seg[v] = i;
    const a = line[i]!;
    const b = line[i + 1]!;
    const segLen = c[i + 1]! - c[i]!;
    const t = segLen > 0 ? Math.min(1, Math.max(0, (s - c[i]!) / segLen)) : 0;
    let p: LonLat = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    const bearing = ruler.bearingDeg(a, b);
    let kmh = moving ? this.mps[v]! * 3.6 : 0;
    if (moving && this.speeder[v] === 0) {
      // night limit of the route (40 on the school stretch), and speed zones in force
      const n = line.length;
      let limit = i >= Math.floor(n / 3) && i < Math.floor(n / 3) + 20 ? 40 : 50;
      for (const z of this.compiled.zonesAt([p[0], p[1]])) {
        if (z.kind === 'speed' && z.speedLimitKmh !== undefined && z.speedLimitKmh < limit)
          limit = z.speedLimitKmh;
      }
      kmh = Math.min(kmh, limit - 3);
    }
    if (moving) this.arc[v] = s + (kmh / 3.6) * (REPORT_MS / 1000);
    const of = this.offFrom[v]!;
    const ol = this.offLen[v]!;
    if (of >= 0 && k >= of && k < of + ol && moving) {
      // a detour: out over three rounds, back over three, a fixed offset from the route meanwhile
      if (Number.isNaN(this.offBearing[v]!)) this.offBearing[v] = bearing + 90;
      const f = Math.min(1, (k - of + 1) / 3, (of + ol - k) / 3);
      p = ruler.destination(p, this.offM[v]! * f, this.offBearing[v]!);
    }
    // GNSS jitter, and a multipath jump now and then
    p = ruler.offset(p, (rnd() * 2 - 1) * 6, (rnd() * 2 - 1) * 6);
    if (rnd() < 0.005) p = ruler.destination(p, 30 + rnd() * 50, rnd() * 360);
    const speed = moving ? Math.max(0, (kmh + (rnd() * 2 - 1) * 2) | 0) : 0;
    return {
      vehicle: this.vehicle[v]!,
      device: this.device[v]!,
      kind: 'muck_truck',
      firm: `firm-${r % 60}`,
      ts,
      received: ts + 400,
      lat: p[1],
      lon: p[0],
      speed,
      heading: Math.round((bearing + 360) % 360) % 360,
      sats: 12,
      accuracy: 5,
      valid: rnd() >= 0.002,
      crsIn: 'WGS84',
      late: false,
      ign: true,
      load,
      weight: Math.round(weight * 10) / 10,
      cover: 'closed',
      lift,
    };
  }
}

// ---- engine loop --------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: each rule owns its own slice type
type AnyRule = RuleModule<any>;

interface StepError {
  rule: string;
  message: string;
  fix: Fix;
}

/** Which rule throws on this (state, fix): re-run with every rule wrapped. */
function diagnose(
  rules: readonly AnyRule[],
  state: VehicleState,
  fix: Fix,
  world: World,
  err: unknown,
): StepError {
  let found: StepError | undefined;
  const wrapped: AnyRule[] = rules.map((r) => ({
    ...r,
    step(s: unknown, ctx: RuleContext) {
      try {
        return r.step(s, ctx);
      } catch (e) {
        found ??= { rule: r.code, message: (e as Error).message ?? String(e), fix: ctx.fix };
        throw e;
      }
    },
  }));
  try {
    createEngine(wrapped, chinaCalendar).step(state, fix, world);
  } catch {
    // found is set (or the core itself threw)
  }
  return found ?? { rule: '(engine core)', message: (err as Error).message ?? String(err), fix };
}

interface LoopResult {
  events: number;
  errors: number;
  byCode: Map<string, number>;
  firstErrors: StepError[];
}

function runLoop(
  engine: ReturnType<typeof createEngine>,
  rules: readonly AnyRule[],
  world: World,
  states: Map<string, VehicleState>,
  fixes: readonly Fix[],
  from: number,
  to: number,
  out: LoopResult,
): void {
  let events = 0;
  for (let i = from; i < to; i++) {
    const f = fixes[i]!;
    const st = states.get(f.vehicle) ?? engine.initial(f.vehicle);
    let r: ReturnType<typeof engine.step>;
    try {
      r = engine.step(st, f, world);
    } catch (err) {
      out.errors++;
      if (out.firstErrors.length < 20) out.firstErrors.push(diagnose(rules, st, f, world, err));
      continue;
    }
    states.set(f.vehicle, r.state);
    const n = r.events.length;
    if (n > 0) {
      events += n;
      for (const e of r.events) {
        const key = `${e.violation.code}:${e.phase}`;
        out.byCode.set(key, (out.byCode.get(key) ?? 0) + 1);
      }
    }
  }
  out.events += events;
}

function errorSummary(errs: readonly StepError[]): string {
  const byRule = new Map<string, StepError>();
  for (const e of errs) if (!byRule.has(e.rule)) byRule.set(e.rule, e);
  return [...byRule.values()].map((e) => `${e.rule}: ${e.message}`).join('; ');
}

// ---- naive baselines ----------------------------------------------------------------------------------

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

// ---- state size (child process with --expose-gc) ------------------------------------------------------

interface StateChildResult {
  vehicles: number;
  rounds: number;
  heapBefore: number;
  heapAfter: number;
  bytesPerVehicle: number;
  openViolations: number;
  events: number;
  errors: number;
  errorSummary: string;
  permitsOfFirst: number;
  /** the shell's per-vehicle state (geofence/judge.ts: engine, trip tracker, ledger) and its history-set entry */
  judgeBytesPerVehicle: number;
}

async function stateChild(vehicles: number, rounds: number): Promise<StateChildResult> {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('state child needs --expose-gc');
  const world = buildWorld(vehicles / ROUTES);
  const compiled = compileWorld(world.snapshot);
  const engine = createEngine(ALL_RULES, chinaCalendar);
  // warm the code (compiled code and caches are not per-vehicle state), then forget it
  {
    const warm = new FixStream(world, compiled, vehicles, rounds, 99);
    const ws = new Map<string, VehicleState>();
    const scratch: LoopResult = { events: 0, errors: 0, byCode: new Map(), firstErrors: [] };
    for (let k = 0; k < rounds; k++) {
      const batch: Fix[] = [];
      for (let v = 0; v < vehicles; v += 50) batch.push(warm.fix(v, k));
      runLoop(engine, ALL_RULES, compiled, ws, batch, 0, batch.length, scratch);
    }
  }
  for (let i = 0; i < 4; i++) gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const states = new Map<string, VehicleState>();
  const out: LoopResult = { events: 0, errors: 0, byCode: new Map(), firstErrors: [] };
  let stream: FixStream | undefined = new FixStream(world, compiled, vehicles, rounds, 7);
  for (let k = 0; k < rounds; k++) {
    const batch: Fix[] = [];
    for (let v = 0; v < vehicles; v++) batch.push(stream.fix(v, k));
    runLoop(engine, ALL_RULES, compiled, states, batch, 0, batch.length, out);
  }
  stream = undefined;
  for (let i = 0; i < 4; i++) gc();
  const heapAfter = process.memoryUsage().heapUsed;
  let opened = 0;
  let closed = 0;
  for (const [key, n] of out.byCode) {
    if (key.endsWith(':opened')) opened += n;
    else if (key.endsWith(':closed')) closed += n;
  }
  // the shell's state per vehicle: the judge's (engine + trips + ledger) and the id in the set of
  // vehicles with a history; the history itself is on disk (compliance/backfill-history.ts)
  const engineVehicles = states.size;
  const engineBytes = (heapAfter - heapBefore) / engineVehicles;
  states.clear();
  for (let i = 0; i < 4; i++) gc();
  const judge = createJudge(engine, chinaCalendar);
  const judgeBefore = process.memoryUsage().heapUsed;
  const judged = new Map<string, JudgeState>();
  const withHistory = new Set<string>();
  let js: FixStream | undefined = new FixStream(world, compiled, vehicles, rounds, 11);
  for (let k = 0; k < rounds; k++) {
    for (let v = 0; v < vehicles; v++) {
      const f = js.fix(v, k);
      const out = judge.step(judged.get(f.vehicle) ?? judge.initial(f.vehicle), f, compiled);
      judged.set(f.vehicle, out.state);
      withHistory.add(f.vehicle);
    }
  }
  js = undefined;
  for (let i = 0; i < 4; i++) gc();
  const judgeAfter = process.memoryUsage().heapUsed;
  const result: StateChildResult = {
    judgeBytesPerVehicle: (judgeAfter - judgeBefore) / judged.size,
    vehicles: engineVehicles,
    rounds,
    heapBefore,
    heapAfter,
    bytesPerVehicle: engineBytes,
    openViolations: opened - closed,
    events: out.events,
    errors: out.errors,
    errorSummary: errorSummary(out.firstErrors),
    // read after the measurement so the compiled world (allocated before it) is alive throughout
    permitsOfFirst: compiled.permitsOf(vehicleId(0)).length,
  };
  return result;
}

function runStateChild(
  vehicles: number,
  rounds: number,
  progress: (l: string) => void,
): Promise<StateChildResult> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, '--state-child', String(vehicles), String(rounds)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let last = '';
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.trim() !== '') last = l;
  });
  createInterface({ input: child.stderr }).on('line', (l) => progress(`[engine:state] ${l}`));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`state child exited with ${code}`));
      try {
        resolve(JSON.parse(last) as StateChildResult);
      } catch {
        reject(new Error(`state child: last line is not JSON: ${last.slice(0, 200)}`));
      }
    });
  });
}

// ---- the benchmark ------------------------------------------------------------------------------------

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export const engine: Benchmark = {
  name: 'engine',
  description:
    'compliance engine alone, one core: 1,000 permits/routes, 500 zones, 10,000 vehicles; vs naive turf; state bytes',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const VEHICLES = 10_000;
    const WARM_ROUNDS = ctx.quick ? 5 : 10;
    const TIMED_ROUNDS = ctx.quick ? 20 : 50;
    // own route + bbox-prefiltered zones and sites: a few ms per fix
    const NAIVE_SAMPLE = ctx.quick ? 300 : 2000;
    // all routes: about 2 s per fix (~500,000 turf segment distances); not a baseline, full runs only
    const ALL_ROUTES_SAMPLE = ctx.quick ? 0 : 3;
    const STATE_VEHICLES = ctx.quick ? 20_000 : 100_000;
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
    const BACKFILL_TRUCKS = 1_000;
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

// child mode: node --expose-gc --import tsx bench/engine.ts --state-child <vehicles> <rounds>
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === '--state-child') {
  stateChild(Number(process.argv[3]), Number(process.argv[4])).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
