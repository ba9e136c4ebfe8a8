/**
 * `acc` is ignition in Chinese telematics (JT/T 808 status bit 0 "ACC"); this contract used it for the
 * accuracy in metres until 2026-12. Now a boolean `acc` is ignition, the accuracy is `accuracy`, and a
 * numeric `acc` is still read as the accuracy for one release, counted and warned about. These cases
 * cover the contract end to end (real MQTT into the real platform) and everything that outlives the
 * upgrade: the embedded store's column, spooled fixes, saved engine states. InfluxDB points written
 * with the old field are read in store-influx.test.ts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import test from 'ava';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { decodeVehicleState, encodeState } from '../../compliance/engine-state-codec.ts';
import type { Fix } from '../../core/fix.ts';
import { DeprecationNotices } from '../../ingest/deprecation.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { StorePump } from '../../ingest/pump.ts';
import { Spool } from '../../ingest/spool.ts';
import { createStore } from '../../store/index.ts';
import {
  adminGet,
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
} from '../support/platform.ts';

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const fix = (over: Partial<Fix> = {}): Fix => ({
  vehicle: 'veh-1',
  device: 'dev-1',
  kind: 'muck_truck',
  firm: 'firm-a',
  ts: T0,
  received: T0 + 300,
  lat: 31.8,
  lon: 117.2,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  ...over,
});

const tempDir = async (t: { teardown(fn: () => Promise<void>): void }, prefix: string) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
};

test('over MQTT: acc true is ignition, accuracy is the accuracy, a numeric acc is read as accuracy, counted and warned about', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const tp = await startTestPlatform({}, { logger: pino({ level: 'warn' }, sink) });
  t.teardown(() => tp.stop());
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-a', name: '合肥渣土运输有限公司' });
  for (const n of [1, 2]) {
    r.upsertVehicle({ id: `veh-${n}`, plate: `皖A·A000${n}`, kind: 'muck_truck', firm: 'firm-a' });
    await r.putDevice({
      id: `dev-${n}`,
      secret: `secret-${n}`,
      kind: 'muck_truck',
      vehicle: `veh-${n}`,
      firm: 'firm-a',
    });
  }
  const ts = Date.now() - 60_000;
  const base = { lat: 31.82, lon: 117.23, speed: 20 };

  // a JT/T 808-minded integrator: ACC on, and the accuracy under its own name
  const d1 = await connectClient(tp.mqttUrl, { username: 'dev-1', password: 'secret-1', clientId: 'dev-1' });
  await publishQos1(d1, 'devices/dev-1/telemetry', JSON.stringify({ ts, ...base, acc: true, accuracy: 4.8 }));
  await endClient(d1);
  // a terminal still on the old contract: acc is its accuracy, three fixes in two messages
  const d2 = await connectClient(tp.mqttUrl, { username: 'dev-2', password: 'secret-2', clientId: 'dev-2' });
  await publishQos1(d2, 'devices/dev-2/telemetry', JSON.stringify({ ts, ...base, acc: 6.5, ign: false }));
  await publishQos1(
    d2,
    'devices/dev-2/telemetry',
    JSON.stringify([
      { ts: ts + 1000, ...base, acc: 7 },
      { ts: ts + 2000, ...base, acc: 8 },
    ]),
  );
  await endClient(d2);

  const p1 = await eventually(async () => {
    const res = await adminGet(tp, '/api/v1/vehicles/veh-1/position');
    return res.status === 200 ? res.body : undefined;
  }, 'veh-1 position');
  t.is(p1.ign, true);
  t.is(p1.accuracy, 4.8);
  t.false('acc' in p1);
  const p2 = await eventually(async () => {
    const res = await adminGet(tp, '/api/v1/vehicles/veh-2/position');
    return res.status === 200 && res.body.ts === new Date(ts + 2000).toISOString() ? res.body : undefined;
  }, 'veh-2 position');
  t.is(p2.accuracy, 8);
  t.is(p2.ign, undefined, 'a numeric acc says nothing about ignition');
  // the latest position is ingest's (in memory); the track is the store's, which the pump fills after it
  const track = await eventually(async () => {
    const res = await adminGet(tp, `/api/v1/vehicles/veh-2/track?from=${ts}&to=${ts + 2000}&format=json`);
    return res.status === 200 && res.body.items.length === 3 ? res : undefined;
  }, 'the three fixes of veh-2 in the store');
  t.deepEqual(
    track.body.items.map((f: { accuracy?: number; ign?: boolean }) => [f.accuracy, f.ign]),
    [
      [6.5, false],
      [7, undefined],
      [8, undefined],
    ],
  );

  const metrics = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  t.regex(metrics, /citywatch_ingest_deprecated_fields_total\{field="acc_number"\} 3\n/);
  const warnings = lines.filter((l) => String(l.msg).includes('"acc"'));
  t.is(warnings.length, 1, 'one line for the device, not one per fix');
  t.like(warnings[0], { device: 'dev-2', fixes: 1, level: 40 });
  t.regex(String(warnings[0]!.msg), /dev-2 .*send "accuracy"/);
});

test('deprecation notices: each device named at most once per period, ten lines a window overall, the rest counted', (t) => {
  let now = 0;
  const notices = new DeprecationNotices({ perDeviceMs: 3_600_000, windowMs: 60_000, now: () => now });
  t.like(notices.hit('a', 2), { device: 'a', fixes: 2, devicesNotNamed: 0 });
  now = 1_000;
  t.is(notices.hit('a', 5), undefined, 'named a second ago');
  // eleven more devices in the same minute: nine lines left in the window, two devices left out
  const named: string[] = [];
  for (let i = 0; i < 11; i++) {
    const w = notices.hit(`d${i}`, 1);
    if (w) named.push(w.device);
  }
  t.deepEqual(named, ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8']);
  t.is(notices.hit('d9', 1), undefined, 'left out once, counted once');
  now = 61_000;
  t.like(notices.hit('d9', 1), { device: 'd9', fixes: 3, devicesNotNamed: 2 });
  t.like(notices.hit('d10', 1), { device: 'd10', fixes: 2, devicesNotNamed: 0 });
  now = 3_601_000;
  t.like(
    notices.hit('a', 1),
    { device: 'a', fixes: 6, devicesNotNamed: 0 },
    'an hour later, with the fixes since',
  );
});

test('the embedded store renames its old acc column: fixes stored before read back with their accuracy', async (t) => {
  const dir = await tempDir(t, 'acc-embedded-');
  let store = createStore({ kind: 'embedded', dir });
  await store.open();
  const before = fix({ accuracy: 4.5, speed: 3 });
  await store.writeFixes([before]);
  await store.close();
  // leave the file as a version from before the rename would have: the column is `acc`
  const db = new Database(path.join(dir, 'fixes.db'));
  for (const table of ['fixes', 'latest']) db.exec(`ALTER TABLE ${table} RENAME COLUMN accuracy TO acc`);
  db.close();

  store = createStore({ kind: 'embedded', dir });
  await store.open();
  t.teardown(() => store.close());
  const after = fix({ ts: T0 + 1_000, accuracy: 9 });
  await store.writeFixes([after]);
  t.deepEqual(await store.track({ vehicle: 'veh-1', from: T0, to: T0 + 1_000 }), [before, after]);
  t.deepEqual(await store.latestOf('veh-1'), after);
  const check = new Database(path.join(dir, 'fixes.db'), { readonly: true });
  const columns = (check.prepare('PRAGMA table_info(fixes)').all() as { name: string }[]).map((c) => c.name);
  check.close();
  t.true(columns.includes('accuracy'));
  t.false(columns.includes('acc'));
});

test('fixes spooled before the upgrade (accuracy in acc) are stored with their accuracy', async (t) => {
  const dir = await tempDir(t, 'acc-spool-');
  const store = createStore({ kind: 'embedded', dir: path.join(dir, 'store') });
  await store.open();
  t.teardown(() => store.close());
  const spool = new Spool({ dir: path.join(dir, 'spool') });
  await spool.open();
  t.teardown(() => spool.close());
  const { accuracy: _a, ...old } = fix({ accuracy: 3.5 });
  await spool.append([
    JSON.stringify({ ...old, acc: 3.5 }),
    JSON.stringify(fix({ ts: T0 + 1_000, accuracy: 4 })),
  ]);
  const pump = new StorePump({
    spool,
    store,
    metrics: createIngestMetrics(new Registry()),
    batchSize: 100,
    quarantineFile: path.join(dir, 'quarantine.jsonl'),
  });
  pump.start();
  await eventually(() => (spool.stats().depthRecords === 0 ? true : undefined), 'the spool to drain');
  await pump.stop();
  t.deepEqual(await store.track({ vehicle: 'veh-1', from: T0, to: T0 + 1_000 }), [
    fix({ accuracy: 3.5 }),
    fix({ ts: T0 + 1_000, accuracy: 4 }),
  ]);
});

test('an engine state saved before the rename keeps the last fix accuracy', (t) => {
  const saved = JSON.stringify({
    vehicle: 'veh-1',
    last: { ts: T0, lon: 117.2, lat: 31.8, valid: true, acc: 22, ign: true, kind: 'muck_truck', firm: 'f' },
  });
  const state = decodeVehicleState(saved);
  t.is(state.last?.accuracy, 22);
  t.false('acc' in (state.last ?? {}));
  t.is(decodeVehicleState(encodeState(state)).last?.accuracy, 22);
});
