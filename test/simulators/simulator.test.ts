import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'aedes';
import test from 'ava';
import mqtt from 'mqtt';
import { startBareAedes } from '../../bench/aedes.ts';
import { fixSchemaByKind, statusTopic, TELEMETRY_TOPIC_FILTER } from '../../ingest/payload.ts';
import { createDeviceSims, type DemoMessage, generateDemoFixes } from '../../simulators/demo/device-sim.ts';
import { startDemoFleet } from '../../simulators/demo/fleet.ts';
import { demoPlan } from '../../simulators/demo/geometry.ts';
import { demoRegistrySeed } from '../../simulators/demo/registry.ts';
import { generateCredentials, readCredentialsFile } from '../../simulators/load/credentials.ts';
import { FixFactory } from '../../simulators/load/fix-factory.ts';
import { LatencyHistogram } from '../../simulators/load/histogram.ts';
import { runLoad } from '../../simulators/load/run.ts';
import { createRng } from '../../simulators/shared/rng.ts';
import { distanceToPolylineM, haversineM } from '../../simulators/shared/tracks.ts';

const START = Date.UTC(2025, 5, 2, 0, 0, 0);

test('rng: same seed, same stream; different seed, different stream', (t) => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xs = Array.from({ length: 100 }, () => a.next());
  t.deepEqual(
    Array.from({ length: 100 }, () => b.next()),
    xs,
  );
  t.notDeepEqual(
    Array.from({ length: 100 }, () => c.next()),
    xs,
  );
  t.true(xs.every((x) => x >= 0 && x < 1));
});

test('registry seed: 4 firms, 4 trucks in 2 firms, 2 sweepers, 3 officers with cameras, demo secrets', (t) => {
  const seed = demoRegistrySeed();
  t.is(seed.firms.length, 4);
  const trucks = seed.vehicles.filter((v) => v.kind === 'muck_truck');
  t.is(trucks.length, 4);
  t.is(new Set(trucks.map((v) => v.firm)).size, 2);
  t.true(trucks.every((v) => /^皖A·[A-Z0-9]{5}$/.test(v.plate) && (v.ratedLoadT ?? 0) > 0));
  t.is(seed.vehicles.filter((v) => v.kind === 'sanitation').length, 2);
  t.is(seed.officers.length, 3);
  const cams = seed.devices.filter((d) => d.kind === 'body_camera');
  t.is(cams.length, 3);
  t.deepEqual(cams.map((d) => d.officer).sort(), seed.officers.map((o) => o.id).sort());
  t.is(seed.devices.length, 9);
  for (const d of seed.devices) {
    t.true(d.secret.length >= 16);
    if (d.vehicle) t.truthy(seed.vehicles.find((v) => v.id === d.vehicle && v.firm === d.firm));
    t.truthy(seed.firms.find((f) => f.id === d.firm));
  }
});

test('demo generator is deterministic: same seed, identical first 2000 messages', (t) => {
  const a = generateDemoFixes({ seed: 7, startTs: START, count: 2000 });
  const b = generateDemoFixes({ seed: 7, startTs: START, count: 2000 });
  t.is(a.length, 2000);
  t.is(JSON.stringify(a), JSON.stringify(b));
  const c = generateDemoFixes({ seed: 8, startTs: START, count: 2000 });
  t.not(JSON.stringify(c), JSON.stringify(a));
});

// About 7 h of simulated time (9 devices, 10 s / 15 s intervals).
const LONG: DemoMessage[] = generateDemoFixes({ seed: 3, startTs: START, count: 20_000 });

test('every generated payload passes the zod schema of its kind', (t) => {
  for (const m of LONG) {
    const r = fixSchemaByKind[m.kind].safeParse(m.payload);
    if (!r.success) t.fail(`${m.device} ${JSON.stringify(m.payload)}: ${r.error.message}`);
  }
  t.pass();
});

test('timestamps increase per device at the report interval, starting near the start', (t) => {
  const last = new Map<string, number>();
  for (const m of LONG) {
    t.is(m.payload.ts, m.ts);
    const prev = last.get(m.device);
    if (prev !== undefined) t.is(m.ts - prev, m.kind === 'body_camera' ? 15_000 : 10_000);
    else t.true(m.ts >= START && m.ts < START + 15_000);
    last.set(m.device, m.ts);
  }
});

