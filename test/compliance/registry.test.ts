import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { compileWorld } from '../../geofence/compile.ts';
import { wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { Ruler } from '../../geofence/geo/ruler.ts';
import type { Position, VehicleProfile } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import {
  type ComplianceChange,
  ComplianceRegistry,
  ConflictError,
  type PermitInput,
  type SiteInput,
  vehicleProfilesFrom,
} from '../../registry/compliance.ts';
import { routeFromFeature, routeToFeature, siteFromFeature, siteToFeature } from '../../registry/geojson.ts';
import { ValidationError } from '../../registry/geometry.ts';
import { squareFrom } from '../support/geometry.ts';

// Hefei (合肥), WGS-84
const ORIGIN: SiteInput = {
  id: 'site-o',
  kind: 'origin',
  name: '蜀山工地',
  polygons: [squareFrom(117.2, 31.8)],
};
const DISPOSAL: SiteInput = {
  id: 'site-d',
  kind: 'disposal',
  name: '肥西消纳场',
  polygons: [squareFrom(117.3, 31.85)],
};
const LINE: Position[] = [
  [117.2025, 31.8025],
  [117.25, 31.82],
  [117.3025, 31.8525],
];
const PERMIT: PermitInput = {
  id: 'permit-1',
  firm: 'firm-a',
  vehicles: ['veh-1'],
  origins: ['site-o'],
  disposals: ['site-d'],
  routes: ['route-1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: '建筑垃圾',
  state: 'active',
};
const VEHICLES: VehicleProfile[] = [
  { id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
];

function open(t: { teardown(fn: () => void): void }, over: { dir?: string; now?: () => number } = {}) {
  const dir = over.dir ?? mkdtempSync(join(tmpdir(), 'citywatch-compliance-'));
  const registry = new ComplianceRegistry({
    dir,
    vehicles: () => VEHICLES,
    ...(over.now ? { now: over.now } : {}),
  });
  t.teardown(() => {
    registry.close();
    if (over.dir === undefined) rmSync(dir, { recursive: true, force: true });
  });
  return { registry, dir };
}

function seed(registry: ComplianceRegistry) {
  registry.put('site', ORIGIN);
  registry.put('site', DISPOSAL);
  registry.put('route', { id: 'route-1', name: '繁华大道', line: LINE });
}

function issuesOf(fn: () => unknown): Array<[string, string]> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => [i.path, i.message]);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

test('versions start at 1 and increase by one on every put; history keeps every version', (t) => {
  let clock = Date.parse('2026-11-01T00:00:00Z');
  const { registry } = open(t, { now: () => (clock += 1000) });
  const v1 = registry.put('site', ORIGIN, { actor: 'alice' });
  t.is(v1.version, 1);
  t.is(v1.id, 'site-o');
  const v2 = registry.put('site', { ...ORIGIN, name: '蜀山工地二期' }, { actor: 'bob' });
  t.is(v2.version, 2);
  t.is(registry.get('site', 'site-o')?.name, '蜀山工地二期');
  t.is(registry.get('site', 'site-o', 1)?.name, '蜀山工地', 'old versions stay readable');
  const history = registry.history('site', 'site-o');
  t.deepEqual(
    history.map((h) => [h.version, h.deleted, h.actor, h.entity?.name]),
    [
      [1, false, 'alice', '蜀山工地'],
      [2, false, 'bob', '蜀山工地二期'],
    ],
  );
  // (the first tick wrote the default thresholds at open)
  t.is(history[0]!.createdAt, '2026-11-01T00:00:02.000Z');
  t.true(Object.isFrozen(v2) && Object.isFrozen(v2.polygons[0]), 'handed-out entities are frozen');
  // generated ids
  const anon = registry.put('route', { name: 'x', line: LINE });
  t.regex(anon.id, /^route-[0-9a-f-]{36}$/);
  t.is(anon.corridorM, 50, 'corridor defaults to 50 m');
  t.deepEqual(anon.limits, []);
});

test('delete writes a tombstone: gone from get and list, kept in history; a later put goes on numbering', (t) => {
  const { registry } = open(t);
  seed(registry);
  registry.put('site', { ...ORIGIN, name: 'renamed' });
  const tomb = registry.delete('site', 'site-o', { actor: 'carol' });
  t.is(tomb.version, 3);
  t.true(tomb.deleted);
  t.is(registry.get('site', 'site-o'), undefined);
  t.is(registry.record('site', 'site-o')?.deleted, true);
  t.deepEqual(
    registry.list('site').map((s) => s.id),
    ['site-d'],
  );
  t.deepEqual(
    registry.history('site', 'site-o').map((h) => [h.version, h.deleted]),
    [
      [1, false],
      [2, false],
      [3, true],
    ],
  );
  t.is(registry.get('site', 'site-o', 2)?.name, 'renamed');
  t.throws(() => registry.delete('site', 'site-o'), { message: /no site 'site-o'/ });
  t.is(registry.put('site', ORIGIN, { ifVersion: 0 }).version, 4, 're-created after the tombstone');
});

test('the version rows are append-only in the file itself', (t) => {
  const { registry, dir } = open(t);
  registry.put('site', ORIGIN);
  const db = new Database(join(dir, 'compliance.db'));
  t.teardown(() => db.close());
  t.throws(() => db.prepare("UPDATE entity_versions SET body = '{}'").run(), {
    any: true,
    message: /immutable/,
  });
  t.throws(() => db.prepare('DELETE FROM entity_versions').run(), { any: true, message: /immutable/ });
});

test('snapshot: latest versions of everything, only ACTIVE permits (without state), vehicles, thresholds', (t) => {
  const { registry } = open(t);
  seed(registry);
  registry.put('permit', PERMIT);
  registry.put('permit', { ...PERMIT, id: 'permit-2', state: 'submitted' });
  registry.put('permit', { ...PERMIT, id: 'permit-3', state: 'revoked' });
  registry.put('zone', {
    id: 'zone-1',
    kind: 'restricted',
    name: '老城区',
    polygons: [squareFrom(117.28, 31.86)],
    windows: ['07:00-09:00', '17:00-19:00'],
  });
  registry.put('site', { ...ORIGIN, name: '蜀山工地二期' });
  registry.put('permit', { ...PERMIT, windows: ['21:00-05:00'] });

  const snap = registry.snapshot();
  t.deepEqual(
    snap.sites.map((s) => [s.id, s.version, s.name]),
    [
      ['site-d', 1, '肥西消纳场'],
      ['site-o', 2, '蜀山工地二期'],
    ],
  );
  t.deepEqual(
    snap.permits.map((p) => [p.id, p.version]),
    [['permit-1', 2]],
  );
  t.deepEqual(snap.permits[0]!.windows, ['21:00-05:00']);
  t.false('state' in snap.permits[0]!, 'the engine sees the model Permit');
  t.deepEqual(
    snap.routes.map((r) => r.id),
    ['route-1'],
  );
  t.deepEqual(
    snap.zones.map((z) => z.id),
    ['zone-1'],
  );
  t.deepEqual(snap.vehicles, VEHICLES);
  t.deepEqual(snap.thresholds, { id: 'city', version: 1, values: DEFAULT_THRESHOLDS });

  // Permit leaves the snapshot when it stops being active.
  registry.put('permit', { ...PERMIT, state: 'revoked' });
  t.deepEqual(registry.snapshot().permits, []);

  // The engine compiles it.
  const world = compileWorld(snap);
  t.deepEqual(
    world.sitesAt([117.2025, 31.8025]).map((s) => [s.id, s.version]),
    [['site-o', 2]],
  );
  t.true((world.routeDistance('route-1', [117.25, 31.82])?.distanceM ?? Infinity) < 1);
});

test('city thresholds: DEFAULT_THRESHOLDS as version 1, replaced by a new version; missing values are the defaults', (t) => {
  const { registry } = open(t);
  t.deepEqual(registry.thresholds(), { id: 'city', version: 1, values: DEFAULT_THRESHOLDS });
  const v2 = registry.put('thresholds', { values: { offRouteMinMs: 90_000, nightWindows: ['23:00-05:00'] } });
  t.is(v2.version, 2);
  t.deepEqual(v2.values, { ...DEFAULT_THRESHOLDS, offRouteMinMs: 90_000, nightWindows: ['23:00-05:00'] });
  t.is(registry.snapshot().thresholds.version, 2);
  t.is(registry.get('thresholds', 'city', 1)?.values.offRouteMinMs, DEFAULT_THRESHOLDS.offRouteMinMs);
  t.deepEqual(
    issuesOf(() => registry.put('thresholds', { values: { offRouteMinMs: -1, bogus: 1 } as never })),
    [
      ['values.bogus', 'unknown threshold'],
      ['values.offRouteMinMs', 'must be a non-negative number'],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('thresholds', { values: { nightWindows: ['22:00-'] } })),
    [['values.nightWindows[0]', 'bad time window "22:00-", expected HH:MM-HH:MM']],
  );
  t.throws(() => registry.delete('thresholds', 'city'), { instanceOf: ConflictError });
});

test('durable across close and reopen: latest, history, thresholds; numbering continues', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-compliance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = new ComplianceRegistry({ dir });
  seed(first);
  first.put('permit', PERMIT);
  first.put('site', { ...ORIGIN, name: 'v2' });
  first.put('thresholds', { values: { trackGapMs: 600_000 } });
  first.delete(
    'zone',
    first.put('zone', {
      id: 'z',
      kind: 'speed',
      name: 'z',
      polygons: [squareFrom(117, 31)],
      speedLimitKmh: 30,
    }).id,
  );
  const before = first.snapshot();
  first.close();

  const again = open(t, { dir }).registry;
  t.deepEqual({ ...again.snapshot(), vehicles: [] }, before);
  t.deepEqual(
    again.history('site', 'site-o').map((h) => h.version),
    [1, 2],
  );
  t.is(again.record('zone', 'z')?.deleted, true);
  t.is(again.thresholds().version, 2, 'defaults are not written again on reopen');
  t.is(again.put('site', ORIGIN).version, 3);
});

test('onChange: called after each committed change with kind, id and version; unsubscribe stops it', (t) => {
  const errors: unknown[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-compliance-'));
  const registry = new ComplianceRegistry({ dir, onListenerError: (e) => errors.push(e) });
  t.teardown(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const seen: ComplianceChange[] = [];
  const off = registry.onChange((c) => {
    seen.push(c);
    t.is(registry.snapshot().sites.find((s) => s.id === c.id)?.version ?? c.version, c.version);
  });
  registry.onChange(() => {
    throw new Error('listener bug');
  });
  registry.put('site', ORIGIN);
  registry.delete('site', 'site-o');
  t.throws(() => registry.put('site', { ...ORIGIN, polygons: [] }), { instanceOf: ValidationError });
  off();
  registry.put('site', DISPOSAL);
  t.deepEqual(seen, [
    { kind: 'site', id: 'site-o', version: 1, deleted: false },
    { kind: 'site', id: 'site-o', version: 2, deleted: true },
  ]);
  t.is(errors.length, 3, 'a failing listener neither stops the write nor the other listeners');
});

test('batch: one transaction; listeners hear after the commit; a throw stores nothing and restores the latest versions', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-compliance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const registry = new ComplianceRegistry({ dir, vehicles: () => VEHICLES });
  const seen: Array<[string, string, number, number]> = [];
  registry.onChange((c) => seen.push([c.kind, c.id, c.version, registry.list('site').length]));
  registry.batch(() => {
    seed(registry);
    // checked against the writes before it in the same batch
    registry.put('permit', PERMIT);
    t.deepEqual(seen, [], 'nothing told before the commit');
  });
  t.deepEqual(
    seen.map(([kind, id, version]) => [kind, id, version]),
    [
      ['site', 'site-o', 1],
      ['site', 'site-d', 1],
      ['route', 'route-1', 1],
      ['permit', 'permit-1', 1],
    ],
  );
  t.true(
    seen.every(([, , , sites]) => sites === 2),
    'each listener call sees the whole batch committed',
  );
  seen.length = 0;
  const before = registry.snapshot();
  t.throws(
    () =>
      registry.batch(() => {
        registry.put('site', { ...ORIGIN, name: 'renamed' });
        registry.put('route', { id: 'route-1', name: 'bad', line: [LINE[0]!] });
      }),
    { instanceOf: ValidationError },
  );
  t.deepEqual(registry.snapshot(), before, 'the first write of the failed batch is undone in memory');
  t.is(registry.get('site', 'site-o')?.name, ORIGIN.name);
  t.deepEqual(seen, [], 'no listener heard of the failed batch');
  registry.close();
  const again = open(t, { dir }).registry;
  t.deepEqual(
    again.history('site', 'site-o').map((h) => h.version),
    [1],
    'nothing of the failed batch in the file',
  );
  t.is(again.get('permit', 'permit-1')?.version, 1);
});

test('optimistic concurrency: ifVersion 0 refuses an existing id, ifVersion n a stale version', (t) => {
  const { registry } = open(t);
  registry.put('site', ORIGIN);
  t.throws(() => registry.put('site', ORIGIN, { ifVersion: 0 }), {
    instanceOf: ConflictError,
    message: /already exists/,
  });
  t.is(registry.put('site', ORIGIN, { ifVersion: 1 }).version, 2);
  t.throws(() => registry.put('site', ORIGIN, { ifVersion: 1 }), { message: /is at version 2, not 1/ });
  t.is(registry.history('site', 'site-o').length, 2, 'nothing written on a conflict');
});

test('validation: self-intersecting polygon, open ring, bad coordinates, each named by path', (t) => {
  const { registry } = open(t);
  const bowtie: Position[][] = [
    [
      [117.2, 31.8],
      [117.21, 31.81],
      [117.21, 31.8],
      [117.2, 31.81],
      [117.2, 31.8],
    ],
  ];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [bowtie] })),
    [['polygons[0]', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const open4 = squareFrom(117.2, 31.8)[0]!.slice(0, 4);
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [[open4]] })),
    [
      [
        'polygons[0][0][3]',
        'ring is not closed: the last position [117.2, 31.805] must repeat the first [117.2, 31.8]',
      ],
    ],
  );
  const triangle: Position[][] = [
    [
      [117.2, 31.8],
      [117.21, 31.8],
      [117.2, 31.8],
    ],
  ];
  t.regex(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [triangle] }))[0]![1],
    /at least 4 positions/,
  );
  const far = squareFrom(117.2, 31.8);
  far[0]![2] = [190, 31.8];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [far] })),
    [['polygons[0][0][2]', 'longitude 190 is outside -180..180']],
  );
  const nan = squareFrom(117.2, 31.8);
  nan[0]![1] = [Number.NaN, 31.8];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [nan] })),
    [['polygons[0][0][1]', 'coordinates must be finite numbers']],
  );
  const holeOutside = [...squareFrom(117.2, 31.8), squareFrom(117.3, 31.8, 0.001)[0]!];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [holeOutside] })),
    [['polygons[0][1]', 'hole lies outside the outer ring']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, kind: 'dump' as never, name: ' ' })),
    [
      ['kind', "must be one of 'origin', 'disposal'"],
      ['name', 'must be a non-empty string'],
    ],
  );
  t.is(registry.list('site').length, 0, 'nothing stored');
});

