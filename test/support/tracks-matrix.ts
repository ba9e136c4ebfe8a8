import type { Fix } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine, type VehicleState } from '../../geofence/engine.ts';
import { buildEvidence } from '../../geofence/evidence.ts';
import { metresPerDegree } from '../../geofence/geo/ruler.ts';
import { localMidnightUtcMs } from '../../geofence/geo/windows.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  RegistrySnapshot,
  Route,
  Site,
  ViolationCode,
  Zone,
} from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import {
  initialTrips,
  stepTrips,
  type Trip,
  type TripEvent,
  type TripState,
  tripInput,
} from '../../geofence/trips.ts';
import type { Violation, ViolationEvent, World } from '../../geofence/types.ts';

/*
 * The rule-matrix world (issue 3 test matrix): the REAL engine with ALL_RULES and the REAL compiled world,
 * positions in local metres east (x) / north (y) of (117.23 E, 31.82 N), Hefei.
 *
 *            D1 (4000,3000) disposal, permitted
 *             |
 *   R1        D2 (4000,1500) disposal NOT on the permit, straddling the route
 *             |
 *  O1 ---O2------SZ1---+ (4000,0)
 * (0,0) (1000,0) (3000,0)
 *  origin  origin NOT on the permit, straddling the route; SZ1 a day-time speed zone (30 km/h, 07:00-19:00)
 *
 *  RZ2 (-1500,-1500) restricted all day      RZ1 (2000,-1500) restricted 23:00-05:00 (crosses midnight)
 *
 * Route R1: (0,0) -> (4000,0) -> (4000,3000), corridor 50 m; segment 0 limit 60 km/h (night 40), segment 1
 * 50 km/h. Permit P1 (version 2): vehicle V1, O1 -> D1 via R1, 2026-11-01..2026-11-30, 22:00-06:00.
 * V2 has no permit; V3 has no rated load; S1 is a sweeper, C1 a body camera.
 */

export const LON0 = 117.23;
export const LAT0 = 31.82;
const { kx: KX, ky: KY } = metresPerDegree(LAT0);

/** WGS-84 position of a point x metres east, y metres north of the reference */
export function pt(x: number, y: number): Position {
  return [LON0 + x / KX, LAT0 + y / KY];
}

/** local metres of a fix (inverse of `pt`) */
export function xyOf(f: Pick<Fix, 'lon' | 'lat'>): [number, number] {
  return [(f.lon - LON0) * KX, (f.lat - LAT0) * KY];
}

export function square(cx: number, cy: number, half: number): PolygonCoords {
  return [
    [
      pt(cx - half, cy - half),
      pt(cx + half, cy - half),
      pt(cx + half, cy + half),
      pt(cx - half, cy + half),
      pt(cx - half, cy - half),
    ],
  ];
}

export const O1: Site = {
  id: 'O1',
  version: 3,
  kind: 'origin',
  name: '工地一',
  polygons: [square(0, 0, 150)],
};
export const O2: Site = {
  id: 'O2',
  version: 1,
  kind: 'origin',
  name: '工地二',
  polygons: [square(1000, 0, 100)],
};
export const D1: Site = {
  id: 'D1',
  version: 2,
  kind: 'disposal',
  name: '消纳场一',
  polygons: [square(4000, 3000, 150)],
};
export const D2: Site = {
  id: 'D2',
  version: 5,
  kind: 'disposal',
  name: '消纳场二',
  polygons: [square(4000, 1500, 100)],
};

export const R1: Route = {
  id: 'R1',
  version: 1,
  name: 'O1-D1',
  line: [pt(0, 0), pt(4000, 0), pt(4000, 3000)],
  corridorM: 50,
  limits: [
    { from: 0, to: 1, speedLimitKmh: 60, nightLimitKmh: 40 },
    { from: 1, to: 2, speedLimitKmh: 50 },
  ],
};

