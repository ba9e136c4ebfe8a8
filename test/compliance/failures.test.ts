/**
 * The compliance output when things fail (issue 3: nothing valid is lost across an outage or a crash),
 * against a REAL InfluxDB 1.x (testkit/servers/influxd.ts) holding both the fixes and the events:
 *
 *  - outage: influxd stopped while a truck leaves its corridor and comes back. Health says compliance
 *    is degraded and how many events wait in the outbox; once influxd is back, every event is stored
 *    exactly once.
 *  - crash: the same with the platform as a child process killed with SIGKILL while the events wait in
 *    the outbox (no shutdown, no drain). The next process replays the outbox.
 *  - stop: a clean stop while influxd is down; the drain budget runs out, the events stay in the
 *    outbox, and the next start stores them.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { spawnPlatform } from '../../testkit/child-platform.ts';
import { INFLUXD_BIN, type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import { eventually, startTestPlatform } from '../support/platform.ts';

const FIRM = 'firm-fail';
const VEHICLE = 'veh-fail-1';
const DEVICE = 'dev-fail-1';
const SECRET = 'secret-fail-1';
const ADMIN = 'failures-admin-token-0123456789';
const LAT = 31.81;
const LON = 117.26;

let influx: InfluxdServer | undefined;
const server = (): InfluxdServer => {
  if (!influx) throw new Error('influxd not started');
  return influx;
};

// influxd missing fails every test here (startInfluxd throws), unless CITYWATCH_SKIP_MISSING_SERVERS=1
const needs = testsNeeding(INFLUXD_BIN, 'compliance-failures');
if (!needs.skipped) {
  test.before(async () => {
    influx = await startInfluxd();
  });
  test.after.always(async () => {
    await influx?.destroy();
  });
}

/** Firm, truck, device and a permit whose route runs east from (LON, LAT), written to a DATA_DIR. */
const WORLD: HaulWorld = {
  firm: FIRM,
  firmName: '故障测试运输公司',
  vehicle: VEHICLE,
  plate: '皖A·X0001',
  device: DEVICE,
  secret: SECRET,
  origin: { id: 'site-f-origin', name: '故障工地' },
  disposal: { id: 'site-f-disposal', name: '故障消纳场' },
  route: { id: 'route-f', name: '故障线路' },
  permit: 'permit-f',
  lat: LAT,
  originLon: LON,
  disposalLon: LON + 0.05,
};

/** Loaded and moving east, a fix every 10 s: fixes 6-10 300 m north of the route (OFF_ROUTE), then back. */
function driveOffAndBack(mqttUrl: string, t0: number, fixes: number): Promise<void> {
  const haul = offRouteHaulFixes(t0, { lat: LAT, lon0: LON + 0.003, count: fixes, offFrom: 6, offTo: 11 });
  return publishFixes(mqttUrl, WORLD, haul);
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
async function get(httpUrl: string, p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${httpUrl}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: res.status, body: await res.json() };
}

interface ComplianceHealth {
  state: string;
  detail?: string;
  outbox: number;
  queuedViolations: number;
}

async function complianceHealth(httpUrl: string): Promise<ComplianceHealth> {
  const res = await fetch(`${httpUrl}/healthz`);
  const body = (await res.json()) as { components: { compliance: ComplianceHealth } };
  return body.components.compliance;
}

/**
 * Every violation of the truck appears once, with a phase history without repeats; the OFF_ROUTE one
 * opened at fix 6 and closed at fix 11 (30 s back inside).
 */
async function assertStoredOnce(
  t: import('ava').ExecutionContext,
  httpUrl: string,
  t0: number,
): Promise<void> {
  const offRoute = await eventually(
    async () => {
      const res = await get(httpUrl, `/api/v1/violations?vehicle=${VEHICLE}&code=OFF_ROUTE`);
      const items = res.status === 200 ? res.body.items : [];
      return items.some((v: { endTs?: number }) => v.endTs !== undefined) ? items : undefined;
    },
    'the closed OFF_ROUTE violation in InfluxDB',
    30_000,
  );
  t.is(offRoute.length, 1);
  t.is(offRoute[0].startTs, t0 + 6 * 10_000);
  t.is(offRoute[0].endTs, t0 + 11 * 10_000);
  const all = await get(httpUrl, `/api/v1/violations?vehicle=${VEHICLE}&limit=1000`);
  t.is(all.status, 200);
  const ids = all.body.items.map((v: { id: string }) => v.id);
  t.is(new Set(ids).size, ids.length, 'each violation listed once');
  for (const id of ids) {
    const detail = await get(httpUrl, `/api/v1/violations/${encodeURIComponent(id)}`);
    const phases = detail.body.phases.map((p: { phase: string }) => p.phase);
    t.is(phases.filter((p: string) => p === 'opened').length, 1, `${id}: ${phases.join(',')}`);
    t.true(phases.filter((p: string) => p === 'closed').length <= 1, `${id}: ${phases.join(',')}`);
  }
  const detail = await get(httpUrl, `/api/v1/violations/${encodeURIComponent(offRoute[0].id)}`);
  t.deepEqual(
    detail.body.phases.map((p: { phase: string }) => p.phase),
    ['opened', 'closed'],
  );
}

