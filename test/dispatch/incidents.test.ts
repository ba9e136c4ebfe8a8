import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Fix } from '../../core/fix.ts';
import { IncidentDesk } from '../../dispatch/incidents.ts';
import { LiveUnits } from '../../dispatch/live-units.ts';
import { compileWorld } from '../../geofence/compile.ts';
import type { Incident } from '../../geofence/plans.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { ValidationError } from '../../registry/geometry.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { CP1, CP2, codes, DP1, SP1, US1, uf } from '../support/plans-matrix.ts';
import { lifecycleProblems, run } from '../support/rules/matrix/run.ts';
import { pt, snapshot } from '../support/rules/matrix/world.ts';
import { type Item, local } from '../support/rules/track-kit.ts';

/*
 * Incidents (issue 15, item 5): created at a point, assigned to a unit, the arrival and the closing
 * recorded as versions in the real compliance registry; an assigned unit is not available to dispatch;
 * and a body camera assigned to an open incident is judged by NOT_RECORDING on the incident's policy
 * (notRecordingIncidentMinMs, 1 min by default), through the real engine, on or off duty.
 */

const PLANS = { collectionPoints: [CP1, CP2], sweepPlans: [SP1], dutyPlans: [DP1], uploadStations: [US1] };
const worldWith = (...incidents: Incident[]) => compileWorld(snapshot({ ...PLANS, incidents }));

const INC: Incident = {
  id: 'inc-1',
  version: 2,
  title: '占道经营',
  position: pt(200, -3000),
  radiusM: 50,
  openedAt: local(19, 58),
  unit: 'C1',
  assignedAt: local(20),
};

/** C1 every 15 s from t0 for `minutes`, standing at (x, y) */
function camera(t0: number, minutes: number, recording: (i: number) => boolean, x = 0, y = -3000): Fix[] {
  return Array.from({ length: minutes * 4 }, (_, i) =>
    uf('C1', t0 + i * 15_000, x, y, { recording: recording(i), battery: 80, storageFree: 20_000 }),
  );
}

