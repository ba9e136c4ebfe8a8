/**
 * The world of the Grafana query tests (test/grafana/*-queries.test.ts): every query of every citywatch
 * dashboard (grafana/dashboards/*.json) is run against real servers the way Grafana runs it
 * (test/support/grafana/interpolation.ts: its template variables, multi-value and All formatting,
 * $timeFilter, $__interval, $__interval_ms, $__rate_interval, ${__to}):
 *  - InfluxQL panels, annotations and query variables against a real influxd holding what the platform
 *    wrote from a simulated run: the demo fleet and the scenario trucks (muck trucks, sweepers, body
 *    cameras; every violation type the demo shows) for 75 simulated minutes at 100x over MQTT into the
 *    platform with InfluxDB as its store; sent through the InfluxDB 2.x settings of the provisioned
 *    datasource (Authorization: Token, database = bucket: a token-checking 2.x front over influxd, as in
 *    test/store/events-contract/) and, for the Fleet overview, the 1.x ones (influxd directly);
 *  - PromQL panels against a real Prometheus (Debian's) scraping that platform every second during the
 *    run, with webhooks delivered and dead-lettered, an SSE client, a refused login and a bad message,
 *    and after it a JT/T 808 terminal connected to the gateway and a refused 808 frame.
 * A test file calls `grafanaWorld()` once: it registers the hooks that build the world before its tests
 * and take it down after them, and returns `ready()`, which hands the tests the world.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type { UnitKind } from '../../../core/fix.ts';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import type { NewDevice } from '../../../registry/types.ts';
import { demoRegistrySeed } from '../../../simulators/demo/registry.ts';
import {
  demoScenarioFleet,
  generateScenarioFixes,
  scenarioVehicle,
} from '../../../simulators/demo/scenario-trucks.ts';
import type { SimMessage } from '../../../simulators/scenario/fleet-types.ts';
import { startPublisher } from '../../../simulators/scenario/publisher.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { INFLUXD_BIN, type InfluxdServer, startInfluxd } from '../../../testkit/servers/influxd.ts';
import type { LaunchedServer } from '../../../testkit/servers/launch.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { PROMETHEUS_BIN, startPrometheus } from '../../../testkit/servers/prometheus.ts';
import { testsNeeding } from '../../../testkit/servers/required.ts';
import { startV2Front } from '../influx-v2-front.ts';
import {
  ADMIN_TOKEN,
  connectClient,
  endClient,
  eventually,
  LOOPBACK_WEBHOOKS,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from '../platform.ts';
import type { Json } from './dashboards.ts';
import type { TimeRange } from './interpolation.ts';

export const MIN = 60_000;
export const RUN_MS = 75 * MIN;
export const SPEEDUP = 100;
export const DATABASE = 'citywatch';
export const TOKEN = 'grafana-test-token';
/** Prometheus scrapes every second here; the datasource's timeInterval says the same */
export const SCRAPE = '1s';
/** the silence the test picks in the Fleet overview (a custom value of $silence, in ms) */
export const SILENCE_MS = 20_000;
/** the datasource's smallest interval (grafana/provisioning/datasources/influxdb.yaml) */
export const INFLUX_MIN_INTERVAL = '10s';

// ---------------------------------------------------------------------------------------------------
// The world

export interface World {
  influx: InfluxdServer;
  front: { url: string; close(): Promise<void> };
  prometheus: LaunchedServer;
  tp: TestPlatform;
  /** the InfluxQL panels' range: the run, ending when its last fix was acknowledged */
  range: TimeRange;
  promStart: number;
  /** the unit that stopped reporting early */
  silent: { vehicle: string; kind: UnitKind; firm: string };
  /** the other units, every one of which sent its last fix in the last 5 simulated minutes */
  reporting: number;
  units: Map<string, { kind: UnitKind; firm: string }>;
  overspeedTruck: string;
  instance: string;
  stopSse(): void;
  /** the JT/T 808 terminal left connected */
  terminal: Jt808Terminal;
}

// influxd and Prometheus: a missing one fails these tests (launch.ts), unless the developer opts out
const needsInflux = testsNeeding(INFLUXD_BIN, 'grafana-queries');
const needsPrometheus = testsNeeding(PROMETHEUS_BIN, 'grafana-queries');
const skipped = needsInflux.skipped || needsPrometheus.skipped;
/** ava's test.serial, or its skip form when influxd or Prometheus is missing and the opt-out is set */
export const serial = skipped ? test.serial.skip : test.serial;

