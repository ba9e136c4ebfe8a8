/**
 * The compliance registry (registry/compliance.ts): versions, tombstones, the append-only file, the
 * engine's snapshot, the city thresholds, durability, change listeners, batches, optimistic concurrency
 * and the vehicle profiles. Its validation: compliance-validation.test.ts; GeoJSON: geojson.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { compileWorld } from '../../geofence/compile.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import {
  type ComplianceChange,
  ComplianceRegistry,
  ConflictError,
  vehicleProfilesFrom,
} from '../../registry/compliance.ts';
import { ValidationError } from '../../registry/geometry.ts';
import { squareFrom } from '../support/geometry.ts';
import {
  DISPOSAL,
  issuesOf,
  LINE,
  ORIGIN,
  open,
  PERMIT,
  seed,
  VEHICLES,
} from '../support/registry/compliance.ts';

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
