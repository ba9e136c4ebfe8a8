import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fix } from '../core/fix.ts';
import { SqliteApiKeys } from '../registry/api-keys.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { InfluxStore } from '../store/influx/adapter.ts';
import { type InfluxdServer, startInfluxd } from '../testkit/servers/influxd.ts';
import { freePort } from '../testkit/servers/ports.ts';
import { spawnTs, type TsChild } from './child.ts';
import type { Benchmark, Figure } from './types.ts';

/**
 * The HTTP API on the InfluxDB store, as deployed: `platform/main.ts` (the process `npm start` runs:
 * embedded broker, ingest, compliance engine, API) in its own process, with INFLUX_URL pointing at a
 * real influxd started here (testkit/servers/influxd.ts). The data goes in before the platform starts,
 * through the store's write path (InfluxStore.writeFixes: line protocol, POST /write):
 *   - 10,000 muck trucks in the registry, 10 firms of 1,000 each;
 *   - one recent fix for every truck;
 *   - 24 h of history at 10 s (8,640 fixes) for the queried truck.
 * At start the platform seeds its latest-position cache from the store (one InfluxQL query), as in
 * production; latest positions are then served from that cache, tracks from InfluxDB.
 *
 * The client side runs in this process: latency is sampled with one keep-alive connection, one request
 * at a time (time to the last byte of the body, every answer checked), and requests/s is measured with
 * autocannon against the platform and against a fastify hello-world (bench/api-hello.ts, its own
 * process too), same connections and duration, one after the other in the same run. Every request
 * carries a real API key as bearer token (sha256 + SQLite lookup per request, as for any client).
 */

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const FIRMS = 10;
const VEHICLES = 10_000;
const PER_FIRM = VEHICLES / FIRMS;
const TRACK_STEP_MS = 10_000;
const TRACK_FIXES = 8_640; // 24 h at 10 s
const DATABASE = 'bench';

const vehicleId = (i: number) => `bench-veh-${String(i + 1).padStart(5, '0')}`;
const firmId = (f: number) => `bench-firm-${String(f + 1).padStart(2, '0')}`;
const firmOf = (i: number) => firmId(Math.floor(i / PER_FIRM));
/** the truck whose track is queried (firm 01) */
const QUERIED = vehicleId(0);

// ---- autocannon (CommonJS, no bundled types): the part of its API used here ----

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  throughput: { average: number };
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  headers?: Record<string, string>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---- helpers ----

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** utime + stime of a process in seconds (Linux /proc), undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return undefined;
  }
}

/** nearest-rank percentile of an ascending array */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

interface Answer {
  status: number;
  body: Buffer;
  ms: number;
}

/** One GET over `agent`, timed from the call to the last byte of the body. */
function get(agent: Agent, url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = httpRequest(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          ms: Number(process.hrtime.bigint() - t0) / 1e6,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface LatencySample {
  p50: number;
  p99: number;
  max: number;
  n: number;
  bytes: number;
}

/**
 * `n` sequential requests on one keep-alive connection after `warmup` untimed ones; every answer must
 * be a 200 whose body passes `check` (parsed for the first and the last answer, size-checked for all).
 */
async function sampleLatency(
  url: string,
  headers: Record<string, string>,
  warmup: number,
  n: number,
  check: (body: unknown) => string | undefined,
): Promise<LatencySample> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const verify = (a: Answer, parse: boolean, size: number | undefined) => {
      if (a.status !== 200)
        throw new Error(`GET ${url}: HTTP ${a.status} ${a.body.toString().slice(0, 300)}`);
      if (size !== undefined && Math.abs(a.body.length - size) > 64)
        throw new Error(`GET ${url}: body of ${a.body.length} bytes, the first was ${size}`);
      if (parse) {
        const problem = check(JSON.parse(a.body.toString('utf8')));
        if (problem) throw new Error(`GET ${url}: ${problem}`);
      }
    };
    const first = await get(agent, url, headers);
    verify(first, true, undefined);
    const size = first.body.length;
    for (let i = 0; i < warmup; i++) verify(await get(agent, url, headers), false, size);
    const times: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < n; i++) {
      last = await get(agent, url, headers);
      verify(last, false, size);
      times.push(last.ms);
    }
    if (last) verify(last, true, size);
    times.sort((a, b) => a - b);
    return {
      p50: round2(percentile(times, 0.5)),
      p99: round2(percentile(times, 0.99)),
      max: round2(times.at(-1) ?? Number.NaN),
      n,
      bytes: size,
    };
  } finally {
    agent.destroy();
  }
}