function unitOf(d: NewDevice): string {
  return d.vehicle ?? d.id;
}

export async function influxCount(w: { influx: InfluxdServer }, q: string): Promise<number> {
  const res = await fetch(`${w.influx.url}/query?db=${DATABASE}&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as Json;
  return Number(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
}

/**
 * Registers the hooks that build the world before the file's tests and take it down after them; returns
 * `ready()`, the world once built.
 */
export function grafanaWorld(): () => World {
  let world: World | undefined;
  test.before(async (t) => {
    t.timeout(600_000);
    if (skipped) return;
    world = await buildWorld();
  });
  test.after.always(async () => {
    const w = world;
    if (!w) return;
    w.stopSse();
    w.terminal.destroy();
    await w.tp.stop();
    await w.prometheus.destroy();
    await w.front.close();
    await w.influx.destroy();
  });
  return function ready(): World {
    if (!world) throw new Error('the world was not built');
    return world;
  };
}

/** The servers, the platform and the run (see the top of this file). */
async function buildWorld(): Promise<World> {
  const influx = await startInfluxd();
  const front = await startV2Front(() => influx.url, TOKEN);
  const jt808Port = await freePort();
  const tp = await startTestPlatform({
    JT808_PORT: String(jt808Port),
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: DATABASE,
    // the demo registry and 两点一线 world (permits valid now), no demo fleet: the run below drives it
    SIMULATE: 'seed',
    // a 100x run: silence is judged by the fleet's own time
    COMPLIANCE_CLOCK: 'fleet',
    ...LOOPBACK_WEBHOOKS,
    WEBHOOK_MAX_ATTEMPTS: '1',
  });
  const promStart = Date.now();
  const instance = `127.0.0.1:${tp.platform.ports.http}`;
  const prometheus = await startPrometheus({ targets: [instance], scrapeInterval: SCRAPE });

  // webhooks: one receiver takes every delivery, one refuses them all (dead letters)
  for (const status of [200, 500]) {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const res = await fetch(`${tp.httpUrl}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        events: ['violation.opened'],
      }),
    });
    if (res.status !== 201) throw new Error(`webhook subscription: HTTP ${res.status}`);
  }
  // a live-stream client for the whole run
  const sse = new AbortController();
  void fetch(`${tp.httpUrl}/api/v1/live/positions`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: sse.signal,
  })
    .then(async (res) => {
      for await (const _ of res.body ?? []) {
        // read and forget
      }
    })
    .catch(() => undefined);

  const fleet = [...demoRegistrySeed().devices, ...demoScenarioFleet().devices];
  const units = new Map(fleet.map((d) => [unitOf(d), { kind: d.kind, firm: d.firm }]));
  // a refused login and a message the platform cannot read
  const someone = fleet[0]!;
  await connectClient(tp.mqttUrl, { username: someone.id, password: 'wrong-secret-123' }).then(
    (c) => endClient(c),
    () => undefined,
  );
  const client = await connectClient(tp.mqttUrl, { username: someone.id, password: someone.secret });
  await publishQos1(client, `devices/${someone.id}/telemetry`, '{"ts": "not a fix"');
  await endClient(client);

  // The run: 75 simulated minutes ending now. One body camera reports only its first 5 minutes, sent
  // first: by the end nothing has been received from it for as long as the rest of the run takes.
  const end = Date.now() - 5_000;
  const start = end - RUN_MS;
  const silentDevice = fleet.find((d) => d.kind === 'body_camera')!;
  const messages: SimMessage[] = generateScenarioFixes({
    seed: 1,
    startTs: start,
    durationMs: RUN_MS,
    devices: fleet,
  }).map((m) => ({
    ts: m.ts,
    device: m.device,
    topic: m.topic,
    payload: JSON.stringify(m.payload),
    kind: 'fix',
  }));
  const early = messages.filter((m) => m.device === silentDevice.id && m.ts <= start + 5 * MIN);
  const rest = messages.filter((m) => m.device !== silentDevice.id);
  // the world as designed: every other unit reports until the end (a unit is silent in the dashboard
  // when nothing came from it for 20 s before the end: 2,000 simulated seconds at 100x)
  const lastTs = new Map<string, number>();
  for (const m of rest) lastTs.set(m.device, Math.max(lastTs.get(m.device) ?? 0, m.ts));
  const lagging = [...lastTs].filter(([, ts]) => ts < end - 5 * MIN);
  if (lastTs.size !== fleet.length - 1 || lagging.length > 0)
    throw new Error(`units that do not report to the end of the run: ${JSON.stringify(lagging)}`);
  for (const [devices, batch] of [
    [[silentDevice], early],
    [fleet.filter((d) => d !== silentDevice), rest],
  ] as const) {
    const summary = await startPublisher({
      url: tp.mqttUrl,
      devices,
      messages: batch,
      startTs: start,
      speedup: SPEEDUP,
    }).done;
    if (
      summary.connected !== devices.length ||
      summary.acked !== summary.published ||
      summary.published !== batch.length
    )
      throw new Error(`the run did not go through: ${JSON.stringify(summary)}`);
  }
  const doneAt = Date.now();

  // everything stored: fixes, violations, trips
  await eventually(
    async () => {
      const h = await tp.platform.health();
      const c = h.components.compliance as unknown as {
        queuedViolations: number;
        queuedTrips: number;
        outbox: number;
      };
      return tp.platform.spool.stats().depthRecords === 0 &&
        h.components.store?.state === 'ok' &&
        c.queuedViolations === 0 &&
        c.queuedTrips === 0 &&
        c.outbox === 0
        ? true
        : undefined;
    },
    'the run stored in InfluxDB',
    120_000,
  );
  await eventually(
    async () =>
      (await influxCount({ influx }, `SELECT count("id") FROM "trip" WHERE "status" = 'completed'`)) > 0
        ? true
        : undefined,
    'completed trips',
    60_000,
  );
  // After the run (no fix of it is sent over JT/T 808): one of its trucks' terminals bound through the
  // API and connected to the gateway, and a stranger's bytes that are no frame, refused
  const truck = fleet.find((d) => d.kind === 'muck_truck')!;
  const phone = '13900000001';
  const bound = await fetch(`${tp.httpUrl}/api/v1/devices/${encodeURIComponent(truck.id)}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jt808: { phone } }),
  });
  if (bound.status !== 200) throw new Error(`binding ${truck.id} to a terminal: HTTP ${bound.status}`);
  const terminal = new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone });
  await terminal.connect();
  const authenticated = await terminal.authenticate(truck.secret);
  if (authenticated !== 0) throw new Error(`JT/T 808 authentication: result ${authenticated}`);
  const stranger = new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone: '13900000099' });
  await stranger.connect();
  stranger.write(Buffer.from('not a frame'));
  stranger.send(MSG.HEARTBEAT, Buffer.alloc(0));
  await eventually(
    async () =>
      /^citywatch_jt808_refused_total\{reason="garbage"\} [1-9]/m.test(await tp.platform.metrics.metrics())
        ? true
        : undefined,
    'the 808 garbage refused',
    30_000,
  );
  stranger.destroy();

  // Prometheus has scraped the platform after the run, and the terminal connected
  const accepted = tp.platform.ingestMetrics.accepted;
  const acceptedNow = (await accepted.get()).values[0]?.value ?? 0;
  const scraped = async (expr: string): Promise<number> => {
    const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as Json;
    return Number(body.data?.result?.[0]?.value?.[1]);
  };
  await eventually(
    async () =>
      (await scraped('citywatch_ingest_fixes_accepted_total')) >= acceptedNow &&
      (await scraped('citywatch_jt808_connections')) === 1 &&
      (await scraped('sum(citywatch_jt808_refused_total)')) >= 1
        ? true
        : undefined,
    'a scrape after the run',
    60_000,
  );
  return {
    influx,
    front: { url: front.url, close: () => new Promise((r) => front.server.close(() => r())) },
    prometheus,
    tp,
    range: { from: start - MIN, to: doneAt },
    promStart,
    silent: { vehicle: unitOf(silentDevice), kind: silentDevice.kind, firm: silentDevice.firm },
    reporting: fleet.length - 1,
    units,
    overspeedTruck: scenarioVehicle('overspeed'),
    instance,
    stopSse: () => sse.abort(),
    terminal,
  };
}
