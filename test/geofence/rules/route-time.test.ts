import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { chinaCalendar } from '../../../geofence/calendar.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { type Calendar, createEngine, type VehicleState } from '../../../geofence/engine.ts';
import { metresPerDegree } from '../../../geofence/geo/ruler.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  RegistrySnapshot,
  Route,
  Zone,
} from '../../../geofence/model.ts';
import { offHours } from '../../../geofence/rules/off-hours.ts';
import { offRoute } from '../../../geofence/rules/off-route.ts';
import { offline } from '../../../geofence/rules/offline.ts';
import { overspeed } from '../../../geofence/rules/overspeed.ts';
import { restrictedZone } from '../../../geofence/rules/restricted-zone.ts';
import { trackGap } from '../../../geofence/rules/track-gap.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import type { ViolationEvent, World } from '../../../geofence/types.ts';

/*
 * Route and time rules (OFF_ROUTE, OFF_HOURS, OVERSPEED, RESTRICTED_ZONE, TRACK_GAP, OFFLINE) through the
 * REAL engine core and the REAL compiled world, on tracks built around Hefei (31.82 N, 117.23 E).
 *
 * Geometry: route R1 runs A (117.20, 31.82) east to B (117.24, 31.82), then north to C (117.24, 31.85).
 * "along" is metres from A along the route, "lateral" metres to the left of the direction of travel
 * (north on the first leg). Origin site around A, disposal site around C (150 m half-size boxes).
 */

// ---------------------------------------------------------------------------------------------- fixtures

const calendar: Calendar = chinaCalendar;

const LAT0 = 31.82;
const { kx: KX, ky: KY } = metresPerDegree(LAT0);
const A: Position = [117.2, 31.82];
const B: Position = [117.24, 31.82];
const C: Position = [117.24, 31.85];
const LEG0 = (B[0] - A[0]) * KX;
const LEG1 = (C[1] - B[1]) * KY;
const ROUTE_LEN = LEG0 + LEG1;

function offset(p: Position, eastM: number, northM: number): Position {
  return [p[0] + eastM / KX, p[1] + northM / metresPerDegree(p[1]).ky];
}

/** Point `along` metres from A on R1, `lateral` metres to its left. */
function onRoute(along: number, lateral = 0): Position {
  if (along <= LEG0) return offset(A, along, lateral);
  return offset(B, -lateral, along - LEG0);
}

function box(center: Position, halfEastM: number, halfNorthM = halfEastM): PolygonCoords {
  const sw = offset(center, -halfEastM, -halfNorthM);
  const ne = offset(center, halfEastM, halfNorthM);
  return [
    [
      [sw[0], sw[1]],
      [ne[0], sw[1]],
      [ne[0], ne[1]],
      [sw[0], ne[1]],
      [sw[0], sw[1]],
    ],
  ];
}

const ROUTE_V1: Route = {
  id: 'R1',
  version: 1,
  name: 'Site A to disposal C',
  line: [A, B, C],
  corridorM: 50,
  limits: [
    { from: 0, to: 1, speedLimitKmh: 60, nightLimitKmh: 40 },
    { from: 1, to: 2, speedLimitKmh: 50 },
  ],
};

/** the speed zone covers the route from 2,600 m to 3,000 m along */
const SPEED_ZONE: Zone = {
  id: 'SZ1',
  version: 1,
  kind: 'speed',
  name: 'School zone',
  polygons: [box(onRoute(2800), 200)],
  windows: [],
  speedLimitKmh: 30,
};

/** a restricted zone 1 km north of the first leg (07:00-09:00 closed), 400 m square */
const RZ_CENTER = onRoute(1500, 1000);
const RESTRICTED: Zone = {
  id: 'RZ1',
  version: 3,
  kind: 'restricted',
  name: 'Old town',
  polygons: [box(RZ_CENTER, 200)],
  windows: ['07:00-09:00'],
};

const PERMIT: Permit = {
  id: 'P1',
  version: 2,
  firm: 'F1',
  vehicles: ['V1'],
  origins: ['S-O'],
  disposals: ['S-D'],
  routes: ['R1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: 'construction waste',
};

function snapshot(over: Partial<RegistrySnapshot> = {}): RegistrySnapshot {
  return {
    sites: [
      { id: 'S-O', version: 1, kind: 'origin', name: 'Site A', polygons: [box(A, 150)] },
      { id: 'S-D', version: 1, kind: 'disposal', name: 'Disposal C', polygons: [box(C, 150)] },
    ],
    routes: [ROUTE_V1],
    zones: [SPEED_ZONE, RESTRICTED],
    permits: [PERMIT],
    vehicles: [
      { id: 'V1', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'S1', version: 1, firm: 'F1', kind: 'sanitation', reportIntervalS: 10 },
      { id: 'C1', version: 1, firm: 'F1', kind: 'body_camera', reportIntervalS: 10 },
    ],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    ...over,
  };
}

const WORLD = compileWorld(snapshot());

const DAY = '2026-11-10';
/** UTC instant of a local (UTC+8) time on DAY (hours may exceed 24 for the next day) */
function local(h: number, m = 0, s = 0, date = DAY): number {
  return localMidnightUtcMs(date) + ((h * 60 + m) * 60 + s) * 1000;
}

function fixAt(ts: number, pos: Position, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle: 'V1',
    device: 'D1',
    kind: 'muck_truck',
    firm: 'F1',
    ts,
    received: ts + 500,
    lon: pos[0],
    lat: pos[1],
    speed: 30,
    heading: 90,
    accuracy: 10,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    load: 'full',
    ...extra,
  };
}

