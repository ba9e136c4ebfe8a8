import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../api/schemas.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { Violation, ViolationEvent } from '../../geofence/types.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import { testApi } from '../support/api-fixtures.ts';
import { as, KEYS, keyIdOf, type RoleKey } from '../support/role-keys.ts';

/**
 * The enforcement status of violations (store/violation-status.ts) through the API: transitions, who may
 * make them, the audit trail, and the list filters, on a real embedded event store. (The stores' own
 * semantics, on SQLite and InfluxDB alike, are in test/store/events-contract/.)
 */

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
const T0 = Date.parse('2026-11-20T14:00:00Z');

function violation(vehicle: string, firm: string, code: ViolationCode, startTs: number): Violation {
  return {
    id: `${vehicle}:${code}:${startTs}`,
    code,
    vehicle,
    firm,
    startTs,
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.807],
    refs: [{ kind: 'thresholds', id: 'city', version: 1 }],
    thresholds: {},
    ruleVersion: 1,
    details: {},
  };
}

const closedEvent = (v: Violation): ViolationEvent => ({
  phase: 'closed',
  violation: { ...v, endTs: v.startTs + 60_000, durationMs: 60_000 },
});

/** a-off: firm-a, closed by the engine; a-speed: firm-a, ongoing; b-off: firm-b, closed */
const A_OFF = violation('veh-1', 'firm-a', 'OFF_ROUTE', T0);
const A_SPEED = violation('veh-1', 'firm-a', 'OVERSPEED', T0 + 60_000);
const B_OFF = violation('veh-2', 'firm-b', 'OFF_ROUTE', T0 + 120_000);

async function api(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-violation-workflow-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  await events.recordViolations([
    { phase: 'opened', violation: A_OFF },
    closedEvent(A_OFF),
    { phase: 'opened', violation: A_SPEED },
    { phase: 'opened', violation: B_OFF },
    closedEvent(B_OFF),
  ]);
  const { app } = await testApi(NO_POSITIONS, { events, keys: KEYS });
  t.teardown(async () => {
    await app.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, events };
}

type Res = { statusCode: number; headers: Record<string, unknown>; body: string };
function problem(res: Res) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  return ProblemSchema.parse(JSON.parse(res.body));
}

const change = (app: FastifyInstance, who: RoleKey, id: string, body: object) =>
  app.inject({
    method: 'POST',
    url: `/api/v1/violations/${encodeURIComponent(id)}/status`,
    headers: as(who),
    payload: body,
  });

const listIds = async (app: FastifyInstance, who: RoleKey, query: string): Promise<string[]> => {
  const res = await app.inject({ url: `/api/v1/violations?${query}`, headers: as(who) });
  if (res.statusCode !== 200) throw new Error(res.body);
  return res.json().items.map((v: { id: string }) => v.id);
};