test('validation: routes need 2+ distinct consecutive points, a corridor in (0, 1000] m, limits within the line', (t) => {
  const { registry } = open(t);
  const route = { id: 'r', name: 'r', line: LINE };
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, line: [[117.2, 31.8]] })),
    [['line', 'a route needs at least 2 positions, got 1']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, line: [LINE[0]!, LINE[0]!, LINE[1]!] })),
    [['line[1]', 'position [117.2025, 31.8025] repeats the previous one (zero-length segment)']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, corridorM: 0 })),
    [['corridorM', 'corridor width must be greater than 0 m, got 0']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, corridorM: 1500 })),
    [['corridorM', 'corridor width must be at most 1000 m, got 1500']],
  );
  t.deepEqual(
    issuesOf(() =>
      registry.put('route', {
        ...route,
        limits: [
          { from: 0, to: 3, speedLimitKmh: 40 },
          { from: 1, to: 1, nightLimitKmh: 30 },
          { from: 0, to: 1 },
          { from: 0, to: 2, speedLimitKmh: -5 },
        ],
      }),
    ),
    [
      ['limits[0].to', 'must be a vertex index of the line, 0..2, got 3'],
      ['limits[1].to', 'must be greater than from (1)'],
      ['limits[2]', 'a limit needs speedLimitKmh or nightLimitKmh'],
      ['limits[3].speedLimitKmh', 'speed limit must be a number of km/h in (0, 250]'],
    ],
  );
  const ok = registry.put('route', {
    ...route,
    corridorM: 80,
    limits: [{ from: 1, to: 2, speedLimitKmh: 40 }],
  });
  t.is(ok.version, 1);
});

