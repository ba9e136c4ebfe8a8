/**
 * Every query of every citywatch dashboard (grafana/dashboards/*.json), run against real servers the
 * way Grafana runs it (test/support/grafana.ts: its template variables, multi-value and All formatting,
 * $timeFilter, $__interval, $__interval_ms, $__rate_interval, ${__to}):
 *  - InfluxQL panels, annotations and query variables against a real influxd holding what the platform
 *    wrote from a simulated run: the demo fleet and the scenario trucks (muck trucks, sweepers, body
 *    cameras; every violation type the demo shows) for 75 simulated minutes at 100x over MQTT into the
 *    platform with InfluxDB as its store; sent through the InfluxDB 2.x settings of the provisioned
 *    datasource (Authorization: Token, database = bucket: a token-checking 2.x front over influxd, as in
 *    events-store-contract.test.ts) and, for the Fleet overview, the 1.x ones (influxd directly);
 *  - PromQL panels against a real Prometheus (Debian's) scraping that platform every second during the
 *    run, with webhooks delivered and dead-lettered, an SSE client, a refused login and a bad message,
 *    and after it a JT/T 808 terminal connected to the gateway and a refused 808 frame.
 * Each query must answer without error, with data, with the tags (InfluxQL GROUP BY), columns or
 * labels its panel shows; several panels are checked against the platform's own answer (the silent
 * unit, the monthly ranking's figures against GET /scorecards, violation ids against the API). Every
 * query needs an expectation here: a panel added without one fails. A query made wrong fails (the last
 * tests break one of each kind and watch the checks catch it).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { UnitKind } from '../../core/fix.ts';
import { MSG } from '../../gateway/jt808/codec/ids.ts';
import { INFLUX_UID } from '../../grafana/lib/datasources.ts';
import type { NewDevice } from '../../registry/types.ts';
import { demoRegistrySeed } from '../../simulators/demo/registry.ts';
import {
  demoScenarioFleet,
  generateScenarioFixes,
  scenarioVehicle,
} from '../../simulators/demo/scenario-trucks.ts';
import type { SimMessage } from '../../simulators/scenario/fleet-types.ts';
import { startPublisher } from '../../simulators/scenario/publisher.ts';
import { Jt808Terminal } from '../../simulators/shared/jt808-terminal.ts';
import { INFLUXD_BIN, type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import type { LaunchedServer } from '../../testkit/servers/launch.ts';
import { freePort } from '../../testkit/servers/ports.ts';
import { PROMETHEUS_BIN, startPrometheus } from '../../testkit/servers/prometheus.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { committedDashboards, type Json, type QueryRef, queriesOf } from '../support/dashboards.ts';
import {
  escapeRegex,
  influxQuery,
  promQuery,
  type TimeRange,
  type VariableState,
} from '../support/grafana.ts';
import { startV2Front } from '../support/influx-v2-front.ts';
import {
  ADMIN_TOKEN,
  adminGet,
  connectClient,
  endClient,
  eventually,
  LOOPBACK_WEBHOOKS,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform.ts';

const MIN = 60_000;
const RUN_MS = 75 * MIN;
const SPEEDUP = 100;
const DATABASE = 'citywatch';
const TOKEN = 'grafana-test-token';
/** Prometheus scrapes every second here; the datasource's timeInterval says the same */
const SCRAPE = '1s';
/** the silence the test picks in the Fleet overview (a custom value of $silence, in ms) */
const SILENCE_MS = 20_000;
/** the datasource's smallest interval (grafana/provisioning/datasources/influxdb.yaml) */
const INFLUX_MIN_INTERVAL = '10s';

// ---------------------------------------------------------------------------------------------------
// The world