export const SZ1: Zone = {
  id: 'SZ1',
  version: 1,
  kind: 'speed',
  name: 'School',
  polygons: [square(3000, 0, 150)],
  windows: ['07:00-19:00'],
  speedLimitKmh: 30,
};
export const RZ1: Zone = {
  id: 'RZ1',
  version: 3,
  kind: 'restricted',
  name: 'Old town (night)',
  polygons: [square(2000, -1500, 200)],
  windows: ['23:00-05:00'],
};
export const RZ2: Zone = {
  id: 'RZ2',
  version: 1,
  kind: 'restricted',
  name: 'Water source (always)',
  polygons: [square(-1500, -1500, 200)],
  windows: [],
};

export const P1: Permit = {
  id: 'P1',
  version: 2,
  firm: 'F1',
  vehicles: ['V1'],
  origins: ['O1'],
  disposals: ['D1'],
  routes: ['R1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: '建筑垃圾',
};

export function snapshot(over: Partial<RegistrySnapshot> = {}): RegistrySnapshot {
  return {
    sites: [O1, O2, D1, D2],
    routes: [R1],
    zones: [SZ1, RZ1, RZ2],
    permits: [P1],
    vehicles: [
      { id: 'V1', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'V2', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'V3', version: 1, firm: 'F1', kind: 'muck_truck', reportIntervalS: 10 },
      { id: 'S1', version: 1, firm: 'F1', kind: 'sanitation', reportIntervalS: 10 },
      { id: 'C1', version: 1, firm: 'F1', kind: 'body_camera', reportIntervalS: 15 },
    ],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    ...over,
  };
}

export const WORLD: World = compileWorld(snapshot());

export const DAY = '2026-11-10';
/** UTC instant of a local (UTC+8) time on `date` (hours may exceed 24 for the next day) */
export function local(h: number, m = 0, s = 0, date = DAY): number {
  return localMidnightUtcMs(date) + ((h * 60 + m) * 60 + s) * 1000;
}

// ------------------------------------------------------------------------------------------- randomness

/** mulberry32: a small seeded PRNG, so every "random" track is the same on every run */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** standard normal samples (Box-Muller) from a seeded PRNG */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

// ------------------------------------------------------------------------------------------- tracks

export type Sensors = Partial<
  Pick<Fix, 'load' | 'weight' | 'cover' | 'lift' | 'valid' | 'ign' | 'accuracy' | 'speed' | 'kind' | 'firm'>
>;

export const EMPTY: Sensors = { load: 'empty', weight: 0.4, cover: 'closed', lift: 'down' };
export const FULL: Sensors = { load: 'full', weight: 28, cover: 'closed', lift: 'down' };

const FIRMS: Record<string, string> = { V1: 'F1', V2: 'F1', V3: 'F1', S1: 'F1', C1: 'F1' };

export function fixAt(vehicle: string, ts: number, x: number, y: number, s: Sensors = {}): Fix {
  const [lon, lat] = pt(x, y);
  return {
    vehicle,
    device: `dev-${vehicle}`,
    kind: 'muck_truck',
    firm: FIRMS[vehicle] ?? 'F1',
    ts,
    received: ts + 500,
    lat,
    lon,
    speed: 30,
    heading: 90,
    accuracy: 8,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    ...s,
  };
}

/**
 * A noiseless track builder: the current time, place and sensor state; every call appends fixes at exact
 * instants (noise and jitter are applied afterwards with `withNoise` / `withJitter`).
 */
export class Trk {
  readonly fixes: Fix[] = [];
  constructor(
    readonly vehicle: string,
    public t: number,
    public x: number,
    public y: number,
    public st: Sensors = {},
  ) {}

  /** advance `dt` and report one fix at (x, y) (default: where the truck is) with speed `kmh` */
  fix(dt: number, kmh: number, p: Sensors & { x?: number; y?: number } = {}): this {
    const { x, y, ...sensors } = p;
    this.t += dt;
    if (x !== undefined) this.x = x;
    if (y !== undefined) this.y = y;
    this.st = { ...this.st, ...sensors };
    this.fixes.push(fixAt(this.vehicle, this.t, this.x, this.y, { ...this.st, speed: kmh }));
    return this;
  }

  /** parked for `ms`, a fix every `every` ms (the first one `every` after now) */
  stay(ms: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const n = Math.round(ms / every);
    for (let i = 1; i <= n; i++) this.fix(every, 0, each?.(i, n) ?? {});
    return this;
  }

  /** drives straight to (x, y) at about `kmh`, one fix every `every` ms, the last one exactly there */
  drive(x: number, y: number, kmh: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const x0 = this.x;
    const y0 = this.y;
    const stepM = ((kmh / 3.6) * every) / 1000;
    const n = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / stepM - 1e-9));
    for (let i = 1; i <= n; i++) {
      this.fix(every, kmh, {
        x: x0 + ((x - x0) * i) / n,
        y: y0 + ((y - y0) * i) / n,
        ...(each?.(i, n) ?? {}),
      });
    }
    return this;
  }

  /** `n` fixes `every` ms apart while rolling east (x grows) at `kmh` */
  roll(n: number, kmh: number, every = 10_000, each?: (i: number) => Sensors): this {
    for (let i = 1; i <= n; i++) {
      this.fix(every, kmh, { x: this.x + ((kmh / 3.6) * every) / 1000, ...(each?.(i) ?? {}) });
    }
    return this;
  }
}