test('validation: zone windows, speed zones need a limit', (t) => {
  const { registry } = open(t);
  const zone = {
    id: 'z',
    kind: 'restricted' as const,
    name: '禁行区',
    polygons: [squareFrom(117.28, 31.86)],
  };
  t.deepEqual(
    issuesOf(() => registry.put('zone', { ...zone, windows: ['07:00-09:00', '7am-9am', '25:00-26:00'] })),
    [
      ['windows[1]', 'bad time window "7am-9am", expected HH:MM-HH:MM'],
      ['windows[2]', 'bad start in time window "25:00-26:00"'],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('zone', { ...zone, kind: 'speed' })),
    [['speedLimitKmh', 'required for a speed zone']],
  );
  t.deepEqual(registry.put('zone', zone).windows, [], 'no windows: closed all day');
});

test('validation: permit dates, windows and references to sites and routes', (t) => {
  const { registry } = open(t);
  seed(registry);
  t.deepEqual(
    issuesOf(() =>
      registry.put('permit', {
        ...PERMIT,
        origins: ['site-x'],
        disposals: ['site-o'],
        routes: ['route-1', 'nope'],
      }),
    ),
    [
      ['origins[0]', "unknown site 'site-x'"],
      ['disposals[0]', "site 'site-o' is a origin site, not disposal"],
      ['routes[1]', "unknown route 'nope'"],
    ],
  );
  t.deepEqual(
    issuesOf(() =>
      registry.put('permit', {
        ...PERMIT,
        validFrom: '2026-12-01',
        validTo: '2026-11-30',
        windows: [],
        vehicles: [],
      }),
    ),
    [
      ['vehicles', 'at least 1 required'],
      ['validTo', '2026-11-30 is before 2026-12-01 (validFrom)'],
      ['windows', 'at least 1 window(s) "HH:MM-HH:MM" required'],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('permit', { ...PERMIT, validTo: '2026-02-30', state: 'live' as never })),
    [
      ['validTo', 'no such date "2026-02-30"'],
      ['state', "must be one of 'submitted', 'approved', 'active', 'rejected', 'revoked', 'expired'"],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('permit', { ...PERMIT, thresholds: { offRouteMinFixes: 0 } })),
    [['thresholds.offRouteMinFixes', 'must be a positive integer']],
  );
  registry.put('permit', PERMIT);

  // Sites and routes named by a live permit cannot be deleted, nor swap roles.
  t.throws(() => registry.delete('site', 'site-o'), {
    instanceOf: ConflictError,
    message: /permit\(s\) 'permit-1'/,
  });
  t.throws(() => registry.delete('route', 'route-1'), { instanceOf: ConflictError });
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, kind: 'disposal' })),
    [['kind', "permit(s) 'permit-1' use this site as an origin"]],
  );
  registry.put('permit', { ...PERMIT, state: 'revoked' });
  t.is(registry.delete('site', 'site-o').version, 2, 'free once the permit is revoked');
});