/** mulberry32: a small seeded PRNG, so every "random" track is the same on every run */
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

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** 15 m Gaussian GPS noise on each axis */
function noisy(p: Position, g: () => number, sigmaM = 15): Position {
  return offset(p, g() * sigmaM, g() * sigmaM);
}

const ALL_RULES = [offRoute, offHours, overspeed, restrictedZone, trackGap, offline];

interface Logged {
  /** the fix ts or tick instant that produced the event */
  at: number;
  event: ViolationEvent;
}

type Item = Fix | { tick: number } | { world: World };

/** Feeds fixes / ticks / world changes through the real engine; returns the events with the instant. */
function run(items: readonly Item[], opts: { world?: World; vehicle?: string } = {}) {
  const engine = createEngine(ALL_RULES, calendar);
  let world = opts.world ?? WORLD;
  let state: VehicleState = engine.initial(opts.vehicle ?? 'V1');
  const log: Logged[] = [];
  for (const item of items) {
    if ('world' in item) {
      world = item.world;
      continue;
    }
    const r = 'tick' in item ? engine.tick(state, item.tick, world) : engine.step(state, item, world);
    state = r.state;
    const at = 'tick' in item ? item.tick : item.ts;
    for (const event of r.events) log.push({ at, event });
  }
  return { log, state, events: log.map((l) => l.event) };
}

function ofCode(log: readonly Logged[], code: string): Logged[] {
  return log.filter((l) => l.event.violation.code === code);
}

function phases(log: readonly Logged[]): string[] {
  return log.map((l) => `${l.event.violation.code}:${l.event.phase}`);
}

/** A loaded truck at 10 s fixes along the first leg; `lateral(i)` per fix index, `speed` km/h. */
function track(
  startTs: number,
  n: number,
  o: {
    along?: number;
    step?: number;
    interval?: number;
    lateral?: (i: number) => number;
    extra?: (i: number) => Partial<Fix>;
  } = {},
): Fix[] {
  const out: Fix[] = [];
  const interval = o.interval ?? 10_000;
  for (let i = 0; i < n; i++) {
    const along = (o.along ?? 1000) + i * (o.step ?? 0);
    out.push(
      fixAt(startTs + i * interval, onRoute(along, o.lateral ? o.lateral(i) : 0), o.extra ? o.extra(i) : {}),
    );
  }
  return out;
}

const NIGHT = local(23); // inside the permit window 22:00-06:00: OFF_HOURS silent, night limit 40 km/h
const MORNING = local(10); // outside the permit window

// ---------------------------------------------------------------------------------------------- OFF_ROUTE