test('tracks: every fix lies within 100 m of its polyline; the fleet is in Hefei', (t) => {
  const sims = createDeviceSims(undefined, { seed: 3, startTs: START });
  const byId = new Map(sims.map((s) => [s.id, s]));
  let worst = 0;
  for (const m of LONG) {
    const p = m.payload as { lat: number; lon: number };
    const d = distanceToPolylineM(p, (byId.get(m.device) as (typeof sims)[number]).track);
    worst = Math.max(worst, d);
    t.true(haversineM(p, { lat: 31.82, lon: 117.23 }) < 15_000);
  }
  t.true(worst < 100, `worst distance ${worst.toFixed(1)} m`);
  t.true(worst > 1, 'GPS noise is present');
});

test('behaviour: trucks haul loaded at 20-50 km/h, load and tip while stopped; sweepers sweep slowly; officers walk and record', (t) => {
  const plan = demoPlan();
  for (const h of plan.hauls) {
    const straight = haversineM(h.origin.center, h.disposal.center);
    t.true(straight > 2000 && straight < 8000, `sites ${straight} m apart`);
  }
  const trucks = LONG.filter((m) => m.kind === 'muck_truck').map((m) => m.payload as Record<string, unknown>);
  const moving = trucks.filter((p) => (p.speed as number) > 0);
  t.true(moving.every((p) => (p.speed as number) >= 20 && (p.speed as number) <= 50));
  t.true(moving.some((p) => p.load === 'full') && moving.some((p) => p.load === 'empty'));
  t.true(moving.every((p) => p.lift === 'down' && p.cover === 'closed'));
  const tipping = trucks.filter((p) => p.lift === 'up');
  t.true(tipping.length > 0 && tipping.every((p) => p.speed === 0));
  t.true(trucks.some((p) => p.load === 'half'));
  const sweepers = LONG.filter((m) => m.kind === 'sanitation').map(
    (m) => m.payload as Record<string, unknown>,
  );
  const sweeping = sweepers.filter((p) => p.task === 'sweeping');
  t.true(sweeping.length > sweepers.length / 2);
  t.true(sweeping.every((p) => p.brush === true && (p.speed as number) >= 5 && (p.speed as number) <= 12));
  const cams = LONG.filter((m) => m.kind === 'body_camera').map((m) => m.payload as Record<string, unknown>);
  t.true(
    cams.every((p) => p.recording === true && (p.speed as number) <= 5 && typeof p.officer === 'string'),
  );
  const battery = cams.filter((p) => p.officer === 'officer-001').map((p) => p.battery as number);
  t.true((battery.at(-1) as number) < (battery[0] as number));
});

test('histogram: quantiles within 2 %', (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 10_000; i++) h.recordMs(i / 10); // 0.1 .. 1000 ms
  const s = h.summary();
  t.truthy(s);
  t.true(Math.abs((s?.p50 ?? 0) - 500) / 500 < 0.02);
  t.true(Math.abs((s?.p99 ?? 0) - 990) / 990 < 0.02);
  t.is(s?.max, 1000);
  t.is(s?.count, 10_000);
});

test('load payloads are valid muck-truck fixes with distinct increasing ts', (t) => {
  const f = new FixFactory(5);
  const now = Date.now();
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const p = JSON.parse(f.next(now)) as { ts: number };
    t.true(fixSchemaByKind.muck_truck.safeParse(p).success);
    t.true(p.ts > last);
    last = p.ts;
  }
  const big = new FixFactory(5, 1000).next(now);
  t.true(Math.abs(Buffer.byteLength(big) - 1000) < 20);
  t.true(fixSchemaByKind.muck_truck.safeParse(JSON.parse(big)).success);
  t.true(Buffer.byteLength(new FixFactory(5, 50).next(now)) < 100);
  t.deepEqual(generateCredentials(2, 'x-', 'pw-{n}'), [
    { id: 'x-00001', password: 'pw-00001' },
    { id: 'x-00002', password: 'pw-00002' },
  ]);
});

