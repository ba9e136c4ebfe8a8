/**
 * Late fixes across a crash (issue 17: "a restart in the middle of a late batch loses nothing and
 * doubles nothing"). The platform runs as its own process; a truck drives a detour inside a 5.5-minute
 * blind area, sends the live fix after it first, then the buffered fixes as three batch messages
 * (JT/T 808 0x0704 type 1). The process is killed (SIGKILL) right after the second batch is
 * acknowledged: its fixes are durable in the spool, but the re-judging they were waiting for (the next
 * 200 ms flush) has not run. A new process on the same DATA_DIR, then the third batch and the rest.
 *
 * Expected: the same standing violations as judging every fix in time order (the pure judge on the same
 * registry, test/support/backfill-harness.ts), the detour an OFF_ROUTE with its true onset, the gap the
 * live fix opened withdrawn, every violation and trip once. Why it holds: the store pump moves the
 * spool's checkpoint only past fixes whose judgement is committed, and the new process judges the fixes
 * past the checkpoint again before its intake opens (those judged already are found in the history).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { createJudge } from '../../geofence/judge.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import { muckTruckFixSchema } from '../../ingest/payload.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import type { Device } from '../../registry/types.ts';
import { type ChildPlatform, spawnPlatform } from '../../testkit/child-platform.ts';
import { VehicleHarness } from '../support/backfill-harness.ts';
import { type HaulWorld, offRouteHaulFixes, seedHaulWorld } from '../support/haul-world.ts';
import { connectClient, endClient, eventually, publishQos1 } from '../support/platform.ts';

const ADMIN = 'backfill-restart-admin-0123456789';
const WORLD: HaulWorld = {
  firm: 'firm-blind',
  firmName: '盲区补传测试运输公司',
  vehicle: 'veh-blind-1',
  plate: '皖A·B0001',
  device: 'dev-blind-1',
  secret: 'secret-blind-area-1',
  origin: { id: 'site-b-origin', name: '盲区工地' },
  disposal: { id: 'site-b-disposal', name: '盲区消纳场' },
  route: { id: 'route-b', name: '盲区线路' },
  permit: 'permit-b',
  lat: 31.8,
  originLon: 117.1,
  disposalLon: 117.4,
};

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
type Json = any;

async function api(child: ChildPlatform, p: string): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${child.ports.http}${p}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function allViolations(child: ChildPlatform): Promise<Json[]> {
  const out: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await api(
      child,
      `/api/v1/violations?vehicle=${WORLD.vehicle}&phase=any&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
    );
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

test.serial('SIGKILL in the middle of a late batch: nothing lost, nothing doubled', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-backfill-crash-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
  const compliance = new ComplianceRegistry({
    dir: path.join(dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
  });
  await seedHaulWorld({ registry, compliance }, WORLD);
  const world = compileWorld(compliance.snapshot());
  compliance.close();
  registry.close();
  const env = { DATA_DIR: dataDir, SIMULATE: '0', ADMIN_TOKEN: ADMIN };

  // 48 fixes 10 s apart, 20 minutes ago, on the route; 12..23 a detour 300 m north of it.
  // Coverage is lost from 8 to 40 (5.5 minutes): 41 arrives first, then 8..40 in three batches.
  const t0 = Date.now() - 20 * 60_000;
  const fixes = offRouteHaulFixes(t0, { lat: 31.8, lon0: 117.12, count: 48, offFrom: 12, offTo: 24 });
  const batches = [fixes.slice(8, 19), fixes.slice(19, 30), fixes.slice(30, 41)];
  const topic = `devices/${WORLD.device}/telemetry`;
  const connect = (child: ChildPlatform) =>
    connectClient(`mqtt://127.0.0.1:${child.ports.mqtt}`, {
      username: WORLD.device,
      password: WORLD.secret,
      clientId: WORLD.device,
    });

  const first = await spawnPlatform(env);
  t.teardown(() => {
    first.child.kill('SIGKILL');
  });
  const c1 = await connect(first);
  for (const f of [...fixes.slice(0, 8), fixes[41]!]) await publishQos1(c1, topic, JSON.stringify(f));
  // the live fix after the blind area: a 5.5-minute gap while moving, judged and published
  const gapStart = fixes[7]!.ts as number;
  await eventually(async () => {
    const items = await allViolations(first);
    return items.some((v) => v.code === 'TRACK_GAP' && v.startTs === gapStart) ? true : undefined;
  }, 'the TRACK_GAP of the blind area before the batch');
  await publishQos1(c1, topic, JSON.stringify(batches[0]));
  await publishQos1(c1, topic, JSON.stringify(batches[1]));
  first.child.kill('SIGKILL'); // acknowledged (durable), not yet re-judged
  await first.exited;
  c1.end(true);

  const second = await spawnPlatform(env);
  t.teardown(() => {
    second.child.kill('SIGKILL');
  });
  const c2 = await connect(second);
  await publishQos1(c2, topic, JSON.stringify(batches[2]));
  for (const f of fixes.slice(42)) await publishQos1(c2, topic, JSON.stringify(f));
  await endClient(c2);

  // in time order, by the pure judge on the same registry
  const device: Device = {
    id: WORLD.device,
    kind: 'muck_truck',
    unit: WORLD.vehicle,
    firm: WORLD.firm,
    reportIntervalS: 10,
    enabled: true,
  };
  const reference = new VehicleHarness(
    createJudge(createEngine(ALL_RULES, chinaCalendar)),
    WORLD.vehicle,
    world,
  );
  for (const f of fixes)
    reference.deliver([normalizeFix(muckTruckFixSchema.parse(f), device, f.ts as number)]);
  const lastTs = fixes.at(-1)!.ts as number;
  const summary = (v: { code: string; startTs: number; endTs?: number }) =>
    `${v.code} ${v.startTs - t0} ${v.endTs === undefined ? 'ongoing' : v.endTs - t0}`;
  const expected = [...reference.view.values()]
    .filter((e) => e.phase !== 'withdrawn')
    .map((e) => summary(e.violation))
    .sort();
  t.true(
    expected.some((s) => s.startsWith(`OFF_ROUTE ${12 * 10_000} `)),
    `in time order the detour is an OFF_ROUTE: ${expected.join(', ')}`,
  );

  // standing violations (silence after the last fix is judged by the live ticks only: left out)
  const standing = async () =>
    (await allViolations(second))
      .filter((v) => v.phase !== 'withdrawn' && !(v.code === 'OFFLINE' && v.startTs > lastTs))
      .map(summary)
      .sort();
  const got = await eventually(
    async () => {
      const now = await standing();
      return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
    },
    `the violations of the time order (${expected.join(', ')})`,
    30_000,
  ).catch(async () => standing());
  t.deepEqual(got, expected);

  const all = await allViolations(second);
  const ids = all.map((v) => v.id);
  t.is(new Set(ids).size, ids.length, 'each violation once');
  const gap = all.find((v) => v.code === 'TRACK_GAP' && v.startTs === gapStart);
  t.is(gap?.phase, 'withdrawn', 'the gap the batch filled is withdrawn');
  t.is(gap?.withdrawal?.reason, 'backfill');
  const offRoute = all.filter((v) => v.code === 'OFF_ROUTE');
  t.is(offRoute.length, 1, 'one OFF_ROUTE');
  const detail = await api(second, `/api/v1/violations/${encodeURIComponent(offRoute[0].id)}`);
  const phases = detail.phases.map((p: { phase: string }) => p.phase);
  t.is(phases.filter((p: string) => p === 'opened').length, 1, `opened once: ${phases.join(', ')}`);
  t.true(
    detail.phases.every((p: { rejudged?: unknown }) => p.rejudged !== undefined),
    'found by re-judging the late fixes',
  );
  const trips = await api(second, `/api/v1/trips?vehicle=${WORLD.vehicle}`);
  t.is(new Set(trips.items.map((x: { id: string }) => x.id)).size, trips.items.length, 'each trip once');

  second.child.kill('SIGTERM');
  t.is(await second.exited, 0);
});