interface Throughput {
  rps: number;
  p99: number;
  /** CPU seconds of the server process per second of the run (1 = one core busy) */
  serverCpu: number | undefined;
  bytesPerS: number;
}

/** autocannon against `url`: an untimed warm-up run, then the measured one. */
async function throughput(
  url: string,
  headers: Record<string, string>,
  connections: number,
  durationS: number,
  warmupS: number,
  serverPid: number | undefined,
): Promise<Throughput> {
  const check = (r: AutocannonResult, what: string) => {
    if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0 || r.requests.total === 0)
      throw new Error(
        `autocannon ${what} ${url}: ${r.requests.total} requests, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`,
      );
  };
  check(await autocannon({ url, connections, duration: warmupS, headers }), 'warm-up');
  const c0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  const r = await autocannon({ url, connections, duration: durationS, headers });
  const wallS = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds(serverPid);
  check(r, 'run');
  return {
    rps: Math.round(r.requests.total / r.duration),
    p99: r.latency.p99,
    serverCpu: c0 !== undefined && c1 !== undefined ? round2((c1 - c0) / wallS) : undefined,
    bytesPerS: Math.round(r.throughput.average),
  };
}

/** A `node --import tsx` child, with its stderr as progress; resolves when `ready()` says so. */
async function startChild(
  ctx: { progress(line: string): void },
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<TsChild> {
  const child = spawnTs(script, args, {
    env,
    onStderrLine: (line) => ctx.progress(`  [${name}] ${line}`),
  });
  let exit: number | undefined;
  void child.exited.then((code) => {
    exit = code;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit !== undefined) throw new Error(`${name} exited with ${exit} before it was ready`);
    if (await ready().catch(() => false)) return child;
    if (Date.now() > deadline) {
      child.child.kill('SIGKILL');
      throw new Error(`${name} not ready after ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

async function stopChild(c: TsChild | undefined): Promise<void> {
  if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 10_000);
  await c.exited.catch(() => undefined);
  clearTimeout(timer);
}

// ---- the data ----

/** A plausible muck-truck fix of vehicle i at ts (Hefei, moving). */
function fixOf(i: number, ts: number, k: number): Fix {
  return {
    vehicle: vehicleId(i),
    device: `bench-dev-${String(i + 1).padStart(5, '0')}`,
    kind: 'muck_truck',
    firm: firmOf(i),
    ts,
    received: ts + 800,
    lat: 31.7 + ((i * 37) % 1000) / 5000 + Math.sin(k / 200) / 100,
    lon: 117.1 + ((i * 53) % 1000) / 5000 + Math.cos(k / 200) / 100,
    speed: 20 + (k % 40),
    heading: (k * 7) % 360,
    alt: 30,
    sats: 12,
    accuracy: 3.5,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    load: k % 3 === 0 ? 'empty' : 'full',
    weight: k % 3 === 0 ? 0.4 : 17.2,
    cover: 'closed',
    lift: 'down',
    doors: 'closed',
  };
}

async function seedInflux(url: string, now: number): Promise<{ fixes: number; ms: number }> {
  const store = new InfluxStore({ version: 1, url, database: DATABASE });
  await store.open();
  const t0 = performance.now();
  const batch = 5000; // the platform's STORE_BATCH_SIZE default
  let written = 0;
  let buf: Fix[] = [];
  const flush = async () => {
    if (buf.length === 0) return;
    await store.writeFixes(buf);
    written += buf.length;
    buf = [];
  };
  // the queried truck: 8,640 fixes, the last one 5 s ago
  const trackEnd = now - 5_000;
  for (let k = 0; k < TRACK_FIXES; k++) {
    buf.push(fixOf(0, trackEnd - (TRACK_FIXES - 1 - k) * TRACK_STEP_MS, k));
    if (buf.length >= batch) await flush();
  }
  // every other truck: one fix within the last minute
  for (let i = 1; i < VEHICLES; i++) {
    buf.push(fixOf(i, now - 60_000 + ((i * 7919) % 55_000), i));
    if (buf.length >= batch) await flush();
  }
  await flush();
  const stored = await store.count(QUERIED, trackEnd - 86_400_000 + 1, trackEnd);
  await store.close();
  if (stored !== TRACK_FIXES)
    throw new Error(`InfluxDB holds ${stored} fixes of ${QUERIED}, not ${TRACK_FIXES}`);
  return { fixes: written, ms: performance.now() - t0 };
}

function provision(dir: string): { firmKey: string; monitorKey: string; ms: number } {
  const t0 = performance.now();
  const registry = new SqliteRegistry({ dir });
  try {
    for (let f = 0; f < FIRMS; f++) registry.upsertFirm({ id: firmId(f), name: `Bench Transport ${f + 1}` });
    // one transaction (one fsync) for the fleet, not one per truck
    registry.importVehicles(
      Array.from({ length: VEHICLES }, (_, i) => ({
        id: vehicleId(i),
        plate: `皖A·${String(i).padStart(5, '0')}`,
        kind: 'muck_truck' as const,
        firm: firmOf(i),
        ratedLoadT: 18,
      })),
    );
  } finally {
    registry.close();
  }
  const keys = new SqliteApiKeys({ dir });
  try {
    const firmKey = keys.create({ name: 'bench firm 01', role: 'firm', firm: firmId(0), createdBy: 'bench' });
    const monitorKey = keys.create({ name: 'bench monitor', role: 'monitor', createdBy: 'bench' });
    return { firmKey: firmKey.secret, monitorKey: monitorKey.secret, ms: performance.now() - t0 };
  } finally {
    keys.close();
  }
}

export const api: Benchmark = {
  name: 'api',
  description:
    'HTTP API (platform process, real InfluxDB 1.x, 10,000 trucks): p99 of latest positions for 1,000 trucks and of a 24 h track; requests/s vs a fastify hello-world (autocannon)',
  async run(ctx) {
    const latencyN = ctx.quick ? 100 : 500;
    const trackN = ctx.quick ? 15 : 100;
    const connections = 10;
    const durationS = ctx.quick ? 2 : 10;
    const warmupS = ctx.quick ? 1 : 3;

    const tmp = await mkdtemp(join(tmpdir(), 'citywatch-bench-api-'));
    let influx: InfluxdServer | undefined;
    let platform: TsChild | undefined;
    let hello: TsChild | undefined;
    try {
      ctx.progress('[api] starting influxd');
      influx = await startInfluxd();
      const now = Date.now();
      const seeded = await seedInflux(influx.url, now);
      ctx.progress(
        `[api] wrote ${seeded.fixes} fixes through InfluxStore.writeFixes in ${seeded.ms.toFixed(0)} ms ` +
          `(${TRACK_FIXES} for ${QUERIED}, 1 for each of the other ${VEHICLES - 1})`,
      );
      const dataDir = join(tmp, 'data');
      const keys = provision(join(dataDir, 'registry'));
      ctx.progress(
        `[api] registry: ${FIRMS} firms, ${VEHICLES} trucks, 2 API keys in ${keys.ms.toFixed(0)} ms`,
      );

      // ---- the platform, as `npm start` runs it
      const httpPort = await freePort();
      const base = `http://127.0.0.1:${httpPort}`;
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const firm = { authorization: `Bearer ${keys.firmKey}` };
      const monitor = { authorization: `Bearer ${keys.monitorKey}` };
      let t = performance.now();
      platform = await startChild(
        ctx,
        'platform',
        'platform/main.ts',
        [],
        {
          PARTS: 'broker,ingest,api',
          HTTP_PORT: String(httpPort),
          MQTT_PORT: '0',
          MQTT_WS_PORT: '0',
          SIMULATE: '0',
          DATA_DIR: dataDir,
          ADMIN_TOKEN,
          INFLUX_URL: influx.url,
          INFLUX_VERSION: '1',
          INFLUX_DATABASE: DATABASE,
          LOG_LEVEL: 'warn',
          // the default (1,200/min per key) would refuse a benchmark; the limiter stays in the path
          API_RATE_LIMIT: '1000000',
        },
        // ready once the latest-position cache holds every truck (seeded from InfluxDB at start)
        async () => {
          const agent = new Agent({ keepAlive: false });
          try {
            const a = await get(agent, `${base}/api/v1/positions`, admin);
            return (
              a.status === 200 && (JSON.parse(a.body.toString()) as { count: number }).count === VEHICLES
            );
          } finally {
            agent.destroy();
          }
        },
        60_000,
      );
      ctx.progress(
        `[api] platform (pid ${platform.child.pid}) on ${base}, cache seeded with ${VEHICLES} trucks, in ${(performance.now() - t).toFixed(0)} ms`,
      );
      const helloPort = await freePort();
      const helloUrl = `http://127.0.0.1:${helloPort}/`;
      t = performance.now();
      hello = await startChild(
        ctx,
        'hello',
        'bench/api-hello.ts',
        [String(helloPort)],
        {},
        async () => {
          const agent = new Agent({ keepAlive: false });
          try {
            return (await get(agent, helloUrl, {})).status === 200;
          } finally {
            agent.destroy();
          }
        },
        30_000,
      );
      ctx.progress(
        `[api] fastify hello-world (pid ${hello.child.pid}) on ${helloUrl} in ${(performance.now() - t).toFixed(0)} ms`,
      );

      // ---- latency, one request at a time
      const items = (want: number) => (body: unknown) => {
        const b = body as { count?: number; items?: unknown[] };
        return b.count === want && b.items?.length === want
          ? undefined
          : `expected ${want} items, got ${b.count}`;
      };
      const latestUrl = `${base}/api/v1/positions`;
      ctx.progress(
        `[api] latency: GET /api/v1/positions with a firm key (1,000 trucks), ${latencyN} requests`,
      );
      const latestFirm = await sampleLatency(latestUrl, firm, 20, latencyN, items(PER_FIRM));
      ctx.progress(
        `[api] latency: GET /api/v1/positions?limit=1000 with a monitor key, ${latencyN} requests`,
      );
      const latestLimit = await sampleLatency(`${latestUrl}?limit=1000`, monitor, 20, latencyN, (body) => {
        const b = body as { nextCursor?: string };
        return items(1000)(body) ?? (b.nextCursor ? undefined : 'expected a nextCursor');
      });
      const trackEnd = now - 5_000;
      const trackUrl = `${base}/api/v1/vehicles/${QUERIED}/track?from=${trackEnd - 86_400_000 + 1}&to=${trackEnd}`;
      ctx.progress(`[api] latency: GET 24 h track of ${QUERIED} (JSON), ${trackN} requests`);
      const track = await sampleLatency(trackUrl, firm, 3, trackN, items(TRACK_FIXES));

      // ---- requests/s: hello-world, then the API, same connections and duration
      const oneUrl = `${base}/api/v1/vehicles/${QUERIED}/position`;
      ctx.progress(
        `[api] autocannon: ${connections} connections, ${warmupS} s warm-up + ${durationS} s each`,
      );
      const helloRun = await throughput(helloUrl, firm, connections, durationS, warmupS, hello.child.pid);
      ctx.progress(`[api]   hello-world ${helloRun.rps} req/s, server CPU ${helloRun.serverCpu}`);
      const oneRun = await throughput(oneUrl, firm, connections, durationS, warmupS, platform.child.pid);
      ctx.progress(`[api]   GET /vehicles/{id}/position ${oneRun.rps} req/s, server CPU ${oneRun.serverCpu}`);
      const listRun = await throughput(latestUrl, firm, connections, durationS, warmupS, platform.child.pid);
      ctx.progress(`[api]   GET /positions (1,000) ${listRun.rps} req/s, server CPU ${listRun.serverCpu}`);

      const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
      const ac = `autocannon ${connections} connections, ${durationS} s after ${warmupS} s warm-up, client in the bench process`;
      const figures: Figure[] = [
        {
          name: 'api_latest_1000_p99_ms',
          value: latestFirm.p99,
          unit: 'ms',
          note: `GET /api/v1/positions with a firm key, the firm has 1,000 of the 10,000 trucks (${kb(latestFirm.bytes)}); ${latestFirm.n} sequential requests, 1 connection; goal <= 20`,
        },
        { name: 'api_latest_1000_p50_ms', value: latestFirm.p50, unit: 'ms' },
        {
          name: 'api_latest_limit_1000_p99_ms',
          value: latestLimit.p99,
          unit: 'ms',
          note: `GET /api/v1/positions?limit=1000 with a monitor key (first page of 10,000); ${latestLimit.n} sequential requests`,
        },
        {
          name: 'api_track_24h_p99_ms',
          value: track.p99,
          unit: 'ms',
          note: `GET /api/v1/vehicles/{id}/track, 24 h = ${TRACK_FIXES} fixes from InfluxDB, JSON (${kb(track.bytes)}); ${track.n} sequential requests; goal <= 300`,
        },
        { name: 'api_track_24h_p50_ms', value: track.p50, unit: 'ms' },
        {
          name: 'api_rps_latest',
          value: oneRun.rps,
          unit: 'req/s',
          note: `GET /api/v1/vehicles/{id}/position (latest position of one truck), firm key; ${ac}`,
        },
        {
          name: 'fastify_hello_rps',
          value: helloRun.rps,
          unit: 'req/s',
          note: `fastify hello-world, own process, same client and headers; ${ac}`,
        },
        {
          name: 'api_ratio',
          value: Math.round((oneRun.rps / helloRun.rps) * 1000) / 1000,
          unit: 'ratio',
          note: 'api_rps_latest / fastify_hello_rps; goal >= 0.5',
        },
        {
          name: 'api_rps_latest_1000',
          value: listRun.rps,
          unit: 'req/s',
          note: `GET /api/v1/positions with the firm key (1,000 trucks per answer); ${ac}`,
        },
        {
          name: 'api_ratio_latest_1000',
          value: Math.round((listRun.rps / helloRun.rps) * 1000) / 1000,
          unit: 'ratio',
          note: 'api_rps_latest_1000 / fastify_hello_rps',
        },
      ];
      const cpu = (name: string, run: Throughput, what: string) => {
        if (run.serverCpu !== undefined)
          figures.push({
            name,
            value: run.serverCpu,
            unit: 'cores',
            note: `server process CPU during ${what}`,
          });
      };
      cpu('api_rps_server_cpu', oneRun, 'api_rps_latest (1 = one core)');
      cpu('fastify_hello_server_cpu', helloRun, 'fastify_hello_rps');
      if (oneRun.serverCpu && helloRun.serverCpu)
        figures.push({
          name: 'api_ratio_per_cpu',
          value:
            Math.round((oneRun.rps / oneRun.serverCpu / (helloRun.rps / helloRun.serverCpu)) * 1000) / 1000,
          unit: 'ratio',
          note: 'requests per server CPU second, API / hello-world: api_ratio without the share of CPU each server got',
        });
      return figures;
    } finally {
      await stopChild(hello);
      await stopChild(platform);
      await influx?.destroy().catch((err: Error) => ctx.progress(`[api] influxd stop: ${err.message}`));
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