test('NOT_RECORDING in an incident: off duty, assigned, not recording for more than 1 min; ends when the incident closes', (t) => {
  const closed: Incident = { ...INC, version: 4, arrivedAt: local(20, 2), closedAt: local(20, 10) };
  // the assignment reaches the engine at 20:00 (a registry change), the closing at 20:10
  const items: Item[] = [
    ...camera(local(19, 50), 10, () => false),
    { world: worldWith(INC) },
    ...camera(local(20), 10, () => false),
    { world: worldWith(closed) },
    ...camera(local(20, 10), 5, () => false),
  ];
  const r = run(items, { vehicle: 'C1' });
  t.deepEqual(codes(r.log, 'NOT_RECORDING'), [
    `NOT_RECORDING:opened:${local(20)}-`,
    `NOT_RECORDING:closed:${local(20)}-${local(20, 10)}`,
  ]);
  t.is(r.log[0]!.at, local(20, 1), 'opened once the run has lasted 1 min');
  const v = r.events[0]!.violation;
  t.true(v.refs.some((x) => x.kind === 'incident' && x.id === 'inc-1' && x.version === 2));
  t.false(
    v.refs.some((x) => x.kind === 'duty_plan'),
    'off duty: no duty plan',
  );
  t.is(v.details.incident, 'inc-1');
  t.deepEqual(v.thresholds, { notRecordingIncidentMinMs: 60_000 });
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('NOT_RECORDING in an incident, negatives: recording, 45 s without, fixes before the assignment, another camera', (t) => {
  const world = worldWith(INC);
  const recording = camera(local(20), 10, () => true);
  t.deepEqual(codes(run(recording, { world, vehicle: 'C1' }).log, 'NOT_RECORDING'), []);
  const short = camera(local(20), 10, (i) => !(i >= 4 && i < 7)); // 3 fixes: 30 s, then 45 s to the next
  t.deepEqual(codes(run(short, { world, vehicle: 'C1' }).log, 'NOT_RECORDING'), []);
  const before = camera(local(19, 50), 10, () => false);
  t.deepEqual(codes(run(before, { world, vehicle: 'C1' }).log, 'NOT_RECORDING'), []);
  const other = camera(local(20), 10, () => false).map((f) => ({ ...f, vehicle: 'C2' }));
  t.deepEqual(codes(run(other, { world, vehicle: 'C2' }).log, 'NOT_RECORDING'), []);
});

test('NOT_RECORDING on duty: an incident shortens the policy from 5 min to 1 min', (t) => {
  const onDuty: Incident = { ...INC, openedAt: local(9, 58), assignedAt: local(10) };
  const fixes = camera(local(10), 4, () => false);
  t.deepEqual(codes(run(fixes, { world: worldWith(), vehicle: 'C1' }).log, 'NOT_RECORDING'), []);
  const r = run(fixes, { world: worldWith(onDuty), vehicle: 'C1' });
  t.deepEqual(codes(r.log, 'NOT_RECORDING'), [`NOT_RECORDING:opened:${local(10)}-`]);
  const refs = r.events[0]!.violation.refs.map((x) => x.kind);
  t.true(refs.includes('duty_plan') && refs.includes('incident'));
});

// ------------------------------------------------------------------------------------ desk and registry

function desk(t: ExecutionContext, now: () => number) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-incidents-'));
  const registry = new ComplianceRegistry({ dir });
  const units = new LiveUnits({
    world: () => compileWorld(registry.snapshot()),
    now,
    intervalS: () => 15,
  });
  const errors: unknown[] = [];
  const incidents = new IncidentDesk({
    registry,
    now,
    known: (u) => units.get(u) !== undefined,
    onError: (e) => errors.push(e),
  });
  t.teardown(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, registry, units, incidents, errors };
}

test('the desk: created, assigned, arrival at the first fix within the radius, closed; each a version', (t) => {
  let now = local(20);
  const { registry, units, incidents, errors, dir } = desk(t, () => now);
  units.onFixes([uf('C1', now - 5000, 0, -3000), uf('C2', now - 5000, 100, -3000)]);
  const at = pt(300, -3000);
  const i = incidents.create({ lon: at[0], lat: at[1], title: '占道经营' }, 'key-ops');
  t.like(i, { version: 1, radiusM: 50, openedAt: now, title: '占道经营' });
  const refused = t.throws(() => incidents.assign(i.id, 'C9', 'key-ops'), { instanceOf: ValidationError });
  t.regex(JSON.stringify(refused.issues), /unit.*C9.*has not reported/);
  now += 30_000;
  const a = incidents.assign(i.id, 'C1', 'key-ops');
  t.like(a, { version: 2, unit: 'C1', assignedAt: now });
  const j = incidents.create({ lon: at[0], lat: at[1], title: '另一事件' }, 'key-ops');
  t.throws(() => incidents.assign(j.id, 'C1', 'key-ops'), { message: /C1.*open incident/ });
  // the nearest answer names C1's incident
  const near = units.nearest({ lon: at[0], lat: at[1], limit: 5, available: false, kind: 'body_camera' });
  t.is(near.find((u) => u.unit === 'C1')?.incident, i.id);
  // walking in: 60 m out is not there yet, 40 m is; a later fix inside changes nothing
  incidents.onFixes([uf('C1', now + 60_000, 240, -3000)]);
  t.is(registry.get('incident', i.id)!.arrivedAt, undefined);
  incidents.onFixes([uf('C1', now + 90_000, 260, -3000), uf('C1', now + 105_000, 300, -3000)]);
  t.like(registry.get('incident', i.id), { version: 3, arrivedAt: now + 90_000 });
  now += 600_000;
  const c = incidents.close(i.id, 'key-ops');
  t.like(c, { version: 4, closedAt: now });
  t.throws(() => incidents.close(i.id, 'key-ops'), { message: /closed/ });
  t.throws(() => incidents.assign(i.id, 'C2', 'key-ops'), { message: /closed/ });
  t.deepEqual(
    registry.history('incident', i.id).map((r) => [r.version, r.actor]),
    [
      [1, 'key-ops'],
      [2, 'key-ops'],
      [3, 'system'],
      [4, 'key-ops'],
    ],
  );
  // closed: C1 can be sent again; the engine's world holds both incidents
  t.like(incidents.assign(j.id, 'C1', 'key-ops'), { unit: 'C1', version: 2 });
  t.deepEqual(
    compileWorld(registry.snapshot())
      .incidentsOf('C1')
      .map((x) => [x.id, x.version]),
    [
      [i.id, 4],
      [j.id, 2],
    ],
  );
  t.deepEqual(errors, []);
  // a restart reads the open assignment back: C1 on j, awaited there
  const again = new ComplianceRegistry({ dir });
  t.teardown(() => again.close());
  const desk2 = new IncidentDesk({ registry: again, now: () => now, known: () => true });
  t.is(desk2.assignmentOf('C1'), j.id);
});

test('available excludes a unit assigned to an open incident, and includes it again once closed', (t) => {
  let now = local(9);
  const { units, incidents } = desk(t, () => now);
  // muck trucks: available whenever online (a camera without a duty plan would be off duty)
  units.onFixes([
    { ...uf('S7', now - 5000, 0, 0), kind: 'muck_truck' },
    { ...uf('S8', now - 5000, 100, 0), kind: 'muck_truck' },
  ]);
  const at = pt(0, 0);
  const q = { lon: at[0], lat: at[1], limit: 5, available: true };
  t.deepEqual(
    units.nearest(q).map((u) => u.unit),
    ['S7', 'S8'],
  );
  const i = incidents.create({ lon: at[0], lat: at[1], title: 'x' }, 'k');
  incidents.assign(i.id, 'S7', 'k');
  t.deepEqual(
    units.nearest(q).map((u) => u.unit),
    ['S8'],
  );
  now += 1000;
  incidents.close(i.id, 'k');
  t.deepEqual(
    units.nearest(q).map((u) => u.unit),
    ['S7', 'S8'],
  );
});

test('API: POST /incidents, assign, close, versions; dispatch/nearest shows the incident; errors name the field', async (t) => {
  let now = local(20);
  const { registry, units, incidents } = desk(t, () => now);
  units.onFixes([{ ...uf('V7', now - 5000, 0, 0), kind: 'muck_truck' }]);
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    { compliance: registry, dispatch: units, incidents },
  );
  t.teardown(() => app.close());
  const at = pt(20, 0);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/incidents',
    headers: AUTH,
    payload: { lat: at[1], lon: at[0], title: '渣土撒漏' },
  });
  t.is(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  t.is(created.headers.location, `/api/v1/incidents/${encodeURIComponent(id)}`);
  t.like(created.json(), { status: 'open', radiusM: 50, openedAt: now, version: 1 });
  const bad = await app.inject({
    method: 'POST',
    url: '/api/v1/incidents',
    headers: AUTH,
    payload: { lat: 91, lon: at[0], title: '' },
  });
  t.is(bad.statusCode, 400);
  t.regex(bad.body, /lat/);
  t.regex(bad.body, /title/);
  const unknownUnit = await app.inject({
    method: 'POST',
    url: `/api/v1/incidents/${id}/assign`,
    headers: AUTH,
    payload: { unit: 'nobody' },
  });
  t.is(unknownUnit.statusCode, 400, unknownUnit.body);
  t.regex(unknownUnit.body, /nobody/);
  const assigned = await app.inject({
    method: 'POST',
    url: `/api/v1/incidents/${id}/assign`,
    headers: AUTH,
    payload: { unit: 'V7', version: 1 },
  });
  t.is(assigned.statusCode, 200, assigned.body);
  t.like(assigned.json(), { status: 'assigned', unit: 'V7', assignedAt: now, version: 2 });
  const near = await app.inject({
    url: `/api/v1/dispatch/nearest?lat=${at[1]}&lon=${at[0]}&limit=3`,
    headers: AUTH,
  });
  t.is(near.statusCode, 200, near.body);
  t.like(near.json().items[0], { unit: 'V7', incident: id });
  const availableOnly = await app.inject({
    url: `/api/v1/dispatch/nearest?lat=${at[1]}&lon=${at[0]}&available=true`,
    headers: AUTH,
  });
  t.deepEqual(availableOnly.json().items, []);
  incidents.onFixes([{ ...uf('V7', now + 30_000, 30, 0), kind: 'muck_truck' }]);
  now += 60_000;
  const stale = await app.inject({
    method: 'POST',
    url: `/api/v1/incidents/${id}/close`,
    headers: AUTH,
    payload: { version: 2 },
  });
  t.is(stale.statusCode, 409, 'the arrival made version 3');
  const closed = await app.inject({
    method: 'POST',
    url: `/api/v1/incidents/${id}/close`,
    headers: AUTH,
    payload: {},
  });
  t.like(closed.json(), { status: 'closed', arrivedAt: now - 30_000, closedAt: now, version: 4 });
  const versions = await app.inject({ url: `/api/v1/incidents/${id}/versions`, headers: AUTH });
  t.deepEqual(
    versions.json().items.map((v: { body: { status: string } }) => v.body.status),
    ['open', 'assigned', 'arrived', 'closed'],
  );
  const open = await app.inject({ url: '/api/v1/incidents?open=true', headers: AUTH });
  t.is(open.json().count, 0);
  const missing = await app.inject({ url: '/api/v1/incidents/none', headers: AUTH });
  t.is(missing.statusCode, 404);
});