/** empty at the origin for 1 min, loaded over 5 min (0.4 t -> 28 t, empty -> half -> full), 30 s more */
export function loadAt(tr: Trk): Trk {
  tr.stay(60_000);
  tr.stay(300_000, 10_000, (i, n) => ({
    weight: Math.round((0.4 + (27.6 * i) / n) * 100) / 100,
    load: i < 3 ? 'empty' : i < n / 2 ? 'half' : 'full',
  }));
  tr.st = { ...tr.st, weight: 28, load: 'full' };
  return tr.stay(30_000);
}

/** tipping in place: lift up, weight down to 0.5 t over 1 min, load empty, lift down */
export function tip(tr: Trk): Trk {
  tr.fix(10_000, 0, { lift: 'up' });
  tr.stay(60_000, 10_000, (i, n) => ({ weight: Math.round((28 - (27.5 * i) / n) * 100) / 100 }));
  tr.fix(10_000, 0, { load: 'empty', weight: 0.5 });
  return tr.fix(10_000, 0, { lift: 'down' });
}

// ------------------------------------------------------------------------------------------- perturbations

/** Gaussian position noise, `sigmaM` per axis (15 m: a compliant terminal, JT/T 794) */
export function withNoise(fixes: readonly Fix[], seed: number, sigmaM = 15): Fix[] {
  const g = gaussian(prng(seed));
  return fixes.map((f) => {
    const [x, y] = xyOf(f);
    const [lon, lat] = pt(x + g() * sigmaM, y + g() * sigmaM);
    return { ...f, lon, lat };
  });
}

/** report-time jitter: each ts moved by up to +-maxMs (keep it under half the interval to keep the order) */
export function withJitter(fixes: readonly Fix[], seed: number, maxMs: number): Fix[] {
  const r = prng(seed);
  return fixes.map((f) => {
    const d = Math.round((r() * 2 - 1) * maxMs);
    return { ...f, ts: f.ts + d, received: f.received + d };
  });
}

export type Item = Fix | { tick: number } | { world: World };

export function isFix(i: Item): i is Fix {
  return 'ts' in i;
}

/**
 * Redelivery: every fix arrives in order, and in between exact duplicates (QoS 1 redelivery) and late
 * copies of fixes already judged (JT/T 808 0x0704 backfill of something the platform already has).
 */
export function redelivered(items: readonly Item[], seed: number): Item[] {
  const r = prng(seed);
  const out: Item[] = [];
  const seen: Fix[] = [];
  for (const item of items) {
    out.push(item);
    if (!isFix(item)) continue;
    seen.push(item);
    if (r() < 0.3) out.push({ ...item });
    if (seen.length > 2 && r() < 0.25) {
      const back = 1 + Math.floor(r() * Math.min(seen.length - 1, 12));
      out.push({ ...seen[seen.length - 1 - back]!, late: true, received: item.received + 1 });
    }
  }
  return out;
}