interface World {
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

let world: World | undefined;
// influxd and Prometheus: a missing one fails these tests (launch.ts), unless the developer opts out
const needsInflux = testsNeeding(INFLUXD_BIN, 'grafana-queries');
const needsPrometheus = testsNeeding(PROMETHEUS_BIN, 'grafana-queries');
const skipped = needsInflux.skipped || needsPrometheus.skipped;
const serial = skipped ? test.serial.skip : test.serial;

function unitOf(d: NewDevice): string {
  return d.vehicle ?? d.id;
}

async function influxCount(w: { influx: InfluxdServer }, q: string): Promise<number> {
  const res = await fetch(`${w.influx.url}/query?db=${DATABASE}&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as Json;
  return Number(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
}

test.before(async (t) => {
  t.timeout(600_000);
  if (skipped) return;
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
  world = {
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

function ready(): World {
  if (!world) throw new Error('the world was not built');
  return world;
}

// ---------------------------------------------------------------------------------------------------
// Running a query as Grafana does

interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** The InfluxDB datasource of the provisioning files: 2.x (Token header, database = bucket) or 1.x. */
interface InfluxDatasource {
  url: string;
  db: string;
  headers: Record<string, string>;
}

function datasourceV2(w: World): InfluxDatasource {
  // grafana/provisioning/datasources/influxdb.yaml with INFLUX_BUCKET = the bucket, INFLUX_TOKEN
  return { url: w.front.url, db: DATABASE, headers: { Authorization: `Token ${TOKEN}` } };
}
function datasourceV1(w: World): InfluxDatasource {
  // grafana/provisioning/influxdb-v1/influxdb.yaml with INFLUX_DATABASE, no credentials
  return { url: w.influx.url, db: DATABASE, headers: {} };
}

/** POST /query as Grafana's InfluxQL datasource sends it (httpMode POST, epoch ms). */
async function runInfluxQL(
  ds: InfluxDatasource,
  q: string,
): Promise<{ series: InfluxSeries[]; error?: string }> {
  const url = new URL(`${ds.url}/query`);
  url.searchParams.set('db', ds.db);
  url.searchParams.set('epoch', 'ms');
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...ds.headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ q }),
  });
  const body = (await res.json().catch(() => ({}))) as Json;
  if (res.status !== 200) return { series: [], error: `HTTP ${res.status} ${JSON.stringify(body)}` };
  const result = body.results?.[0] ?? {};
  if (result.error) return { series: [], error: String(result.error) };
  return { series: result.series ?? [] };
}

/** Rows of a result with the tags as columns, as Grafana's table format shows them. */
function rowsOf(series: readonly InfluxSeries[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of series) {
    for (const values of s.values) {
      const row: Record<string, unknown> = { ...(s.tags ?? {}) };
      s.columns.forEach((c, i) => {
        row[c] = values[i];
      });
      out.push(row);
    }
  }
  return out;
}

interface InfluxExpect {
  /** GROUP BY tags every series carries (time series: its labels; table: its columns) */
  tags?: string[];
  /** columns every series has */
  columns?: string[];
  /** more checks on the rows; a message when something is wrong */
  check?: (rows: Record<string, unknown>[], w: World) => string | undefined;
}

/** Problems of one InfluxQL query's answer against what its panel shows (empty: none). */
function influxProblems(
  result: { series: InfluxSeries[]; error?: string },
  expect: InfluxExpect,
  w: World,
): string[] {
  if (result.error) return [result.error];
  const problems: string[] = [];
  if (result.series.length === 0) return ['no series: the panel would be empty'];
  for (const s of result.series) {
    for (const tag of expect.tags ?? [])
      if (s.tags?.[tag] === undefined) problems.push(`a series without tag ${tag}`);
    for (const c of expect.columns ?? [])
      if (!s.columns.includes(c)) problems.push(`a series without column ${c}`);
  }
  const rows = rowsOf(result.series);
  const data = rows.some((r) => Object.entries(r).some(([k, v]) => k !== 'time' && v !== null && v !== 0));
  if (!data) problems.push('no value in any row');
  const extra = expect.check?.(rows, w);
  if (extra) problems.push(extra);
  return [...new Set(problems)];
}

const KINDS = ['muck_truck', 'sanitation', 'body_camera'];

/** The dashboards' variables at All (what a dashboard opens on), with the options Grafana would list. */
function allVariables(w: World, extra: VariableState[] = []): VariableState[] {
  const firms = [...new Set([...w.units.values()].map((u) => u.firm))];
  const base: VariableState[] = [
    { name: 'firm', multi: true, includeAll: true, allValue: '.*', value: '$__all', options: firms },
    { name: 'kind', multi: true, includeAll: true, value: '$__all', options: KINDS },
    { name: 'code', multi: true, includeAll: true, allValue: '.*', value: '$__all' },
    { name: 'permit', multi: true, includeAll: true, allValue: '.*', value: '$__all' },
    { name: 'silence', value: String(SILENCE_MS) },
    { name: 'vehicle', value: w.overspeedTruck },
    { name: 'console', value: 'http://localhost:8080' },
    { name: 'instance', multi: true, includeAll: true, value: '$__all', options: [w.instance] },
    // hidden, at All: the firms with muck trucks (its query is checked to list exactly these)
    { name: 'transport', multi: true, includeAll: true, value: '$__all', options: transportFirms(w) },
  ];
  return [...base.filter((v) => !extra.some((e) => e.name === v.name)), ...extra];
}

function transportFirms(w: World): string[] {
  return [...new Set([...w.units.values()].filter((u) => u.kind === 'muck_truck').map((u) => u.firm))].sort();
}

function rowsAre(key: string, allowed: (v: unknown) => boolean, what: string) {
  return (rows: Record<string, unknown>[]) => {
    const bad = rows.filter((r) => !allowed(r[key]));
    return bad.length === 0
      ? undefined
      : `${bad.length} rows with ${key} not ${what}: ${JSON.stringify(bad[0])}`;
  };
}

// ---------------------------------------------------------------------------------------------------
// What each InfluxQL query is meant to show (key: `<file> | <panel title or annotation/variable> | <refId>`)

const nonEmptyColumn = (key: string) =>
  rowsAre(key, (v) => typeof v === 'string' && v.length > 0, 'a non-empty string');

const INFLUX_EXPECT: Record<string, InfluxExpect> = {
  'fleet-overview.json | Latest positions by kind and state | A': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon', 'speed'],
    check: rowsAre('kind', (v) => v === 'muck_truck', 'muck_truck'),
  },
  'fleet-overview.json | Latest positions by kind and state | B': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon', 'speed'],
    check: rowsAre('kind', (v) => v === 'sanitation', 'sanitation'),
  },
  'fleet-overview.json | Latest positions by kind and state | C': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon'],
    check: rowsAre('kind', (v) => v === 'body_camera', 'body_camera'),
  },
  'fleet-overview.json | Units reporting and silent, by kind and firm | A': {
    tags: ['kind', 'firm'],
    columns: ['reporting'],
    check: (rows, w) => {
      const total = rows.reduce((n, r) => n + Number(r.reporting), 0);
      return total === w.reporting ? undefined : `${total} reporting, expected ${w.reporting}`;
    },
  },
  'fleet-overview.json | Units reporting and silent, by kind and firm | B': {
    tags: ['kind', 'firm'],
    columns: ['silent'],
    check: (rows, w) =>
      rows.length === 1 &&
      rows[0]!.kind === w.silent.kind &&
      rows[0]!.firm === w.silent.firm &&
      rows[0]!.silent === 1
        ? undefined
        : `expected one silent ${w.silent.kind} of ${w.silent.firm}: ${JSON.stringify(rows)}`,
  },
  'fleet-overview.json | Fixes per minute, by kind | A': {
    tags: ['kind'],
    check: (rows) => {
      const kinds = new Set(rows.map((r) => r.kind));
      return kinds.size === 3 ? undefined : `kinds ${[...kinds]}`;
    },
  },
  'fleet-overview.json | Report interval by kind: p95 and longest gap | A': {
    tags: ['kind'],
    columns: ['p95', 'max'],
    check: (rows) => {
      const p95 = rows.map((r) => Number(r.p95)).filter((n) => n > 0);
      // devices report every 10-30 s
      return p95.length > 0 && p95.every((s) => s >= 1 && s <= 600) ? undefined : `p95 ${p95.slice(0, 5)}`;
    },
  },
  'fleet-overview.json | Silent units | A': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['received'],
    check: (rows, w) => {
      const vehicles = rows.map((r) => r.vehicle);
      return vehicles.length === 1 && vehicles[0] === w.silent.vehicle
        ? undefined
        : `silent units ${vehicles}, expected ${w.silent.vehicle}`;
    },
  },
  'compliance.json | Violations by type | A': {
    tags: ['code'],
    check: (rows) => {
      const codes = new Set(rows.map((r) => r.code));
      return ['OFF_ROUTE', 'OVERSPEED', 'SPILLAGE'].every((c) => codes.has(c))
        ? undefined
        : `codes ${[...codes]}`;
    },
  },
  'compliance.json | Violations by firm | A': { tags: ['firm'], columns: ['violations'] },
  'compliance.json | Violations by hour of day (China Standard Time) | A': {
    columns: ['violations'],
    check: (rows) =>
      rows.reduce((n, r) => n + Number(r.violations), 0) > 0 ? undefined : 'no violation in any hour',
  },
  'compliance.json | Open violations: nobody has taken them up yet | A': {
    columns: ['id', 'code', 'firm', 'vehicle', 'level', 'lifecycle', 'durationMs', 'permit', 'route'],
    check: rowsAre('id', (v) => typeof v === 'string' && /:[A-Z_]+:\d+$/.test(v), 'a violation id'),
  },
  'compliance.json | Top routes by violations | A': {
    columns: ['route', 'seq'],
    check: nonEmptyColumn('route'),
  },
  'compliance.json | Top construction sites by violations on their trips | A': {
    columns: ['originSite', 'violationCount'],
    check: nonEmptyColumn('originSite'),
  },
  'compliance.json | Top disposal sites by violations on their trips | A': {
    columns: ['disposalSite', 'violationCount'],
    check: nonEmptyColumn('disposalSite'),
  },
  // run once per permit (the panel repeats): see the test of the repeated panel
  'compliance.json | Trips per day: $permit | A': { columns: ['trips'] },
  'compliance.json | Trips per day: $permit | B': { columns: ['compliant'] },
  'compliance.json | Firm ranking (月度考核): violations per 100 trips | A': {
    tags: ['firm'],
    columns: ['violations'],
  },
  'compliance.json | Firm ranking (月度考核): violations per 100 trips | B': {
    tags: ['firm'],
    columns: ['trips'],
  },
  'vehicle.json | Speed | A': { columns: ['speed'] },
  'vehicle.json | Load weight | A': { columns: ['weight'] },
  'vehicle.json | Load, cover, lift and ignition | A': {
    columns: ['load', 'cover', 'lift', 'ignition'],
    check: (rows) => {
      const loads = new Set(rows.map((r) => r.load));
      return loads.has('full') && loads.has('empty') ? undefined : `load states ${[...loads]}`;
    },
  },
  'vehicle.json | Violations over time, by type | A': {
    tags: ['code'],
    check: (rows) => (rows.some((r) => r.code === 'OVERSPEED') ? undefined : 'no OVERSPEED'),
  },
  'vehicle.json | Violations of the unit | A': {
    columns: ['id', 'code', 'level', 'lifecycle', 'enforcement'],
    check: (rows) => (rows.some((r) => r.code === 'OVERSPEED') ? undefined : 'no OVERSPEED'),
  },
  'vehicle.json | annotation: Violations | Anno': {
    columns: ['code', 'id', 'endTs'],
    check: nonEmptyColumn('id'),
  },
};

function key(q: QueryRef): string {
  return `${q.dashboard} | ${q.where} | ${q.refId}`;
}

function influxQueries(): QueryRef[] {
  return committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter((q) => q.datasource.uid === INFLUX_UID && !q.where.startsWith('variable:')),
  );
}

async function checkInflux(
  t: ExecutionContext,
  w: World,
  q: QueryRef,
  ds: InfluxDatasource,
  variables: VariableState[],
  range: TimeRange = w.range,
): Promise<Record<string, unknown>[]> {
  const expect = INFLUX_EXPECT[key(q)];
  if (!expect) {
    t.fail(`${key(q)}: no expectation for this query in grafana-queries.test.ts`);
    return [];
  }
  const text = influxQuery(q.text, { range, variables, minInterval: INFLUX_MIN_INTERVAL });
  const result = await runInfluxQL(ds, text);
  const problems = influxProblems(result, expect, w);
  t.deepEqual(problems, [], `${key(q)}\n  ${text}`);
  return rowsOf(result.series);
}

// ---------------------------------------------------------------------------------------------------
// InfluxQL

serial(
  'InfluxQL: every panel and annotation query returns what its panel shows (InfluxDB 2.x settings)',
  async (t) => {
    const w = ready();
    const queries = influxQueries();
    t.true(queries.length >= 24, `${queries.length} InfluxQL queries`);
    const vars = allVariables(w);
    for (const q of queries) {
      if (q.where === 'Trips per day: $permit') continue; // repeated per permit: the next test
      await checkInflux(t, w, q, datasourceV2(w), vars);
    }
    // every expectation belongs to a query (none left over from a panel since removed)
    const keys = new Set(queries.map(key));
    t.deepEqual(
      Object.keys(INFLUX_EXPECT).filter((k) => !keys.has(k)),
      [],
    );
  },
);

serial('InfluxQL: the Fleet overview through the InfluxDB 1.x settings gives the same answers', async (t) => {
  const w = ready();
  for (const q of influxQueries().filter((x) => x.dashboard === 'fleet-overview.json')) {
    await checkInflux(t, w, q, datasourceV1(w), allVariables(w));
  }
});

serial(
  'InfluxQL: multi-value and single-value selections are regex-escaped and keep to what is chosen',
  async (t) => {
    const w = ready();
    const trucks = [...w.units.values()].filter((u) => u.kind === 'muck_truck');
    const firms = [...new Set(trucks.map((u) => u.firm))].slice(0, 2);
    t.is(firms.length, 2);
    const chosen = allVariables(w, [
      { name: 'firm', multi: true, includeAll: true, allValue: '.*', value: firms },
      { name: 'kind', multi: true, includeAll: true, value: ['muck_truck'], options: KINDS },
    ]);
    const ds = datasourceV2(w);
    // the map's truck layer: only the chosen firms' trucks, every one of them
    const map = influxQueries().find(
      (q) => q.where === 'Latest positions by kind and state' && q.refId === 'A',
    )!;
    const text = influxQuery(map.text, {
      range: w.range,
      variables: chosen,
      minInterval: INFLUX_MIN_INTERVAL,
    });
    t.true(text.includes(`"firm" =~ /^(${firms.map(escapeRegex).join('|')})$/`), text);
    // one value chosen of a multi-value variable is still a list: escaped, in parentheses
    t.true(text.includes('"kind" =~ /^(muck_truck)$/'), text);
    const rows = rowsOf((await runInfluxQL(ds, text)).series);
    const expected = [...w.units]
      .filter(([, u]) => u.kind === 'muck_truck' && firms.includes(u.firm))
      .map(([v]) => v);
    t.deepEqual(rows.map((r) => r.vehicle).sort(), expected.sort());
    // the sweepers' and cameras' layers are empty for this choice, without error
    for (const refId of ['B', 'C']) {
      const q = influxQueries().find(
        (x) => x.where === 'Latest positions by kind and state' && x.refId === refId,
      )!;
      const r = await runInfluxQL(
        ds,
        influxQuery(q.text, { range: w.range, variables: chosen, minInterval: '10s' }),
      );
      t.is(r.error, undefined);
      t.deepEqual(r.series, []);
    }
    // kind at All without a custom all value: every kind, as (a|b|c)
    const perKind = influxQueries().find((q) => q.where === 'Fixes per minute, by kind')!;
    const allKinds = influxQuery(perKind.text, {
      range: w.range,
      variables: allVariables(w),
      minInterval: '10s',
    });
    t.true(allKinds.includes('"kind" =~ /^(muck_truck|sanitation|body_camera)$/'), allKinds);
    t.true(allKinds.includes('"firm" =~ /^.*$/'), 'the custom all value, unformatted');
    t.true(allKinds.includes('* 60000 / 10000'), '$__interval_ms: 10 s, the datasource minimum');
    t.true(allKinds.includes('GROUP BY time(10s)'), '$__interval');
    // the Vehicle dashboard's single vehicle, inside a regex: escaped
    const speed = influxQueries().find((q) => q.where === 'Speed')!;
    const one = influxQuery(speed.text, {
      range: w.range,
      variables: allVariables(w, [{ name: 'vehicle', value: 'veh.x-1' }]),
      minInterval: '10s',
    });
    t.true(one.includes('"vehicle" =~ /^veh\\.x-1$/'), one);
  },
);

serial(
  'InfluxQL: the repeated trips panel answers for every permit; their trips add up to all completed ones',
  async (t) => {
    const w = ready();
    const permitVar = committedDashboards()
      .flatMap(({ file, json }) => queriesOf(file, json))
      .find((q) => q.where === 'variable: permit')!;
    const listed = await runInfluxQL(
      datasourceV2(w),
      influxQuery(permitVar.text, { range: w.range, variables: allVariables(w), minInterval: '10s' }),
    );
    const permits = rowsOf(listed.series).map((r) => String(r.distinct));
    t.true(permits.length >= 2, `permits ${permits}`);
    const [tripsQ, compliantQ] = influxQueries().filter((q) => q.where === 'Trips per day: $permit');
    let trips = 0;
    let shown = 0;
    for (const permit of permits) {
      // a clone of the repeated panel: $permit is that one permit (a permit may have no trip completed yet)
      const vars = allVariables(w, [
        { name: 'permit', multi: true, includeAll: true, allValue: '.*', value: permit },
      ]);
      for (const q of [tripsQ!, compliantQ!]) {
        const text = influxQuery(q.text, {
          range: w.range,
          variables: vars,
          minInterval: INFLUX_MIN_INTERVAL,
        });
        t.true(text.includes(`"permit" =~ /^${escapeRegex(permit)}$/`), text);
        const result = await runInfluxQL(datasourceV2(w), text);
        t.is(result.error, undefined, text);
        if (q === tripsQ && result.series.length > 0) {
          t.deepEqual(influxProblems(result, INFLUX_EXPECT[key(q)]!, w), [], text);
          trips += rowsOf(result.series).reduce((n, r) => n + Number(r.trips), 0);
          shown++;
        }
      }
    }
    t.true(shown > 0, 'at least one permit with completed trips');
    const all = await influxCount(
      w,
      `SELECT count("id") FROM "trip" WHERE "status" = 'completed' AND "permit" != '' AND time >= ${w.range.from}ms AND time <= ${w.range.to}ms`,
    );
    t.is(trips, all);
  },
);

serial('InfluxQL: the query variables list the firms, codes, permits and units of the run', async (t) => {
  const w = ready();
  const vars = committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter((q) => q.where.startsWith('variable:') && q.datasource.uid === INFLUX_UID),
  );
  const values = async (where: string, variables = allVariables(w)): Promise<string[]> => {
    const q = vars.find((v) => v.where === where);
    if (!q) throw new Error(`no ${where}`);
    const r = await runInfluxQL(
      datasourceV2(w),
      influxQuery(q.text, { range: w.range, variables, minInterval: '10s' }),
    );
    t.is(r.error, undefined, where);
    // Grafana lists the first string column: SHOW TAG VALUES' value, SELECT DISTINCT's distinct
    return rowsOf(r.series).map((row) => String(row.value ?? row.distinct));
  };
  const firms = [...new Set([...w.units.values()].map((u) => u.firm))].sort();
  t.deepEqual((await values('variable: firm')).sort(), firms);
  const codes = await values('variable: code');
  for (const c of ['OFF_ROUTE', 'OVERSPEED', 'SPILLAGE']) t.true(codes.includes(c), c);
  t.true((await values('variable: permit')).length >= 2);
  t.deepEqual((await values('variable: transport')).sort(), transportFirms(w));
  t.deepEqual((await values('variable: vehicle')).sort(), [...w.units.keys()].sort(), 'every unit at All');
  const cameras = await values(
    'variable: vehicle',
    allVariables(w, [
      { name: 'kind', multi: true, includeAll: true, value: ['body_camera'], options: KINDS },
    ]),
  );
  t.deepEqual(
    cameras.sort(),
    [...w.units]
      .filter(([, u]) => u.kind === 'body_camera')
      .map(([v]) => v)
      .sort(),
    'the body cameras only',
  );
  t.true(vars.length >= 4);
});

serial(
  "InfluxQL: the Compliance dashboard agrees with the platform: the month's figures, violation ids, routes",
  async (t) => {
    const w = ready();
    // the ranking's inputs over this month (China Standard Time) are the scorecard's
    const card = await adminGet(w.tp, '/api/v1/scorecards');
    t.is(card.status, 200);
    const month: TimeRange = { from: Date.parse(card.body.from), to: w.range.to };
    const ranking = influxQueries().filter((q) => q.where.startsWith('Firm ranking'));
    const [violations, trips] = await Promise.all(
      ranking.map((q) => checkInflux(t, w, q, datasourceV2(w), allVariables(w), month)),
    );
    const asMap = (rows: Record<string, unknown>[] | undefined, col: string) =>
      Object.fromEntries((rows ?? []).map((r) => [r.firm, Number(r[col])]));
    const cards = card.body.items as { firm: string; violations: number; trips: number }[];
    const nonZero = (pick: (c: { violations: number; trips: number }) => number) =>
      Object.fromEntries(cards.filter((c) => pick(c) > 0).map((c) => [c.firm, pick(c)]));
    t.deepEqual(
      asMap(violations, 'violations'),
      nonZero((c) => c.violations),
    );
    t.deepEqual(
      asMap(trips, 'trips'),
      nonZero((c) => c.trips),
    );
    // the open violations' ids are the platform's (the console link opens them)
    const open = influxQueries().find((q) => q.where.startsWith('Open violations'))!;
    const rows = await checkInflux(t, w, open, datasourceV2(w), allVariables(w));
    for (const row of rows.slice(0, 5)) {
      const v = await adminGet(w.tp, `/api/v1/violations/${encodeURIComponent(String(row.id))}`);
      t.is(v.status, 200, String(row.id));
      t.is(v.body.violation.status, 'open');
    }
    // the routes ranked are routes of the registry
    const routes = influxQueries().find((q) => q.where === 'Top routes by violations')!;
    const named = new Set(
      (await checkInflux(t, w, routes, datasourceV2(w), allVariables(w))).map((r) => r.route),
    );
    const known = new Set(w.tp.platform.compliance.list('route').map((r) => r.id));
    for (const r of named) t.true(known.has(String(r)), `route ${r}`);
  },
);

// ---------------------------------------------------------------------------------------------------
// PromQL

interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

async function runPromQL(
  w: World,
  expr: string,
  range: TimeRange,
): Promise<{ series: PromSeries[]; error?: string; sent: string }> {
  const q = promQuery(expr, {
    range,
    variables: allVariables(w),
    scrapeInterval: SCRAPE,
  });
  const res = await fetch(`${w.prometheus.url}/api/v1/query_range`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      query: q.expr,
      start: String(q.start),
      end: String(q.end),
      step: String(q.step),
    }),
  });
  const body = (await res.json()) as Json;
  if (body.status !== 'success')
    return { series: [], error: `${body.errorType}: ${body.error}`, sent: q.expr };
  return { series: body.data.result, sent: q.expr };
}

/** Labels each query's series carry (its legend and its `by`), by `<panel title> | <refId>`. */
const PROM_EXPECT: Record<string, string[]> = {
  'MQTT connections | A': ['type'],
  'MQTT refusals | A': ['reason'],
  'MQTT refusals | B': ['reason'],
  'Ingest rate | A': [],
  'Ingest rate | B': ['transport'],
  'Ingest rejections by reason | A': ['reason'],
  'Ingest rejections by reason | B': [],
  'JT/T 808 terminals | A': [],
  'JT/T 808 terminals | B': ['reason'],
  'JT/T 808 terminals | C': [],
  'Receipt to durable (PUBACK), p99 | A': [],
  'Spool backlog | A': [],
  'Spool backlog | B': [],
  'Spool fill and held acknowledgements | A': [],
  'Spool fill and held acknowledgements | B': ['mode'],
  'Spool fill and held acknowledgements | C': [],
  'Store lag and write time | A': [],
  'Store lag and write time | B': [],
  'Store writes by result | A': ['result'],
  'Engine step and tick time | A': [],
  'Engine step and tick time | B': [],
  'Engine step and tick time | C': [],
  'Violations opened per minute, by type | A': ['type'],
  'Violations in progress, by type | A': ['type'],
  'Event-loop lag | A': ['instance'],
  'Event-loop lag | B': ['instance'],
  'Webhook attempts by result | A': ['result'],
  'Webhook attempt time, p95 | A': [],
  'Webhook deliveries and dead letters | A': ['outcome'],
  'Webhook deliveries and dead letters | B': [],
  'Webhook deliveries and dead letters | C': [],
  'Live-stream clients (SSE) | A': ['stream'],
  'Live-stream clients (SSE) | B': ['stream'],
  'API latency by route, p95 | A': ['route'],
  'API requests by status | A': ['status'],
  'Memory and CPU | A': ['instance'],
  'Memory and CPU | B': ['instance'],
  'Memory and CPU | C': ['instance'],
};

function promProblems(result: { series: PromSeries[]; error?: string }, labels: readonly string[]): string[] {
  if (result.error) return [result.error];
  if (result.series.length === 0) return ['no series: the panel would be empty'];
  const problems: string[] = [];
  for (const s of result.series) {
    for (const l of labels) if (s.metric[l] === undefined) problems.push(`a series without label ${l}`);
  }
  const finite = result.series.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
  if (!finite) problems.push('no finite value (NaN everywhere: no observation in any window)');
  return [...new Set(problems)];
}

function promQueries(): QueryRef[] {
  return committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter(
      (q) => q.datasource.type === 'prometheus' && !q.where.startsWith('variable:'),
    ),
  );
}

serial(
  'PromQL: every Pipeline health query returns its series from a Prometheus scraping the platform',
  async (t) => {
    const w = ready();
    const range: TimeRange = { from: w.promStart, to: Date.now() };
    const queries = promQueries();
    t.true(queries.length >= 30, `${queries.length} PromQL queries`);
    for (const q of queries) {
      const k = `${q.where} | ${q.refId}`;
      const labels = PROM_EXPECT[k];
      if (!labels) {
        t.fail(`${k}: no expectation for this query in grafana-queries.test.ts`);
        continue;
      }
      const result = await runPromQL(w, q.text, range);
      t.deepEqual(promProblems(result, labels), [], `${k}\n  ${result.sent}`);
    }
    const keys = new Set(queries.map((q) => `${q.where} | ${q.refId}`));
    t.deepEqual(
      Object.keys(PROM_EXPECT).filter((k) => !keys.has(k)),
      [],
    );
    // what the run did shows: webhooks delivered and dead, the SSE client, the refused login, the bad message.
    // The peak over every scrape since the start (a subquery at the scrape interval): a range query's steps
    // (Grafana's $__interval, seconds apart on this long window) can fall on both sides of a short-lived
    // value, such as the 808 terminal connected only at the end.
    const last = async (expr: string) => {
      const seconds = Math.ceil((Date.now() - w.promStart) / 1000) + 60;
      const res = await fetch(
        `${w.prometheus.url}/api/v1/query?query=${encodeURIComponent(`max_over_time((${expr})[${seconds}s:${SCRAPE}])`)}`,
      );
      const body = (await res.json()) as Json;
      if (body.status !== 'success') throw new Error(`${expr}: ${body.errorType}: ${body.error}`);
      return Math.max(
        0,
        ...(body.data.result as Array<{ value: [number, string] }>)
          .map((s) => Number(s.value[1]))
          .filter(Number.isFinite),
      );
    };
    t.true((await last('sum(citywatch_webhook_deliveries_total{outcome="delivered"})')) > 0);
    t.true((await last('sum(citywatch_webhook_dead_letters)')) > 0);
    t.is(await last('sum(citywatch_live_clients{stream="positions"})'), 1);
    t.true((await last('sum(citywatch_mqtt_auth_failures_total{reason="bad_secret"})')) >= 1);
    t.true((await last('sum(citywatch_ingest_dead_letters_total)')) >= 1);
    t.true((await last('sum(citywatch_violations_total{firm_kind="transport"})')) > 0);
    // the peak over the run: the terminal, and for as long as it lasted the stranger sending garbage (a
    // scrape may catch both; after the run the gauge reads 1, checked before the world was kept)
    t.true((await last('sum(citywatch_jt808_connections)')) >= 1);
    t.true((await last('sum(citywatch_jt808_refused_total{reason="garbage"})')) >= 1);
    // the run never took the spool near its limits (4 GiB by default): no acknowledgement slowed or held
    const fill = await last('max(citywatch_spool_fill_ratio)');
    t.true(fill < 0.8, `fill ${fill}`);
    t.is(await last('sum(citywatch_ingest_backpressure_total)'), 0);
  },
);

serial(
  'PromQL: the instance variable lists the platform, and one instance chosen is regex-escaped',
  async (t) => {
    const w = ready();
    const v = committedDashboards()
      .flatMap(({ file, json }) => queriesOf(file, json))
      .find((q) => q.where === 'variable: instance')!;
    // label_values(metric, label): the label values API, as Grafana's Prometheus datasource asks it
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.text);
    t.truthy(m, v.text);
    const url = new URL(`${w.prometheus.url}/api/v1/label/${m![2]}/values`);
    url.searchParams.set('match[]', m![1]!);
    const body = (await (await fetch(url)).json()) as Json;
    t.deepEqual(body.data, [w.instance]);
    const one = promQuery('sum(citywatch_spool_depth_fixes{instance=~"$instance"})', {
      range: { from: w.promStart, to: Date.now() },
      variables: allVariables(w, [{ name: 'instance', multi: true, includeAll: true, value: [w.instance] }]),
      scrapeInterval: SCRAPE,
    });
    t.true(one.expr.includes(`instance=~"${w.instance.replaceAll('.', '\\\\.')}"`), one.expr);
    const res = await fetch(
      `${w.prometheus.url}/api/v1/query_range?${new URLSearchParams({ query: one.expr, start: String(one.start), end: String(one.end), step: String(one.step) })}`,
    );
    const r = (await res.json()) as Json;
    t.is(r.data.result.length, 1);
  },
);

// ---------------------------------------------------------------------------------------------------
// The checks catch wrong queries

serial(
  'a wrong query fails the checks: a measurement, a tag, a metric or a label that is not there',
  async (t) => {
    const w = ready();
    const ds = datasourceV2(w);
    const vars = allVariables(w);
    const perKind = influxQueries().find((q) => q.where === 'Fixes per minute, by kind')!;
    const expect = INFLUX_EXPECT[key(perKind)]!;
    const broken = [
      perKind.text.replace('FROM "fix"', 'FROM "fixes"'), // no such measurement
      perKind.text.replace('"kind" fill(0)', '"kinds" fill(0)'), // no such tag
      perKind.text.replace('count("lat")', 'count("latitude")'), // no such field
    ];
    for (const text of broken) {
      const r = await runInfluxQL(
        ds,
        influxQuery(text, { range: w.range, variables: vars, minInterval: '10s' }),
      );
      t.notDeepEqual(influxProblems(r, expect, w), [], text);
    }
    // and the right one passes the same check
    const ok = await runInfluxQL(
      ds,
      influxQuery(perKind.text, { range: w.range, variables: vars, minInterval: '10s' }),
    );
    t.deepEqual(influxProblems(ok, expect, w), []);

    const range: TimeRange = { from: w.promStart, to: Date.now() };
    const conn = promQueries().find((q) => q.where === 'MQTT connections')!;
    for (const text of [
      conn.text.replace('citywatch_mqtt_connections', 'citywatch_mqtt_connection'), // no such metric
      conn.text.replace('by (type)', 'by (kind)'), // a label the metric does not have
      conn.text.replace('instance=~', 'job=~'), // the variable on the wrong label
    ]) {
      t.notDeepEqual(
        promProblems(await runPromQL(w, text, range), PROM_EXPECT['MQTT connections | A']!),
        [],
        text,
      );
    }
    t.deepEqual(promProblems(await runPromQL(w, conn.text, range), PROM_EXPECT['MQTT connections | A']!), []);
  },
);