test('open → acknowledged → disputed → confirmed → closed, each by the role allowed, each audited', async (t) => {
  const { app } = await api(t);
  const id = A_OFF.id;

  // Before anyone looked: the engine closed it, the city has not decided anything.
  const fresh = await app.inject({
    url: `/api/v1/violations/${encodeURIComponent(id)}`,
    headers: as('firmA'),
  });
  t.like(fresh.json().violation, { id, phase: 'closed', status: 'open', endTs: T0 + 60_000 });

  // A firm disputes only after the city took the violation up.
  const early = await change(app, 'firmA', id, { status: 'disputed', note: '临时绕行' });
  t.is(early.statusCode, 409);
  t.is(problem(early).type, 'urn:citywatch:problem:illegal-transition');
  t.is(
    problem(early).detail,
    `violation ${JSON.stringify(id)}: the violation is open and cannot become disputed; from open it can become acknowledged.`,
  );

  // Acknowledging is a monitor's (or an admin's); a firm key cannot, another firm does not even see it.
  t.is((await change(app, 'firmA', id, { status: 'acknowledged' })).statusCode, 403);
  t.is((await change(app, 'firmB', id, { status: 'acknowledged' })).statusCode, 404);
  const acked = await change(app, 'monitor', id, { status: 'acknowledged', note: '已接警' });
  t.is(acked.statusCode, 200, acked.body);
  t.like(acked.json(), { id, phase: 'closed', status: 'acknowledged' });

  // Disputing is the firm's own: a monitor cannot, another firm gets 404, and a dispute needs its grounds.
  t.is((await change(app, 'monitor', id, { status: 'disputed', note: 'x' })).statusCode, 403);
  t.is((await change(app, 'firmB', id, { status: 'disputed', note: 'x' })).statusCode, 404);
  const bare = await change(app, 'firmA', id, { status: 'disputed', note: '   ' });
  t.is(bare.statusCode, 400);
  t.deepEqual(problem(bare).errors, [
    { in: 'body', pointer: '/note', message: 'required to make a violation disputed' },
  ]);
  const reason = '当日交警通知临时绕行（附件 3 号）';
  const disputed = await change(app, 'firmA', id, { status: 'disputed', note: reason });
  t.is(disputed.statusCode, 200, disputed.body);
  t.is(disputed.json().status, 'disputed');

  // The city judges: a firm cannot confirm or close its own case.
  t.is((await change(app, 'firmA', id, { status: 'closed' })).statusCode, 403);
  t.is((await change(app, 'monitor', id, { status: 'confirmed', note: '通知不含该路段' })).statusCode, 200);
  const closed = await change(app, 'admin', id, { status: 'closed' });
  t.is(closed.statusCode, 200, closed.body);
  t.is(closed.json().status, 'closed');
  const reopen = await change(app, 'admin', id, { status: 'acknowledged' });
  t.is(reopen.statusCode, 409);
  t.regex(
    problem(reopen).detail ?? '',
    /is closed and cannot become acknowledged; from closed it can become nothing \(final\)/,
  );

  const audit = await app.inject({
    url: `/api/v1/violations/${encodeURIComponent(id)}/audit`,
    headers: as('firmA'),
  });
  t.is(audit.statusCode, 200, audit.body);
  const items = audit.json().items as {
    seq: number;
    from: string;
    to: string;
    actor: string;
    at: string;
    note?: string;
  }[];
  t.deepEqual(
    items.map(({ at: _at, ...rest }) => rest),
    [
      { seq: 1, from: 'open', to: 'acknowledged', actor: keyIdOf('monitor'), note: '已接警' },
      { seq: 2, from: 'acknowledged', to: 'disputed', actor: keyIdOf('firmA'), note: reason },
      { seq: 3, from: 'disputed', to: 'confirmed', actor: keyIdOf('monitor'), note: '通知不含该路段' },
      { seq: 4, from: 'confirmed', to: 'closed', actor: keyIdOf('admin') },
    ],
  );
  for (const item of items) t.regex(item.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.true(items.every((item, i) => i === 0 || item.at >= items[i - 1]!.at));
  t.is(
    (await app.inject({ url: `/api/v1/violations/${encodeURIComponent(id)}/audit`, headers: as('firmB') }))
      .statusCode,
    404,
  );
  // The engine's phase history is another thing, and untouched.
  const detail = await app.inject({
    url: `/api/v1/violations/${encodeURIComponent(id)}`,
    headers: as('monitor'),
  });
  t.deepEqual(
    detail.json().phases.map((p: { phase: string }) => p.phase),
    ['opened', 'closed'],
  );
});

test('a dispute can end in closed (upheld); unknown violations are 404 for everyone', async (t) => {
  const { app } = await api(t);
  const id = B_OFF.id;
  t.is((await change(app, 'admin', id, { status: 'acknowledged' })).statusCode, 200);
  t.is((await change(app, 'firmB', id, { status: 'disputed', note: '设备故障，附维修单' })).statusCode, 200);
  t.is((await change(app, 'monitor', id, { status: 'closed', note: '维修单属实，撤销' })).statusCode, 200);
  for (const who of ['admin', 'monitor', 'firmA'] as const) {
    const res = await change(app, who, 'veh-9:OFF_ROUTE:1', { status: 'acknowledged' });
    t.is(res.statusCode, 404, who);
    t.is(problem(res).type, 'urn:citywatch:problem:unknown-violation');
  }
  const typo = await change(app, 'admin', id, { status: 'reopened' });
  t.is(typo.statusCode, 400);
  t.is(problem(typo).errors?.[0]?.pointer, '/status');
});

test('violations filter by firm, vehicle, code, status, phase and time, paged by cursor; a firm sees its own', async (t) => {
  const { app } = await api(t);
  await change(app, 'monitor', A_SPEED.id, { status: 'acknowledged' });
  await change(app, 'monitor', B_OFF.id, { status: 'acknowledged' });

  t.deepEqual(await listIds(app, 'admin', ''), [A_OFF.id, A_SPEED.id, B_OFF.id]);
  t.deepEqual(await listIds(app, 'admin', 'status=acknowledged'), [A_SPEED.id, B_OFF.id]);
  t.deepEqual(await listIds(app, 'admin', 'status=open'), [A_OFF.id]);
  t.deepEqual(await listIds(app, 'admin', 'phase=ongoing'), [A_SPEED.id], 'the engine lifecycle');
  t.deepEqual(await listIds(app, 'admin', 'phase=closed&status=acknowledged'), [B_OFF.id]);
  t.deepEqual(await listIds(app, 'monitor', 'code=OFF_ROUTE'), [A_OFF.id, B_OFF.id]);
  t.deepEqual(await listIds(app, 'monitor', 'vehicle=veh-1&code=OVERSPEED'), [A_SPEED.id]);
  t.deepEqual(await listIds(app, 'monitor', 'firm=firm-b'), [B_OFF.id]);
  t.deepEqual(
    await listIds(app, 'monitor', `from=${new Date(T0 + 1).toISOString()}&to=${T0 + 120_000}`),
    [A_SPEED.id, B_OFF.id],
    'from/to as ISO 8601 or epoch ms, inclusive',
  );
  // A firm key: its own violations only, whatever the filter says.
  t.deepEqual(await listIds(app, 'firmA', ''), [A_OFF.id, A_SPEED.id]);
  t.deepEqual(await listIds(app, 'firmA', 'status=acknowledged'), [A_SPEED.id]);
  t.deepEqual(await listIds(app, 'firmA', 'firm=firm-b'), []);

  // cursor pagination, with a filter
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({
      url: `/api/v1/violations?code=OFF_ROUTE&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      headers: as('admin'),
    });
    seen.push(...res.json().items.map((v: { id: string }) => v.id));
    cursor = res.json().nextCursor;
    if (cursor === undefined) break;
  }
  t.deepEqual(seen, [A_OFF.id, B_OFF.id]);

  const bad = await app.inject({ url: '/api/v1/violations?status=ongoing', headers: as('admin') });
  t.is(bad.statusCode, 400, 'ongoing is a phase, not a status');
  t.deepEqual(
    problem(bad).errors?.map((e) => e.pointer),
    ['/status'],
  );
});