/**
 * Out of order: some pairs of neighbouring fixes are swapped in delivery (ticks stay where they are); the
 * engine judges the later one and skips the earlier (it arrives at or before the last judged instant).
 * Returns the delivery and the items the engine is expected to judge (in-order delivery of the same).
 */
export function swapped(items: readonly Item[], seed: number): { delivery: Item[]; judged: Item[] } {
  const r = prng(seed);
  const delivery = items.slice();
  for (let i = 1; i + 1 < delivery.length; i++) {
    const a = delivery[i]!;
    const b = delivery[i + 1]!;
    if (isFix(a) && isFix(b) && r() < 0.12) {
      delivery[i] = { ...b };
      delivery[i + 1] = { ...a, late: true };
      i++;
    }
  }
  const judged: Item[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const item of delivery) {
    if (!isFix(item)) judged.push(item);
    else if (item.ts > last) {
      judged.push(item.late ? { ...item, late: false } : item);
      last = item.ts;
    }
  }
  return { delivery, judged };
}

// ------------------------------------------------------------------------------------------- running

export interface Logged {
  /** the fix ts or tick instant that produced the event */
  at: number;
  event: ViolationEvent;
}

export interface RunResult {
  log: Logged[];
  events: ViolationEvent[];
  trips: TripEvent[];
  state: VehicleState;
  tripState: TripState;
}

export const ENGINE = createEngine(ALL_RULES, chinaCalendar);

/**
 * Feeds fixes / ticks / world changes through the real engine (ALL_RULES, chinaCalendar) and the trip
 * tracker (violations of the fix, plus those of the ticks since the previous fix, as a shell passes them).
 */
export function run(items: readonly Item[], opts: { world?: World; vehicle?: string } = {}): RunResult {
  let world = opts.world ?? WORLD;
  const first = items.find(isFix);
  let state = ENGINE.initial(opts.vehicle ?? first?.vehicle ?? 'V1');
  let tripState = initialTrips();
  const log: Logged[] = [];
  const trips: TripEvent[] = [];
  let pendingTick: ViolationEvent[] = [];
  for (const item of items) {
    if ('world' in item) {
      world = item.world;
      continue;
    }
    if ('tick' in item) {
      const r = ENGINE.tick(state, item.tick, world);
      state = r.state;
      for (const event of r.events) log.push({ at: item.tick, event });
      pendingTick = pendingTick.concat(r.events);
      continue;
    }
    const r = ENGINE.step(state, item, world);
    state = r.state;
    for (const event of r.events) log.push({ at: item.ts, event });
    // the trip tracker steps the fixes the engine judged, as the shell does (none for a held suspect)
    r.judged.forEach((f, i) => {
      const last = i === r.judged.length - 1;
      const t = stepTrips(
        tripState,
        tripInput(f, r.facts[i]!, world),
        last ? [...pendingTick, ...r.events] : [],
      );
      if (last) pendingTick = [];
      tripState = t.state;
      trips.push(...t.events);
    });
  }
  return { log, events: log.map((l) => l.event), trips, state, tripState };
}

export function ofCode(log: readonly Logged[], code: ViolationCode): Logged[] {
  return log.filter((l) => l.event.violation.code === code);
}

/** `CODE:phase` per event */
export function phases(events: readonly (ViolationEvent | Logged)[]): string[] {
  return events.map((e) => {
    const ev = 'event' in e ? e.event : e;
    return `${ev.violation.code}:${ev.phase}`;
  });
}

/** a stable summary of an event list: code, phase, start, end, level */
export function summary(events: readonly ViolationEvent[]): string[] {
  return events.map(
    (e) =>
      `${e.violation.code}:${e.phase}:${e.violation.startTs}-${e.violation.endTs ?? ''}:L${e.violation.level}`,
  );
}

export function completedTrips(r: RunResult): Trip[] {
  return r.trips.flatMap((e) => (e.kind === 'completed' ? [e.trip] : []));
}