test('OFF_ROUTE: opens at the 3rd consecutive outside fix, startTs = first outside fix; closes after 30 s back inside', (t) => {
  // 10 s fixes at 1,500 m along: 3 inside, then 150 m north up a side road for 12 fixes, then back
  const lateral = (i: number) => (i >= 3 && i < 15 ? 150 : 0);
  const fixes = track(NIGHT, 25, { along: 1500, lateral });
  const { log } = run(fixes);
  const or = ofCode(log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  const opened = or[0]!;
  t.is(opened.at, NIGHT + 50_000, 'opened at the third outside fix (20 s after the first)');
  t.is(opened.event.violation.startTs, NIGHT + 30_000);
  t.is(opened.event.violation.id, `V1:OFF_ROUTE:${NIGHT + 30_000}`);
  t.is(opened.event.violation.level, 0);
  t.true(Math.abs(Number(opened.event.violation.details.maxDeviationM) - 150) < 1);
  t.deepEqual(opened.event.violation.thresholds, {
    accuracyFloorM: 15,
    offRouteMinMs: 60_000,
    offRouteMinFixes: 3,
    offRouteEndInsideMs: 30_000,
    offRouteEscalationMs: [600_000, 900_000],
  });
  t.deepEqual(opened.event.violation.refs.map((r) => `${r.kind}:${r.id}@${r.version}`).sort(), [
    'permit:P1@2',
    'route:R1@1',
    'thresholds:city@1',
  ]);
  const closed = or[1]!;
  // first inside fix at i = 15 (150 s), closes 30 s later
  t.is(closed.at, NIGHT + 180_000);
  t.is(closed.event.violation.endTs, NIGHT + 150_000);
  t.is(closed.event.violation.durationMs, 120_000);
  t.is(closed.event.violation.permit, 'P1');
});

test('OFF_ROUTE: opens on duration alone (60 s with 2 fixes at a 60 s interval)', (t) => {
  const fixes = [
    fixAt(NIGHT, onRoute(1500)),
    fixAt(NIGHT + 60_000, onRoute(1500, 200)),
    fixAt(NIGHT + 120_000, onRoute(1500, 200)),
  ];
  const or = ofCode(run(fixes).log, 'OFF_ROUTE');
  t.is(or.length, 1);
  t.is(or[0]!.at, NIGHT + 120_000);
  t.is(or[0]!.event.violation.startTs, NIGHT + 60_000);
  t.is(or[0]!.event.violation.details.outsideFixes, 2);
});

test('OFF_ROUTE: no onset just under the thresholds (59 s outside; 2 outside fixes)', (t) => {
  const a = [
    fixAt(NIGHT, onRoute(1500)),
    fixAt(NIGHT + 10_000, onRoute(1500, 200)),
    fixAt(NIGHT + 69_000, onRoute(1500, 200)), // 59 s, 2 fixes
    fixAt(NIGHT + 79_000, onRoute(1500, 0)),
    fixAt(NIGHT + 200_000, onRoute(1500, 0)),
  ];
  t.deepEqual(run(a).events, []);
  const b = track(NIGHT, 10, { along: 1500, lateral: (i) => (i === 4 || i === 5 ? 120 : 0) });
  t.deepEqual(run(b).events, []);
  // exactly 60 s opens (>=)
  const c = [...a.slice(0, 2), fixAt(NIGHT + 70_000, onRoute(1500, 200))];
  t.is(ofCode(run(c).log, 'OFF_ROUTE').length, 1);
});

test('OFF_ROUTE: a fix beyond the corridor by less than the accuracy floor (or its own accuracy) is not outside', (t) => {
  // 60 m: 10 m beyond the 50 m corridor, within the 15 m floor
  t.deepEqual(run(track(NIGHT, 30, { along: 1500, lateral: () => 60 })).events, []);
  // 90 m, but the fix reports 50 m accuracy: 40 m beyond < 50 m
  t.deepEqual(
    run(track(NIGHT, 30, { along: 1500, lateral: () => 90, extra: () => ({ accuracy: 50 }) })).events,
    [],
  );
  // 90 m with a good fix: opens
  t.is(ofCode(run(track(NIGHT, 30, { along: 1500, lateral: () => 90 })).log, 'OFF_ROUTE').length, 1);
});

test('OFF_ROUTE: escalation to level 1 at 10 min and level 2 at 15 min; max deviation reported', (t) => {
  const fixes = track(NIGHT, 110, {
    along: 1500,
    lateral: (i) => (i === 0 ? 0 : i < 10 ? 100 : i < 100 ? 300 : 0),
  });
  const or = ofCode(run(fixes).log, 'OFF_ROUTE');
  const start = NIGHT + 10_000;
  t.is(or[0]!.event.phase, 'opened');
  t.is(or[0]!.event.violation.startTs, start);
  const levels = or.filter((l) => l.event.phase === 'updated' && l.event.violation.level > 0);
  const firstL1 = levels.find((l) => l.event.violation.level === 1)!;
  const firstL2 = levels.find((l) => l.event.violation.level === 2)!;
  t.is(firstL1.at, start + 600_000);
  t.is(firstL2.at, start + 900_000);
  t.is(levels.filter((l) => l.event.violation.level === 1).length, 1, 'one event per level change');
  const dev = or.find(
    (l) => l.event.phase === 'updated' && Number(l.event.violation.details.maxDeviationM) > 290,
  );
  t.truthy(dev, 'the deeper excursion is reported');
  const closed = or.at(-1)!;
  t.is(closed.event.phase, 'closed');
  t.is(closed.event.violation.level, 2);
  t.is(closed.event.violation.endTs, NIGHT + 1_000_000);
  t.is(closed.event.violation.durationMs, 1_000_000 - 10_000);
  t.true(Math.abs(Number(closed.event.violation.details.maxDeviationM) - 300) < 1);
});

test('OFF_ROUTE: a 40 s cross-street excursion opens nothing', (t) => {
  // up a perpendicular street at 2,000 m along and back: 55 m (edge band), 110 m, 110 m, 55 m
  const depth = [0, 0, 20, 55, 110, 110, 55, 20, 0, 0, 0, 0];
  const fixes = track(NIGHT, depth.length, { along: 2000, lateral: (i) => depth[i]! });
  t.deepEqual(run(fixes).events, []);
  // the same street, but the truck stays 3 fixes deep: that is a violation
  const deeper = [0, 0, 20, 55, 110, 110, 110, 55, 20, 0, 0, 0, 0, 0];
  const or = ofCode(
    run(track(NIGHT, deeper.length, { along: 2000, lateral: (i) => deeper[i]! })).log,
    'OFF_ROUTE',
  );
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
});

test('OFF_ROUTE: jitter around the corridor edge neither opens nor flaps', (t) => {
  // in / out / in for 20 minutes: every outside fix is followed by a clearly inside one
  const jitter = track(NIGHT, 120, { along: 1500, step: 5, lateral: (i) => (i % 2 === 0 ? 35 : 72) });
  t.deepEqual(run(jitter).events, []);
  // open once (2 min at 200 m), then back in the edge band: 30/60 m alternate, a single close, never reopened
  const back = track(NIGHT, 60, {
    along: 1500,
    lateral: (i) => (i < 12 ? 200 : i % 2 === 0 ? 30 : 60),
  });
  const or = ofCode(run(back).log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  t.is(or[1]!.event.violation.endTs, NIGHT + 120_000);
  // while open, edge-band fixes between clearly-outside ones do not close it
  const wobble = track(NIGHT, 40, { along: 1500, lateral: (i) => (i < 5 ? 200 : i % 2 === 0 ? 55 : 80) });
  t.deepEqual(phases(ofCode(run(wobble).log, 'OFF_ROUTE')), ['OFF_ROUTE:opened']);
});

test('OFF_ROUTE: 15 m GPS noise along the route for an hour opens nothing (any rule)', (t) => {
  for (const seed of [42, 43, 44]) {
    const g = gaussian(prng(seed));
    const fixes: Fix[] = [];
    const speedMs = 25 / 3.6;
    for (let i = 0; i < 360; i++) {
      const dist = (i * 10 * speedMs) % (2 * ROUTE_LEN);
      const along = dist <= ROUTE_LEN ? dist : 2 * ROUTE_LEN - dist; // back and forth between the sites
      fixes.push(fixAt(NIGHT + i * 10_000, noisy(onRoute(along), g), { speed: 25 + g(), accuracy: 12 }));
    }
    const { events, state } = run(fixes);
    t.deepEqual(events, [], `seed ${seed}`);
    t.is(state.skippedLate, 0);
  }
});

test('OFF_ROUTE: inside the permit sites is never off-route; unloaded or without a route permit it does not apply', (t) => {
  // 120 m north of A: inside the origin site's 150 m box, beyond the corridor
  const inSite = track(NIGHT, 20, { along: 0, lateral: () => 120 });
  t.deepEqual(run(inSite).events, []);
  const empty = track(NIGHT, 20, { along: 1500, lateral: () => 300, extra: () => ({ load: 'empty' }) });
  t.deepEqual(run(empty).events, []);
  // an open violation closes when the truck is found unloaded: once the empty reading has persisted a
  // minute (a flicker is no unloading), at the first fix that read empty
  const unload = track(NIGHT, 20, {
    along: 1500,
    lateral: () => 300,
    extra: (i) => ({ load: i < 6 ? 'full' : 'empty' }),
  });
  const or = ofCode(run(unload).log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  t.is(or[1]!.at, NIGHT + 120_000);
  t.is(or[1]!.event.violation.endTs, NIGHT + 60_000);
  t.is(or[1]!.event.violation.details.endReason, 'unloaded');
  // the same reading back to full after 30 s: the violation goes on
  const flicker = track(NIGHT, 20, {
    along: 1500,
    lateral: () => 300,
    extra: (i) => ({ load: i >= 6 && i < 9 ? 'empty' : 'full' }),
  });
  t.deepEqual(phases(ofCode(run(flicker).log, 'OFF_ROUTE')), ['OFF_ROUTE:opened']);
});

test('OFF_ROUTE: a route edited mid-trip keeps version 1 in the refs of the open violation', (t) => {
  const v2: Route = { ...ROUTE_V1, version: 2, line: [A, onRoute(1000), B, C], corridorM: 60 };
  const world2 = compileWorld(snapshot({ routes: [v2] }));
  const items: Item[] = [
    ...track(NIGHT, 6, { along: 1500, lateral: (i) => (i === 0 ? 0 : 250) }),
    { world: world2 },
    ...track(NIGHT + 60_000, 60, { along: 1500, lateral: (i) => (i < 56 ? 400 : 0) }),
  ];
  const or = ofCode(run(items).log, 'OFF_ROUTE');
  t.is(or[0]!.event.phase, 'opened');
  t.true(or.some((l) => l.event.phase === 'updated'));
  t.is(or.at(-1)!.event.phase, 'closed');
  for (const l of or) {
    t.deepEqual(
      l.event.violation.refs.find((r) => r.kind === 'route'),
      { kind: 'route', id: 'R1', version: 1 },
    );
  }
  // a violation opened under the new world carries version 2
  const fresh = ofCode(
    run(track(NIGHT, 8, { along: 1500, lateral: () => 300 }), { world: world2 }).log,
    'OFF_ROUTE',
  );
  t.deepEqual(
    fresh[0]!.event.violation.refs.find((r) => r.kind === 'route'),
    { kind: 'route', id: 'R1', version: 2 },
  );
});

// ---------------------------------------------------------------------------------------------- OFF_HOURS

test('OFF_HOURS: loaded and moving outside the permit windows for 60 s opens; a stop of 60 s ends it', (t) => {
  // 10:00 local, permit hours 22:00-06:00: moving 30 km/h for 3 min, then stopped
  const fixes = track(MORNING, 30, { step: 80, extra: (i) => ({ speed: i < 18 ? 30 : 0 }) });
  const oh = ofCode(run(fixes).log, 'OFF_HOURS');
  t.deepEqual(phases(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[0]!.at, MORNING + 60_000);
  t.is(oh[0]!.event.violation.startTs, MORNING);
  t.deepEqual(oh[0]!.event.violation.thresholds, { offHoursSpeedKmh: 5, offHoursMinMs: 60_000 });
  t.is(oh[0]!.event.violation.details.permitWindows, '22:00-06:00');
  t.is(oh[1]!.at, MORNING + 240_000, 'closes 60 s into the stop');
  t.is(oh[1]!.event.violation.endTs, MORNING + 180_000, 'endTs = the first stopped fix');
  t.is(oh[1]!.event.violation.durationMs, 180_000);
  t.is(oh[1]!.event.violation.details.endReason, 'stopped');
});

test('OFF_HOURS: no onset at 59 s, at walking pace, when empty, or for a short stop', (t) => {
  const a = [
    ...track(MORNING, 6, { step: 80 }),
    fixAt(MORNING + 59_000, onRoute(1500)),
    fixAt(MORNING + 65_000, onRoute(1500), { load: 'empty', lift: 'up', speed: 0 }),
  ];
  t.deepEqual(ofCode(run(a).log, 'OFF_HOURS'), []);
  t.deepEqual(
    ofCode(run(track(MORNING, 30, { step: 10, extra: () => ({ speed: 5 }) })).log, 'OFF_HOURS'),
    [],
  );
  t.deepEqual(
    ofCode(run(track(MORNING, 30, { step: 80, extra: () => ({ load: 'empty' }) })).log, 'OFF_HOURS'),
    [],
  );
  // a 50 s red light does not end an open violation
  const light = track(MORNING, 30, { step: 40, extra: (i) => ({ speed: i >= 10 && i < 15 ? 0 : 30 }) });
  t.deepEqual(phases(ofCode(run(light).log, 'OFF_HOURS')), ['OFF_HOURS:opened']);
});

test('OFF_HOURS: a window crossing midnight (22:00-06:00)', (t) => {
  // 21:58 to 22:03: open at 21:59, closed at 22:00 by the window (endTs = first covered fix)
  const evening = track(local(21, 58), 31, { interval: 10_000, step: 80 });
  const oh = ofCode(run(evening).log, 'OFF_HOURS');
  t.deepEqual(phases(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[0]!.at, local(21, 59));
  t.is(oh[1]!.event.violation.endTs, local(22, 0));
  t.is(oh[1]!.event.violation.details.endReason, 'covered');
  // 23:30 to 01:30 (crossing midnight): always covered
  const night = track(local(23, 30), 720, { step: 5 });
  t.deepEqual(ofCode(run(night).log, 'OFF_HOURS'), []);
  // 05:58 to 06:05 on the next day: covered until 06:00, opened at 06:01 with startTs 06:00
  const dawn = track(local(29, 58), 43, { step: 80 });
  const od = ofCode(run(dawn).log, 'OFF_HOURS');
  t.deepEqual(phases(od), ['OFF_HOURS:opened']);
  t.is(od[0]!.event.violation.startTs, local(30, 0));
  t.is(od[0]!.at, local(30, 1));
});

test('OFF_HOURS: a permit expiring mid-trip hands over (NO_PERMIT), no OFF_HOURS', (t) => {
  // the permit ends the day before the fixes' local date: no valid permit, not this rule's business
  const expired = compileWorld(snapshot({ permits: [{ ...PERMIT, validTo: '2026-11-09' }] }));
  t.deepEqual(ofCode(run(track(MORNING, 30, { step: 80 }), { world: expired }).log, 'OFF_HOURS'), []);
  // expiring at local midnight during an open OFF_HOURS violation closes it there
  const lastDay = compileWorld(
    snapshot({ permits: [{ ...PERMIT, validTo: DAY, windows: ['08:00-20:00'] }] }),
  );
  const trip = track(local(23, 58), 30, { step: 80 });
  const oh = ofCode(run(trip, { world: lastDay }).log, 'OFF_HOURS');
  t.deepEqual(phases(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[1]!.event.violation.endTs, local(24, 0));
  t.is(oh[1]!.event.violation.details.endReason, 'no_valid_permit');
});

// ---------------------------------------------------------------------------------------------- OVERSPEED

test('OVERSPEED: over the segment limit for 10 s opens; the first fix at the limit closes; grade by the max', (t) => {
  // day limit 60 on the first leg; 5 s fixes (alarm rate)
  const speeds = [55, 70, 70, 70, 71, 71, 60, 50];
  const fixes = track(MORNING, speeds.length, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: speeds[i]!, load: 'empty' }),
  });
  const os = ofCode(run(fixes).log, 'OVERSPEED');
  t.deepEqual(phases(os), ['OVERSPEED:opened', 'OVERSPEED:closed']);
  t.is(os[0]!.at, MORNING + 15_000);
  t.is(os[0]!.event.violation.startTs, MORNING + 5_000);
  t.like(os[0]!.event.violation.details, { limitKmh: 60, maxSpeedKmh: 70, grade: 0 });
  t.deepEqual(
    os[0]!.event.violation.refs.find((r) => r.kind === 'route'),
    { kind: 'route', id: 'R1', version: 1 },
  );
  t.is(os[1]!.event.violation.endTs, MORNING + 30_000);
  t.is(os[1]!.event.violation.durationMs, 25_000);
  t.like(os[1]!.event.violation.details, { maxSpeedKmh: 71, grade: 0 });
});

test('OVERSPEED: no onset under 10 s; grades 1 and 2 at 20 % and 50 % over', (t) => {
  const short = track(MORNING, 5, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: [50, 80, 80, 60, 80][i]! }),
  });
  t.deepEqual(ofCode(run(short).log, 'OVERSPEED'), []);
  const speeds = [72, 72, 72, 90, 90, 91, 40];
  const graded = track(MORNING, speeds.length, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: speeds[i]! }),
  });
  const os = ofCode(run(graded).log, 'OVERSPEED');
  t.deepEqual(phases(os), ['OVERSPEED:opened', 'OVERSPEED:updated', 'OVERSPEED:closed']);
  t.is(os[0]!.event.violation.details.grade, 1, '72 km/h is 20 % over 60');
  t.is(os[1]!.event.violation.details.grade, 2, '90 km/h is 50 % over 60');
  t.is(os[1]!.at, MORNING + 15_000);
  t.like(os[2]!.event.violation.details, { grade: 2, maxSpeedKmh: 91, limitKmh: 60 });
});

