/**
 * The platform's Prometheus metrics (issue 13) over its real GET /metrics: the Node.js process metrics
 * under their stock names (once doubly prefixed), violations by type and firm kind, violations in
 * progress, the sampled engine step time, webhook outcomes and dead letters, ingest dead letters, the
 * store lag, and live-stream clients and drops (a real LiveHub with a client that stops reading).
 * The PromQL of the Pipeline health dashboard runs against a real Prometheus in grafana-dashboards.test.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { Registry } from 'prom-client';
import { LiveHub } from '../../api/live-hub.ts';
import { registerLiveMetrics } from '../../api/live-metrics.ts';
import { STEP_SAMPLE_EVERY } from '../../compliance/metrics.ts';
import type { Fix } from '../../core/fix.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import {
  ADMIN_TOKEN,
  connectClient,
  endClient,
  eventually,
  LOOPBACK_WEBHOOKS,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform.ts';

/** Every sample of the exposition text: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(tp: TestPlatform): Promise<Map<string, number>> {
  const res = await fetch(`${tp.httpUrl}/metrics`);
  return samples(await res.text());
}

const WORLD: HaulWorld = {
  firm: 'firm-metrics',
  firmName: '指标测试运输公司',
  vehicle: 'veh-metrics-1',
  plate: '皖A·M0001',
  device: 'dev-metrics-1',
  secret: 'secret-metrics-1',
  origin: { id: 'site-metrics-o', name: '指标工地' },
  disposal: { id: 'site-metrics-d', name: '指标消纳场' },
  route: { id: 'route-metrics', name: '指标线路' },
  permit: 'permit-metrics',
};

test('process metrics keep their stock names: process_cpu_seconds_total, nodejs_*, no citywatch_process_ prefix', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const text = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  // the names stock Node.js dashboards query (prom-client's default collector, unprefixed)
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_heap_size_used_bytes',
  ]) {
    t.regex(text, new RegExp(`^${name} `, 'm'), name);
  }
  t.notRegex(text, /citywatch_process_/, 'no prefixed copy');
  t.notRegex(text, /process_process_/);
});

test('violations: counted by type and firm kind when opened, in progress until closed; engine step time sampled', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, WORLD);
  const before = await scrape(tp);
  t.is(before.get('citywatch_violations_total{type="OFF_ROUTE",firm_kind="transport"}'), 0, 'zero before');
  t.is(before.get('citywatch_violations_total{type="OVERSPEED",firm_kind="enforcement"}'), 0);
  t.is(before.get('citywatch_violations_open{type="OFF_ROUTE"}'), 0);
  t.false(
    before.has('citywatch_violations_total{type="SPILLAGE",firm_kind="enforcement"}'),
    'no impossible pair',
  );

  // 1 min on the route, then 300 m north of it for the rest: OFF_ROUTE opens and stays open
  const t0 = Date.now() - 20 * 60_000;
  const fixes = offRouteHaulFixes(t0, { count: 20, offFrom: 6, offTo: 20 });
  await publishFixes(tp.mqttUrl, WORLD, fixes);
  const open = await eventually(async () => {
    const m = await scrape(tp);
    return m.get('citywatch_violations_open{type="OFF_ROUTE"}') === 1 ? m : undefined;
  }, 'OFF_ROUTE in progress');
  t.is(open.get('citywatch_violations_total{type="OFF_ROUTE",firm_kind="transport"}'), 1);

  // back on the route for 2 min: it closes; the counter keeps it, the gauge lets it go
  const back = offRouteHaulFixes(t0, { count: 36, offFrom: 6, offTo: 24 }).slice(20);
  await publishFixes(tp.mqttUrl, WORLD, back);
  const closed = await eventually(async () => {
    const m = await scrape(tp);
    return m.get('citywatch_violations_open{type="OFF_ROUTE"}') === 0 ? m : undefined;
  }, 'OFF_ROUTE closed');
  t.is(closed.get('citywatch_violations_total{type="OFF_ROUTE",firm_kind="transport"}'), 1);
  // 36 fixes so far; STEP_SAMPLE_EVERY more, parked at the disposal site, make one timed step
  const more = Array.from({ length: STEP_SAMPLE_EVERY }, (_, i) => ({
    ts: t0 + (36 + i) * 10_000,
    lat: 31.82,
    lon: 117.3,
    speed: 0,
    load: 'empty',
  }));
  await publishFixes(tp.mqttUrl, WORLD, more);
  const sampled = await eventually(async () => {
    const m = await scrape(tp);
    return (m.get('citywatch_engine_step_seconds_count') ?? 0) >= 1 ? m : undefined;
  }, 'a sampled engine step');
  t.is(
    sampled.get('citywatch_engine_step_seconds_count'),
    Math.floor((36 + STEP_SAMPLE_EVERY) / STEP_SAMPLE_EVERY),
    'one fix in STEP_SAMPLE_EVERY timed',
  );
  t.true((sampled.get('citywatch_engine_step_seconds_sum') ?? 0) > 0);
  t.true((sampled.get('citywatch_store_lag_seconds') ?? -1) >= 0, 'the store lag is reported');
});

test('webhooks: delivered and dead-lettered deliveries, attempts by result, the dead letters kept', async (t) => {
  const tp = await startTestPlatform({ ...LOOPBACK_WEBHOOKS, WEBHOOK_MAX_ATTEMPTS: '1' });
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, WORLD);
  const receivers = await Promise.all(
    [200, 500].map(async (status) => {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(status).end());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    }),
  );
  for (const url of receivers) {
    const res = await fetch(`${tp.httpUrl}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url, events: ['violation.opened'], codes: ['OFF_ROUTE'] }),
    });
    t.is(res.status, 201);
  }
  const zero = await scrape(tp);
  t.is(zero.get('citywatch_webhook_deliveries_total{outcome="dead"}'), 0);
  t.is(zero.get('citywatch_webhook_attempt_seconds_count{result="server_error"}'), 0);
  t.is(zero.get('citywatch_webhook_dead_letters'), 0);

  await publishFixes(tp.mqttUrl, WORLD, offRouteHaulFixes(Date.now() - 10 * 60_000, { count: 12 }));
  const m = await eventually(async () => {
    const s = await scrape(tp);
    const done =
      (s.get('citywatch_webhook_deliveries_total{outcome="delivered"}') ?? 0) +
      (s.get('citywatch_webhook_deliveries_total{outcome="dead"}') ?? 0);
    return done === 2 ? s : undefined;
  }, 'both deliveries finished');
  t.is(m.get('citywatch_webhook_deliveries_total{outcome="delivered"}'), 1);
  t.is(m.get('citywatch_webhook_deliveries_total{outcome="dead"}'), 1);
  t.is(m.get('citywatch_webhook_attempt_seconds_count{result="ok"}'), 1);
  t.is(m.get('citywatch_webhook_attempt_seconds_count{result="server_error"}'), 1);
  t.is(m.get('citywatch_webhook_dead_letters'), 1, 'the dead letter is kept');
  t.is(m.get('citywatch_webhook_deliveries_pending'), 0);
});

test('ingest: a refused message is one dead letter, whatever its rejections', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, WORLD);
  t.is((await scrape(tp)).get('citywatch_ingest_dead_letters_total'), 0);
  const client = await connectClient(tp.mqttUrl, { username: WORLD.device, password: WORLD.secret });
  t.teardown(() => endClient(client));
  // two fixes, both out of range: two rejections, one message
  const bad = [
    { ts: Date.now(), lat: 95, lon: 117.2 },
    { ts: Date.now(), lat: 31.8, lon: 190 },
  ];
  await publishQos1(client, `devices/${WORLD.device}/telemetry`, JSON.stringify(bad));
  const m = await eventually(async () => {
    const s = await scrape(tp);
    return s.get('citywatch_ingest_dead_letters_total') === 1 ? s : undefined;
  }, 'the dead letter counted');
  t.is(m.get('citywatch_ingest_rejected_total{reason="coordinates_out_of_range"}'), 2);
});

test('live streams: clients by stream, and a client that stops reading counted once when dropped', async (t) => {
  const hub = new LiveHub({
    registry: { vehicle: () => undefined, device: () => undefined },
    retentionMs: 60_000,
    maxEvents: 1000,
    maxLag: 5,
    clientBufferBytes: 64,
    heartbeatMs: 0,
  });
  t.teardown(() => hub.close());
  const registry = new Registry();
  registerLiveMetrics(registry, hub);
  const read = async () => samples(await registry.metrics());
  let m = await read();
  t.is(m.get('citywatch_live_clients{stream="positions"}'), 0);
  t.is(m.get('citywatch_live_dropped_total{stream="positions"}'), 0);

  const reader = new PassThrough();
  reader.resume();
  const stalled = new PassThrough({ highWaterMark: 64 });
  hub.subscribe('positions', { filter: {}, sink: reader });
  hub.subscribe('positions', { filter: {}, sink: stalled });
  hub.subscribe('violations', { filter: {}, sink: new PassThrough() });
  m = await read();
  t.is(m.get('citywatch_live_clients{stream="positions"}'), 2);
  t.is(m.get('citywatch_live_clients{stream="violations"}'), 1);

  const fix: Fix = {
    vehicle: 'veh-live',
    device: 'dev-live',
    kind: 'muck_truck',
    firm: 'firm-live',
    ts: Date.now(),
    received: Date.now(),
    lat: 31.8,
    lon: 117.2,
    valid: true,
    crsIn: 'WGS84',
    late: false,
  };
  for (let i = 0; i < 20; i++) hub.publishFixes([{ ...fix, ts: fix.ts + i }]);
  m = await read();
  t.is(m.get('citywatch_live_clients{stream="positions"}'), 1, 'the stalled client is gone');
  t.is(m.get('citywatch_live_dropped_total{stream="positions"}'), 1);
  m = await read();
  t.is(m.get('citywatch_live_dropped_total{stream="positions"}'), 1, 'a second scrape counts it once');
});