test('load generator: 50 connections at 500 msg/s against aedes sustain the rate, every publish acked', async (t) => {
  const broker = await startBareAedes(0);
  const seen = new Set<string>();
  let received = 0;
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'test-sub', reconnectPeriod: 0 });
  sub.on('message', (topic, payload) => {
    received++;
    const p = JSON.parse(payload.toString()) as { ts: number };
    const key = `${topic} ${p.ts}`;
    if (seen.has(key)) t.fail(`duplicate ${key}`);
    seen.add(key);
  });
  await sub.subscribeAsync(TELEMETRY_TOPIC_FILTER, { qos: 1 });
  try {
    const s = await runLoad({
      url: broker.url,
      connections: 50,
      rate: 500,
      durationS: 3,
      warmupS: 0.5,
      rampBatch: 10,
      qos: 1,
    });
    t.is(s.connected, 50);
    t.is(s.connectFailures, 0);
    // Never faster than the rate, and every slot of the window sent or reported (missed, lagged): how
    // close to 500/s a loaded machine gets is the benchmark's figure, not this test's verdict.
    const due = s.expected ?? 0;
    t.true(s.sentPerS <= 650, `sent ${s.sentPerS}/s`);
    t.true(
      s.windowSent + s.missed + s.lagged >= 0.9 * due,
      `sent ${s.windowSent}, missed ${s.missed}, lagged ${s.lagged} of ${due}`,
    );
    t.log(
      `sent ${s.sentPerS}/s, acked ${s.ackedPerS}/s against 500/s (missed ${s.missed}, lagged ${s.lagged})`,
    );
    t.is(s.acked, s.sent);
    t.is(s.unacked, 0);
    t.is(s.errors, 0);
    t.is(s.latencyMs?.count, s.windowSent);
    // QoS 1 to the subscriber: wait until it has everything
    for (let i = 0; i < 100 && received < s.sent; i++) await new Promise((r) => setTimeout(r, 20));
    t.is(received, s.sent);
  } finally {
    await sub.endAsync(true);
    await broker.close();
  }
});