needs.serial(
  'InfluxDB down while violations happen: compliance degraded, events kept, stored exactly once after',
  async (t) => {
    const tp = await startTestPlatform({
      ADMIN_TOKEN: ADMIN,
      INFLUX_URL: server().url,
      INFLUX_DATABASE: 'cw_outage',
    });
    t.teardown(() => tp.stop());
    await eventually(
      async () => ((await complianceHealth(tp.httpUrl)).state === 'ok' ? true : undefined),
      'the event store to open',
    );
    await seedHaulWorld(tp.platform, WORLD);

    await server().stop();
    const t0 = Date.now() - 5 * 60_000;
    await driveOffAndBack(tp.mqttUrl, t0, 16);
    const during = await eventually(async () => {
      const h = await complianceHealth(tp.httpUrl);
      // opened + closed of OFF_ROUTE at least, both committed to the outbox
      return h.state === 'degraded' && h.outbox >= 2 ? h : undefined;
    }, 'compliance degraded with the events in the outbox');
    t.regex(during.detail ?? '', /event store writes failing.*outbox/);

    await server().restart();
    await assertStoredOnce(t, tp.httpUrl, t0);
    const after = await eventually(
      async () => {
        const h = await complianceHealth(tp.httpUrl);
        return h.state === 'ok' && h.outbox === 0 ? h : undefined;
      },
      'compliance ok with an empty outbox',
      30_000,
    );
    t.is(after.queuedViolations, 0);
  },
);

needs.serial('SIGKILL with events in the outbox: the next process stores them, once', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-outbox-crash-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
  const compliance = new ComplianceRegistry({
    dir: path.join(dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
  });
  await seedHaulWorld({ registry, compliance }, WORLD);
  compliance.close();
  registry.close();
  const env = {
    DATA_DIR: dataDir,
    SIMULATE: '0',
    ADMIN_TOKEN: ADMIN,
    INFLUX_URL: server().url,
    INFLUX_DATABASE: 'cw_crash',
  };

  const first = await spawnPlatform(env);
  t.teardown(() => {
    first.child.kill('SIGKILL');
  });
  const firstUrl = `http://127.0.0.1:${first.ports.http}`;
  await eventually(
    async () => ((await complianceHealth(firstUrl)).state === 'ok' ? true : undefined),
    'the event store to open in the first process',
    30_000,
  );
  await server().stop();
  const t0 = Date.now() - 5 * 60_000;
  await driveOffAndBack(`mqtt://127.0.0.1:${first.ports.mqtt}`, t0, 16);
  await eventually(
    async () => ((await complianceHealth(firstUrl)).outbox >= 2 ? true : undefined),
    'the events committed to the outbox',
  );
  first.child.kill('SIGKILL');
  await first.exited;

  // what the crash left on disk: the events, not in InfluxDB (it is down), only in the outbox
  const db = new Database(path.join(dataDir, 'compliance-state.sqlite'));
  const rows = db.prepare("SELECT body FROM outbox WHERE kind = 'violation'").all() as { body: string }[];
  db.close();
  const offRouteRows = rows
    .map((r) => JSON.parse(r.body) as { phase: string; violation: { code: string } })
    .filter((e) => e.violation.code === 'OFF_ROUTE')
    .map((e) => e.phase);
  t.deepEqual(offRouteRows, ['opened', 'closed']);

  await server().restart();
  const second = await spawnPlatform(env);
  t.teardown(() => {
    second.child.kill('SIGKILL');
  });
  const secondUrl = `http://127.0.0.1:${second.ports.http}`;
  await assertStoredOnce(t, secondUrl, t0);
  await eventually(
    async () => ((await complianceHealth(secondUrl)).outbox === 0 ? true : undefined),
    'the outbox emptied by the second process',
    30_000,
  );
  second.child.kill('SIGTERM');
  t.is(await second.exited, 0, 'SIGTERM shuts down cleanly');
});

needs.serial(
  'stopped while InfluxDB is down: what the drain budget could not store waits in the outbox for the next start',
  async (t) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-outbox-stop-'));
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      ADMIN_TOKEN: ADMIN,
      INFLUX_URL: server().url,
      INFLUX_DATABASE: 'cw_stop',
    };
    const first = await startTestPlatform(env);
    let firstStopped = false;
    t.teardown(() => (firstStopped ? undefined : first.stop()));
    await eventually(
      async () => ((await complianceHealth(first.httpUrl)).state === 'ok' ? true : undefined),
      'the event store to open',
    );
    await seedHaulWorld(first.platform, WORLD);
    await server().stop();
    const t0 = Date.now() - 5 * 60_000;
    await driveOffAndBack(first.mqttUrl, t0, 16);
    await eventually(
      async () => ((await complianceHealth(first.httpUrl)).outbox >= 2 ? true : undefined),
      'the events committed to the outbox',
    );
    // a clean stop: the drain budget runs out against the stopped server
    await first.stop();
    firstStopped = true;

    await server().restart();
    const second = await startTestPlatform(env);
    t.teardown(() => second.stop());
    await assertStoredOnce(t, second.httpUrl, t0);
  },
);