/** the refs of a violation as `kind:id@version`, sorted */
export function refsOf(v: Violation): string[] {
  return v.refs.map((r) => `${r.kind}:${r.id}@${r.version}`).sort();
}

/**
 * Lifecycle problems of an event list (empty when sound): per violation id exactly one `opened`, first;
 * `updated` only while open; at most one `closed`, last; a closed violation has endTs >= startTs and
 * durationMs = endTs - startTs; the id is `vehicle:CODE:startTs` (RESTRICTED_ZONE may append `:zone`).
 */
export function lifecycleProblems(events: readonly ViolationEvent[]): string[] {
  const problems: string[] = [];
  const stage = new Map<string, 'open' | 'closed'>();
  for (const e of events) {
    const v = e.violation;
    const base = `${v.vehicle}:${v.code}:${v.startTs}`;
    if (v.id !== base && !v.id.startsWith(`${base}:`)) problems.push(`${v.id}: id does not name its start`);
    const s = stage.get(v.id);
    if (e.phase === 'opened') {
      if (s !== undefined) problems.push(`${v.id}: opened twice`);
      stage.set(v.id, 'open');
    } else if (s !== 'open') {
      problems.push(`${v.id}: ${e.phase} while ${s ?? 'never opened'}`);
    } else if (e.phase === 'withdrawn') {
      // it never happened: the id may be opened again
      stage.delete(v.id);
    } else if (e.phase === 'closed') {
      stage.set(v.id, 'closed');
      if (v.endTs === undefined || v.endTs < v.startTs) problems.push(`${v.id}: endTs ${v.endTs} < startTs`);
      if (v.durationMs !== (v.endTs ?? 0) - v.startTs) problems.push(`${v.id}: durationMs ${v.durationMs}`);
    }
  }
  return problems;
}

/** sha256 of the evidence package of every closed violation, by id */
export function evidenceHashes(
  events: readonly ViolationEvent[],
  track: readonly Fix[],
  world: World = WORLD,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of events) {
    if (e.phase === 'closed') out[e.violation.id] = buildEvidence(e.violation, track, world).sha256;
  }
  return out;
}

// ------------------------------------------------------------------------------------------- scenarios

export interface Scenario {
  name: string;
  /** the rule the track is built to trigger (null: the clean compliant trip) */
  code: ViolationCode | null;
  vehicle: string;
  items: Item[];
  /** `CODE:phase` of every event the noiseless track must produce, in order */
  expect: string[];
}

/** the clean 两点一线 trip: load in O1 at 23:00, R1 to D1 at 30 km/h, tip, return empty */
export function cleanTrip(vehicle = 'V1', start = local(23)): Trk {
  const tr = new Trk(vehicle, start, 0, 0, EMPTY);
  loadAt(tr);
  tr.drive(4000, 0, 30);
  tr.drive(4000, 3000, 30);
  tr.stay(60_000);
  tip(tr);
  return tr.drive(4000, 2000, 30);
}

const T1 = local(23, 10);

function offRouteTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  tr.drive(1500, 0, 30).drive(1500, 250, 30).drive(2000, 250, 30).drive(2000, 0, 30).drive(2600, 0, 30);
  return tr.fixes;
}

function offHoursTrack(): Fix[] {
  const tr = new Trk('V1', local(10), 1200, 0, FULL);
  return tr.drive(2400, 0, 30).stay(90_000).fixes;
}

function illegalDumpTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1500, 0, FULL);
  tr.drive(2000, 0, 30).stay(60_000);
  return tip(tr).drive(2600, 0, 30).fixes;
}

function suspectedDumpTrack(): Fix[] {
  return new Trk('V1', T1, 1500, 0, FULL).drive(2000, 0, 30).stay(420_000).drive(2600, 0, 30).fixes;
}

function spillageCoverTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  return tr
    .roll(3, 30)
    .roll(7, 30, 10_000, () => ({ cover: 'open' }))
    .roll(4, 30, 10_000, () => ({ cover: 'closed' })).fixes;
}

function spillageWeightTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  tr.roll(2, 30).roll(10, 30, 10_000, (i) => ({ weight: Math.round((28 - 0.1 * i) * 100) / 100 }));
  return tr.roll(3, 30).stay(30_000).fixes;
}