test('demo fleet connects over MQTT, publishes QoS 1 fixes, retains online/offline status', async (t) => {
  const broker = await startBareAedes(0);
  const got: DemoMessage[] = [];
  const statuses = new Map<string, string>();
  broker.aedes.on('publish', (packet, client) => {
    if (!client) return;
    const m = /^devices\/([^/]+)\/(telemetry|status)$/.exec(packet.topic);
    if (!m) return;
    if (m[2] === 'status')
      statuses.set(m[1] as string, (JSON.parse(packet.payload.toString()) as { state: string }).state);
    else got.push({ device: m[1] as string, payload: JSON.parse(packet.payload.toString()) } as DemoMessage);
  });
  const seed = demoRegistrySeed();
  const fleet = startDemoFleet({
    url: broker.url,
    devices: seed.devices,
    speedup: 100,
    seed: 1,
    announceStatus: true,
  });
  t.teardown(() => broker.close());
  try {
    // 100x: a 10 s interval is 100 ms of real time
    for (let i = 0; i < 100 && new Set(got.map((g) => g.device)).size < 9; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    t.is(new Set(got.map((g) => g.device)).size, 9);
    const kinds = new Map(seed.devices.map((d) => [d.id, d.kind]));
    for (const g of got) {
      // fixes recorded before the connection was up arrive as one JSON array (blind-area backfill)
      const fixes = Array.isArray(g.payload) ? (g.payload as unknown[]) : [g.payload];
      for (const f of fixes)
        t.true(fixSchemaByKind[kinds.get(g.device) ?? 'muck_truck'].safeParse(f).success);
    }
    t.is(statuses.get('dev-d1234'), 'online');
    const st = fleet.stats();
    t.is(st.devices, 9);
    t.is(st.connected, 9);
    t.true(st.published > 0);
    t.is(st.knockedOff, 0, 'nobody else uses its client ids');
  } finally {
    await fleet.stop();
  }
  t.is(statuses.get('dev-d1234'), 'offline');
  t.is(statusTopic('dev-d1234'), 'devices/dev-d1234/status');
});

test('demo fleet: a dropped connection publishes the retained offline will, then the device reconnects', async (t) => {
  const broker = await startBareAedes(0);
  t.teardown(() => broker.close());
  const wills: string[] = [];
  let ready: Client | undefined;
  broker.aedes.on('clientReady', (c) => {
    ready = c;
  });
  broker.aedes.on('publish', (packet, client) => {
    if (client && packet.topic === 'devices/cam-sc-0001/status' && packet.retain) {
      wills.push((JSON.parse(packet.payload.toString()) as { state: string }).state);
    }
  });
  const devices = demoRegistrySeed().devices.filter((d) => d.id === 'cam-sc-0001');
  const fleet = startDemoFleet({ url: broker.url, devices, speedup: 50, reconnectPeriodMs: 100 });
  try {
    for (let i = 0; i < 100 && fleet.stats().connected < 1; i++) await new Promise((r) => setTimeout(r, 20));
    t.is(fleet.stats().connected, 1);
    t.is(ready?.id, 'cam-sc-0001');
    ready?.conn.destroy();
    for (let i = 0; i < 100 && (wills.length === 0 || fleet.stats().reconnects === 0); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    t.deepEqual(wills, ['offline']);
    for (let i = 0; i < 100 && fleet.stats().connected < 1; i++) await new Promise((r) => setTimeout(r, 20));
    t.true(fleet.stats().reconnects >= 1);
    t.is(fleet.stats().connected, 1);
  } finally {
    await fleet.stop();
  }
});

test('two demo fleets with the same devices knock each other off, and their stats say so (demo-cli warns)', async (t) => {
  const broker = await startBareAedes(0);
  t.teardown(() => broker.close());
  const devices = demoRegistrySeed().devices.slice(0, 3);
  const a = startDemoFleet({ url: broker.url, devices, speedup: 50, reconnectPeriodMs: 100 });
  const b = startDemoFleet({ url: broker.url, devices, speedup: 50, reconnectPeriodMs: 100 });
  try {
    for (let i = 0; i < 500 && (a.stats().knockedOff < 3 || b.stats().knockedOff < 3); i++)
      await new Promise((r) => setTimeout(r, 20));
    t.true(a.stats().knockedOff >= 3, `fleet a: ${a.stats().knockedOff}`);
    t.true(b.stats().knockedOff >= 3, `fleet b: ${b.stats().knockedOff}`);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('load credentials file: a registry seed (NewDevice[]) or {devices}', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  const file = join(dir, 'ids.json');
  await writeFile(file, JSON.stringify(demoRegistrySeed().devices));
  const creds = await readCredentialsFile(file);
  t.is(creds.length, 9);
  t.is(creds[0]?.id, 'dev-d1234');
  await writeFile(file, JSON.stringify({ devices: [{ id: 'a', password: 'b' }] }));
  t.deepEqual(await readCredentialsFile(file), [{ id: 'a', password: 'b' }]);
  await writeFile(file, JSON.stringify([{ id: 'a' }]));
  await t.throwsAsync(() => readCredentialsFile(file));
});

test('load generator, stepped: a flat-out window, then windows at set rates on the same connections, each counted on its own', async (t) => {
  const broker = await startBareAedes(0);
  let connects = 0;
  broker.aedes.on('client', () => connects++);
  t.teardown(() => broker.close());
  const windows: { targetRate: number | null; expected: number | null; slots: number; acked: number }[] = [];
  const steps = [
    { rate: 200, warmupS: 0.3, durationS: 1 },
    { rate: 400, warmupS: 0.3, durationS: 1 },
  ];
  const last = await runLoad({
    url: broker.url,
    connections: 20,
    window: 4,
    durationS: 1,
    warmupS: 0.3,
    rampBatch: 10,
    qos: 1,
    nextStep: async (w) => {
      windows.push({
        targetRate: w.targetRate,
        expected: w.expected,
        // every slot of the window was sent, missed (vehicle busy) or given up (generator behind)
        slots: w.windowSent + w.windowMissed + w.windowLagged,
        acked: w.windowAcked,
      });
      return steps.shift();
    },
  });
  t.is(windows.length, 3, 'nextStep is called after every window, the last one too');
  t.deepEqual(
    windows.map((w) => w.targetRate),
    [null, 200, 400],
  );
  t.true(windows[0]!.acked > 0, 'the flat-out window');
  for (const w of windows.slice(1)) {
    // slots are counted from the schedule's clock, the window from the generator's: a few ms apart
    t.true(Math.abs(w.slots - (w.expected ?? 0)) <= Math.max(3, 0.02 * (w.expected ?? 0)), JSON.stringify(w));
    t.true(w.acked > 0);
  }
  t.is(last.targetRate, 400, 'the summary returned is that of the last window');
  t.is(connects, 20, 'no reconnection between the steps');
  t.is(last.unacked, 0);
});

test('load generator, stepped: a later window at rate 0 is flat out again, on the same connections', async (t) => {
  const broker = await startBareAedes(0);
  let connects = 0;
  broker.aedes.on('client', () => connects++);
  t.teardown(() => broker.close());
  const windows: { targetRate: number | null; acked: number; sent: number }[] = [];
  const steps = [
    { rate: 200, warmupS: 0.3, durationS: 1 },
    { rate: 0, warmupS: 0.3, durationS: 1 },
  ];
  const last = await runLoad({
    ...{ url: broker.url, connections: 20, window: 4, durationS: 1, warmupS: 0.3, rampBatch: 10, qos: 1 },
    nextStep: async (w) => {
      windows.push({ targetRate: w.targetRate, acked: w.windowAcked, sent: w.windowSent });
      return steps.shift();
    },
  });
  t.deepEqual(
    windows.map((w) => w.targetRate),
    [null, 200, null],
  );
  const [, rated, flat] = windows;
  t.true(flat!.acked > 0, 'the flat-out window after a rated one publishes');
  // a flat-out window is not held to any rate: each connection keeps its window full
  t.true(flat!.acked > rated!.acked, JSON.stringify(windows));
  t.is(last.targetRate, null);
  t.is(connects, 20, 'no reconnection between the steps');
  t.is(last.unacked, 0);
});