test('OVERSPEED: escalation at 5 and 10 min; night limit; speed zone; body cameras exempt', (t) => {
  const long = track(MORNING, 140, { step: 0, extra: (i) => ({ speed: i < 130 ? 65 : 50 }) });
  const os = ofCode(run(long).log, 'OVERSPEED');
  t.deepEqual(
    os.map((l) => `${l.event.phase}:${l.event.violation.level}`),
    ['opened:0', 'updated:1', 'updated:2', 'closed:2'],
  );
  t.is(os[1]!.at, MORNING + 300_000);
  t.is(os[2]!.at, MORNING + 600_000);
  // 23:00: the night limit of the first leg is 40
  const night = ofCode(run(track(NIGHT, 5, { extra: () => ({ speed: 50 }) })).log, 'OVERSPEED');
  t.is(night[0]!.event.violation.details.limitKmh, 40);
  t.deepEqual(night[0]!.event.violation.thresholds.nightWindows, ['22:00-06:00']);
  // at 10:00 the same 50 km/h is under the day limit 60
  t.deepEqual(ofCode(run(track(MORNING, 5, { extra: () => ({ speed: 50 }) })).log, 'OVERSPEED'), []);
  // the speed zone (30 km/h, all day) inside the corridor
  const zone = ofCode(run(track(MORNING, 5, { along: 2800, extra: () => ({ speed: 35 }) })).log, 'OVERSPEED');
  t.is(zone[0]!.event.violation.details.limitKmh, 30);
  t.deepEqual(
    zone[0]!.event.violation.refs.find((r) => r.kind === 'zone'),
    { kind: 'zone', id: 'SZ1', version: 1 },
  );
  // a body camera is never judged for speed
  const cam = track(MORNING, 10, {
    along: 2800,
    extra: () => ({ speed: 90, kind: 'body_camera', vehicle: 'C1' }),
  });
  t.deepEqual(run(cam, { vehicle: 'C1' }).events, []);
  // far off any route and zone: the city default (night 50 km/h) judges it
  const far = ofCode(
    run(track(NIGHT, 10, { lateral: () => 3000, extra: () => ({ speed: 120, load: 'empty' }) })).log,
    'OVERSPEED',
  );
  t.deepEqual(phases(far), ['OVERSPEED:opened']);
  t.like(far[0]!.event.violation.details, { limitKmh: 50, limitSource: 'default', grade: 2 });
});