function wrongSiteTrack(): Fix[] {
  const tr = new Trk('V1', T1, 600, 0, EMPTY);
  tr.drive(1000, 0, 20);
  return loadAt(tr).drive(2600, 0, 30).fixes;
}

function overspeedTrack(): Fix[] {
  const tr = new Trk('V1', local(10), 500, 0, EMPTY);
  return tr.roll(3, 50, 5_000).roll(6, 75, 5_000).roll(3, 50, 5_000).fixes;
}

function restrictedTrack(): Fix[] {
  return new Trk('V1', local(23, 30), 2000, -2110, EMPTY).drive(2000, -900, 30).fixes;
}

function overloadTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  return tr
    .roll(2, 30)
    .roll(12, 30, 10_000, () => ({ weight: 33 }))
    .roll(8, 30, 10_000, () => ({ weight: 29 })).fixes;
}

/** an empty truck parked by the road with the ignition on, silent for 11 min (over the 10 min allowance) */
function offlineItems(): Item[] {
  const tr = new Trk('V1', T1, 1200, 0, EMPTY).roll(3, 30).stay(20_000);
  const last = tr.t;
  const ticks: Item[] = [];
  for (let s = 30; s <= 660; s += 30) ticks.push({ tick: last + s * 1000 });
  const before = tr.fixes.slice();
  // still parked for 30 s after it: a swapped pair there judges a parked fix, never a jump
  tr.fix(690_000, 0).stay(30_000);
  tr.roll(3, 30);
  return [...before, ...ticks, ...tr.fixes.slice(before.length)];
}

function trackGapTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL).roll(3, 30);
  tr.fix(400_000, 30, { x: tr.x + 1000 });
  return tr.roll(3, 30).fixes;
}

function noPermitTrack(): Fix[] {
  return cleanTrip('V2').fixes;
}

/** the clean trip and one triggering track per rule (two for SPILLAGE), all through ALL_RULES */
export function scenarios(): Scenario[] {
  const oc = ['opened', 'closed'];
  const s = (name: string, code: ViolationCode | null, items: Item[], expect: string[], vehicle = 'V1') => ({
    name,
    code,
    vehicle,
    items,
    expect,
  });
  const pair = (code: ViolationCode) => oc.map((p) => `${code}:${p}`);
  return [
    s('clean trip', null, cleanTrip().fixes, []),
    s('OFF_ROUTE', 'OFF_ROUTE', offRouteTrack(), pair('OFF_ROUTE')),
    s('OFF_HOURS', 'OFF_HOURS', offHoursTrack(), pair('OFF_HOURS')),
    s('NO_PERMIT', 'NO_PERMIT', noPermitTrack(), pair('NO_PERMIT'), 'V2'),
    s('ILLEGAL_DUMP', 'ILLEGAL_DUMP', illegalDumpTrack(), pair('ILLEGAL_DUMP')),
    s('SUSPECTED_DUMP', 'SUSPECTED_DUMP', suspectedDumpTrack(), pair('SUSPECTED_DUMP')),
    s('SPILLAGE (cover)', 'SPILLAGE', spillageCoverTrack(), pair('SPILLAGE')),
    s('SPILLAGE (weight)', 'SPILLAGE', spillageWeightTrack(), pair('SPILLAGE')),
    s('WRONG_SITE', 'WRONG_SITE', wrongSiteTrack(), pair('WRONG_SITE')),
    s('OVERSPEED', 'OVERSPEED', overspeedTrack(), pair('OVERSPEED')),
    s('RESTRICTED_ZONE', 'RESTRICTED_ZONE', restrictedTrack(), pair('RESTRICTED_ZONE')),
    s('OVERLOAD', 'OVERLOAD', overloadTrack(), pair('OVERLOAD')),
    s('OFFLINE', 'OFFLINE', offlineItems(), pair('OFFLINE')),
    s('TRACK_GAP', 'TRACK_GAP', trackGapTrack(), pair('TRACK_GAP')),
  ];
}