test('GeoJSON: a GCJ-02 site (Hefei) is stored in WGS-84, hundreds of metres from the input', (t) => {
  const { registry } = open(t);
  const wgs = squareFrom(117.2, 31.8);
  const gcj = wgs.map((ring) => ring.map((p) => wgs84ToGcj02(p)));
  const ruler = new Ruler(31.8);
  const offset = ruler.distanceM(gcj[0]![0]!, wgs[0]![0]!);
  t.true(offset > 300 && offset < 800, `GCJ-02 offset in Hefei ${offset} m`);

  const feature = {
    type: 'Feature',
    id: 'site-gcj',
    geometry: { type: 'Polygon', coordinates: gcj },
    properties: { kind: 'origin', name: '地图上画的工地', crs: 'GCJ02' },
  };
  const site = registry.put('site', siteFromFeature(feature));
  site.polygons[0]![0]!.forEach((p, i) => {
    t.true(ruler.distanceM(p, wgs[0]![i]!) < 0.5, `position ${i} back to WGS-84`);
  });
  // the request flag does the same; without a declaration the input is taken as WGS-84
  const flagged = siteFromFeature(
    { ...feature, properties: { kind: 'origin', name: 'x' } },
    { crs: 'GCJ02' },
  );
  t.deepEqual(flagged.polygons, site.polygons);
  const plain = siteFromFeature({ ...feature, properties: { kind: 'origin', name: 'x' } });
  t.deepEqual(plain.polygons, [gcj]);
  // legacy crs member
  const legacy = siteFromFeature({
    ...feature,
    properties: { kind: 'origin', name: 'x' },
    crs: { type: 'name', properties: { name: 'GCJ02' } },
  });
  t.deepEqual(legacy.polygons, site.polygons);
  t.deepEqual(
    issuesOf(() => siteFromFeature(feature, { crs: 'WGS84' })),
    [['properties.crs', 'GCJ02 conflicts with WGS84 declared by the request']],
  );

  // out: WGS-84 Feature with id and version
  const out = siteToFeature(registry.get('site', 'site-gcj')!);
  t.is(out.id, 'site-gcj');
  t.is(out.properties.version, 1);
  t.is(out.geometry.type, 'Polygon');
  t.deepEqual(out.geometry.coordinates, site.polygons[0]);
});