// ---------------------------------------------------------------------------------------------- RESTRICTED_ZONE

function inZone(ts: number, eastM: number, northM: number, extra: Partial<Fix> = {}): Fix {
  return fixAt(ts, offset(RZ_CENTER, eastM, northM), { load: 'empty', ...extra });
}

test('RESTRICTED_ZONE: two fixes inside open it from the first; leaving closes; refs carry the zone version', (t) => {
  const T = local(8);
  const fixes = [
    inZone(T, -400, 0),
    inZone(T + 10_000, -100, 0),
    inZone(T + 20_000, 0, 0),
    inZone(T + 30_000, 400, 0),
    // clearly outside for 30 s (restrictedZoneExitMs): it ends at the first fix of that run
    inZone(T + 40_000, 500, 0),
    inZone(T + 50_000, 600, 0),
    inZone(T + 60_000, 700, 0),
  ];
  const rz = ofCode(run(fixes).log, 'RESTRICTED_ZONE');
  t.deepEqual(phases(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[0]!.at, T + 20_000, 'raised at the second fix inside');
  t.is(rz[0]!.event.violation.startTs, T + 10_000);
  t.like(rz[0]!.event.violation.details, {
    onset: 'consecutive',
    insideFixes: 2,
    depthM: 200,
    zoneId: 'RZ1',
  });
  t.is(rz[0]!.event.violation.ruleVersion, 3);
  // one fix 100 m inside, the next outside again: a single fix proves nothing (version 2 opened here)
  const stray = [inZone(T, -400, 0), inZone(T + 10_000, -100, 0), inZone(T + 20_000, -400, 0)];
  t.deepEqual(ofCode(run(stray).log, 'RESTRICTED_ZONE'), []);
  t.deepEqual(
    rz[0]!.event.violation.refs.find((r) => r.kind === 'zone'),
    { kind: 'zone', id: 'RZ1', version: 3 },
  );
  t.is(rz[1]!.event.violation.endTs, T + 30_000);
  t.is(rz[1]!.event.violation.durationMs, 20_000);
});

test('RESTRICTED_ZONE: at the edge, one fix inside opens nothing; two consecutive fixes do', (t) => {
  const T = local(8);
  // 190 m east of the centre: 10 m inside the 200 m half-size box, within the 15 m floor
  const once = [inZone(T, 250, 0), inZone(T + 10_000, 190, 0), inZone(T + 20_000, 250, 0)];
  t.deepEqual(run(once).events, []);
  const twice = [
    inZone(T, 250, 0),
    inZone(T + 10_000, 190, 0),
    inZone(T + 20_000, 192, 5),
    inZone(T + 30_000, 250, 0),
    inZone(T + 40_000, 250, 0),
    inZone(T + 50_000, 250, 0),
    inZone(T + 60_000, 250, 0),
  ];
  const rz = ofCode(run(twice).log, 'RESTRICTED_ZONE');
  t.deepEqual(phases(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[0]!.at, T + 20_000);
  t.is(rz[0]!.event.violation.startTs, T + 10_000);
  t.is(rz[0]!.event.violation.details.onset, 'consecutive');
});

test('RESTRICTED_ZONE: closes when its window ends; open hours, other unit kinds are not judged', (t) => {
  const fixes = [inZone(local(8, 59, 40), 0, 0), inZone(local(8, 59, 50), 0, 0), inZone(local(9), 0, 0)];
  const rz = ofCode(run(fixes).log, 'RESTRICTED_ZONE');
  t.deepEqual(phases(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[1]!.event.violation.endTs, local(9));
  t.deepEqual(run([inZone(local(10), 0, 0), inZone(local(10, 0, 10), 0, 0)]).events, []);
  const sweeper = [
    inZone(local(8), 0, 0, { vehicle: 'S1', kind: 'sanitation' }),
    inZone(local(8, 0, 10), 0, 0, { vehicle: 'S1', kind: 'sanitation' }),
  ];
  t.deepEqual(run(sweeper, { vehicle: 'S1' }).events, []);
});

// ---------------------------------------------------------------------------------------------- TRACK_GAP

test('TRACK_GAP: a gap over 5 min is opened and closed in one step', (t) => {
  const a = fixAt(NIGHT, onRoute(1500));
  const ok = fixAt(NIGHT + 300_000, onRoute(1600));
  const gap = fixAt(NIGHT + 601_000, onRoute(1700));
  const tg = ofCode(run([a, ok, gap]).log, 'TRACK_GAP');
  t.deepEqual(phases(tg), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.is(tg[0]!.event.violation.startTs, NIGHT + 300_000, 'exactly 5 min is not a gap');
  t.is(tg[1]!.event.violation.endTs, NIGHT + 601_000);
  t.is(tg[1]!.event.violation.durationMs, 301_000);
  t.like(tg[1]!.event.violation.details, { gapMs: 301_000, reason: 'gap' });
  t.true(Math.abs(Number(tg[1]!.event.violation.details.distanceM) - 100) < 0.5);
});

test('TRACK_GAP: an implied speed over 150 km/h; 120 km/h is fine; a parked vehicle asleep is not a gap', (t) => {
  // 2 km in 30 s, and the track goes on from there: a jump (raised at the fix that confirms it)
  const jump = [
    fixAt(NIGHT, onRoute(500)),
    fixAt(NIGHT + 30_000, onRoute(2500)),
    fixAt(NIGHT + 40_000, onRoute(2580)),
  ];
  const tg = ofCode(run(jump).log, 'TRACK_GAP');
  t.is(tg.length, 2);
  t.is(tg[0]!.at, NIGHT + 40_000);
  t.like(tg[1]!.event.violation.details, { reason: 'speed', gapMs: 30_000 });
  t.true(Math.abs(Number(tg[1]!.event.violation.details.impliedSpeedKmh) - 240) < 0.5);
  const fast = [fixAt(NIGHT, onRoute(500)), fixAt(NIGHT + 30_000, onRoute(1500))]; // 120 km/h
  t.deepEqual(ofCode(run(fast).log, 'TRACK_GAP'), []);
  const parked = [
    fixAt(NIGHT, onRoute(0), { ign: false, speed: 0 }),
    fixAt(NIGHT + 8 * 3_600_000, offset(onRoute(0), 8, -5), { ign: false, speed: 0 }),
  ];
  t.deepEqual(ofCode(run(parked).log, 'TRACK_GAP'), []);
  const silentDriving = [fixAt(NIGHT, onRoute(0)), fixAt(NIGHT + 8 * 3_600_000, onRoute(0))];
  t.is(ofCode(run(silentDriving).log, 'TRACK_GAP').length, 2);
});

test('TRACK_GAP: a truck standing still at both ends of a 12 min silence, ignition on, its two noisy fixes 73 m apart, is no gap; 150 m apart it moved', (t) => {
  // hefei-faults seed 3: parked at the disposal site, the terminal silent 12.7 min, accuracy 18.2 and
  // 16.4 m, the two positions 73 m apart (more than the 69 m allowance of 2 x (18.2 + 16.4))
  const at = (dx: number, dy: number, ts: number, accuracy: number) =>
    fixAt(ts, offset(onRoute(0), dx, dy), { speed: 0, ign: true, accuracy });
  const noisy = [at(0, 0, NIGHT, 18.2), at(29, 67, NIGHT + 760_000, 16.4)];
  t.deepEqual(ofCode(run(noisy).log, 'TRACK_GAP'), []);
  const moved = [at(0, 0, NIGHT, 18.2), at(60, 138, NIGHT + 760_000, 16.4)];
  t.is(ofCode(run(moved).log, 'TRACK_GAP').length, 2);
  // speed reported above 5 km/h at either end: moving, whatever the displacement
  const rolling = [at(0, 0, NIGHT, 18.2), { ...at(29, 67, NIGHT + 760_000, 16.4), speed: 20 }];
  t.is(ofCode(run(rolling).log, 'TRACK_GAP').length, 2);
});

// ---------------------------------------------------------------------------------------------- OFFLINE

test('OFFLINE: silent for more than max(3 x the report interval, 10 min) with the ignition on; closed by the next fix', (t) => {
  const last = fixAt(MORNING, onRoute(1500), { load: 'empty', speed: 0 });
  const items: Item[] = [
    last,
    { tick: MORNING + 30_000 }, // 3 x 10 s: a 30 s silence is nothing now
    { tick: MORNING + 600_000 }, // exactly 10 min: not yet
    { tick: MORNING + 601_000 },
    { tick: MORNING + 660_000 }, // already open: nothing new
    fixAt(MORNING + 720_000, onRoute(1500), { load: 'empty', speed: 0 }),
    { tick: MORNING + 730_000 },
  ];
  const off = ofCode(run(items).log, 'OFFLINE');
  t.deepEqual(phases(off), ['OFFLINE:opened', 'OFFLINE:closed']);
  t.is(off[0]!.at, MORNING + 601_000);
  t.is(off[0]!.event.violation.startTs, MORNING + 600_000);
  t.is(off[0]!.event.violation.id, `V1:OFFLINE:${MORNING + 600_000}`);
  t.like(off[0]!.event.violation.details, { reason: 'ignition_on', reportIntervalS: 10 });
  t.deepEqual(
    off[0]!.event.violation.refs.find((r) => r.kind === 'vehicle'),
    { kind: 'vehicle', id: 'V1', version: 1 },
  );
  t.is(off[1]!.event.violation.endTs, MORNING + 720_000);
  t.is(off[1]!.event.violation.durationMs, 120_000);
});

test('OFFLINE: ignition off is asleep at any hour, permit hours included (version 1 charged them from the window start)', (t) => {
  const parked = fixAt(MORNING, onRoute(0), { ign: false, speed: 0, load: 'empty' });
  t.deepEqual(run([parked, { tick: MORNING + 3_600_000 }]).events, []);
  const evening = fixAt(local(21, 50), onRoute(0), { ign: false, speed: 0, load: 'empty' });
  t.deepEqual(
    run([evening, { tick: local(21, 59) }, { tick: local(22, 5) }, { tick: local(29) }]).events,
    [],
  );
});

// ---------------------------------------------------------------------------------------------- engine-level

function mixedTrip(): Fix[] {
  // 21:50 onwards: off-hours, speeding in the school zone, off-route excursion, a silent spell, back in
  const g = gaussian(prng(7));
  const out: Fix[] = [];
  let ts = local(21, 50);
  for (let i = 0; i < 200; i++) {
    const along = 200 + i * 30;
    const lateral = i >= 60 && i < 80 ? 180 : 0;
    const speed = i >= 90 && i < 100 ? 45 : 28;
    ts += i === 150 ? 700_000 : 10_000;
    out.push(fixAt(ts, noisy(onRoute(Math.min(along, ROUTE_LEN - 100), lateral), g), { speed: speed + g() }));
  }
  return out;
}

test('duplicates and out-of-order fixes are skipped: same events, no duplicate events', (t) => {
  const clean = mixedTrip();
  const rand = prng(99);
  const messy: Fix[] = [];
  for (let i = 0; i < clean.length; i++) {
    messy.push(clean[i]!);
    if (rand() < 0.2) messy.push({ ...clean[i]! }); // duplicate
    if (i > 5 && rand() < 0.15) messy.push({ ...clean[i - 1 - Math.floor(rand() * 5)]!, late: true }); // late
  }
  const a = run(clean);
  const b = run(messy);
  t.true(a.events.length > 4, `the trip produces violations (${phases(a.log).join(', ')})`);
  t.deepEqual(b.events, a.events);
  t.true(b.state.skippedLate > 0);
  const keys = b.events.map(
    (e) => `${e.violation.id}:${e.phase}:${e.violation.level}:${JSON.stringify(e.violation.details)}`,
  );
  t.is(new Set(keys).size, keys.length, 'no event twice');
  const openedIds = b.events.filter((e) => e.phase === 'opened').map((e) => e.violation.id);
  t.is(new Set(openedIds).size, openedIds.length, 'each violation opened once');
  const closedIds = b.events.filter((e) => e.phase === 'closed').map((e) => e.violation.id);
  t.is(new Set(closedIds).size, closedIds.length, 'each violation closed once');
});

test('replay determinism: the same fixes give deep-equal, byte-equal event lists', (t) => {
  const items: Item[] = [...mixedTrip()];
  items.splice(150, 0, { tick: (items[149] as Fix).ts + 660_000 });
  const a = run(items);
  const b = run(items.map((x) => ('ts' in x ? { ...x } : x)));
  t.deepEqual(b.events, a.events);
  t.is(JSON.stringify(b.events), JSON.stringify(a.events));
  t.deepEqual(b.state, a.state);
  const codes = new Set(a.events.map((e) => e.violation.code));
  for (const c of ['OFF_ROUTE', 'OFF_HOURS', 'OVERSPEED', 'TRACK_GAP', 'OFFLINE'])
    t.true(codes.has(c as never), c);
});

test('per-vehicle state of these rules stays small (JSON < 1 KiB with nothing open)', (t) => {
  const { state } = run(track(NIGHT, 50, { step: 60 }));
  t.true(JSON.stringify(state.slices).length < 1024, JSON.stringify(state.slices));
});