test('GeoJSON: errors point into the Feature; routes default their corridor; MultiPolygon paths keep the index', (t) => {
  const bowtie = {
    type: 'Feature',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [117.2, 31.8],
          [117.21, 31.81],
          [117.21, 31.8],
          [117.2, 31.81],
          [117.2, 31.8],
        ],
      ],
    },
    properties: { kind: 'origin', name: 'x' },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(bowtie)),
    [['geometry.coordinates', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const multi = {
    ...bowtie,
    geometry: { type: 'MultiPolygon', coordinates: [squareFrom(117.3, 31.8), bowtie.geometry.coordinates] },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(multi)),
    [['geometry.coordinates[1]', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const unclosed = {
    ...bowtie,
    geometry: { type: 'Polygon', coordinates: [squareFrom(117.2, 31.8)[0]!.slice(0, 4)] },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(unclosed)).map((i) => i[0]),
    ['geometry.coordinates[0][3]'],
  );
  t.deepEqual(
    issuesOf(() => siteFromFeature({ ...bowtie, geometry: { type: 'LineString', coordinates: LINE } })),
    [['geometry.type', 'must be a Polygon or MultiPolygon geometry']],
  );

  const route = {
    type: 'Feature',
    id: 7,
    geometry: { type: 'LineString', coordinates: LINE.map(([lon, lat]) => [lon, lat, 30]) },
    properties: { name: '繁华大道', limits: [{ from: 0, to: 2, speedLimitKmh: 40 }] },
  };
  const input = routeFromFeature(route);
  t.is(input.id, '7');
  t.is(input.corridorM, 50);
  t.deepEqual(input.line, LINE, 'altitudes dropped');
  t.deepEqual(
    issuesOf(() => routeFromFeature({ ...route, properties: { name: 'x', corridorM: 0 } })),
    [['properties.corridorM', 'corridor width must be greater than 0 m, got 0']],
  );
  t.deepEqual(
    issuesOf(() => routeFromFeature({ ...route, geometry: { type: 'LineString', coordinates: [LINE[0]] } })),
    [['geometry.coordinates', 'a route needs at least 2 positions, got 1']],
  );
  const out = routeToFeature({ ...input, id: '7', version: 3, corridorM: 50, limits: input.limits ?? [] });
  t.deepEqual(out.properties, {
    name: '繁华大道',
    corridorM: 50,
    limits: [{ from: 0, to: 2, speedLimitKmh: 40 }],
    version: 3,
  });
});

test('vehicleProfilesFrom: profiles from the device registry (report interval of the unit’s device)', (t) => {
  const profiles = vehicleProfilesFrom({
    vehicles: () => [
      { id: 'veh-2', plate: '皖A·2', kind: 'muck_truck', firm: 'f', ratedLoadT: 31 },
      { id: 'veh-1', plate: '皖A·1', kind: 'sanitation', firm: 'f' },
    ],
    devices: () => [
      { id: 'd2', kind: 'muck_truck', unit: 'veh-2', firm: 'f', reportIntervalS: 10, enabled: true },
      { id: 'cam', kind: 'body_camera', unit: 'cam', firm: 'dept', reportIntervalS: 15, enabled: true },
    ],
  });
  t.deepEqual(profiles, [
    { id: 'cam', version: 1, firm: 'dept', kind: 'body_camera', reportIntervalS: 15 },
    { id: 'veh-1', version: 1, firm: 'f', kind: 'sanitation', reportIntervalS: 30 },
    { id: 'veh-2', version: 1, firm: 'f', kind: 'muck_truck', reportIntervalS: 10, ratedLoadT: 31 },
  ]);
});
