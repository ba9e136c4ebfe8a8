import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InfluxdServer, startInfluxd } from '../testkit/servers/influxd.ts';
import { freePort } from '../testkit/servers/ports.ts';
import {
  ADMIN_TOKEN,
  DATABASE,
  FIRMS,
  PER_FIRM,
  provision,
  QUERIED,
  seedInflux,
  TRACK_FIXES,
  VEHICLES,
} from './api-world.ts';
import type { TsChild } from './child.ts';
import { get, sampleLatency, startChild, stopChild, type Throughput, throughput } from './http-load.ts';
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
    // the hello-world (its own process) starts first: its start overlaps the seeding and the platform's
    // start, which leave a core idle, instead of coming after them (it idles until its own run)
    const helloPort = await freePort();
    const helloUrl = `http://127.0.0.1:${helloPort}/`;
    const helloT0 = performance.now();
    const helloStart = startChild(
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
    // a failed start is reported where it is awaited, not as an unhandled rejection meanwhile
    helloStart.catch(() => undefined);
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
      const t = performance.now();
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
      hello = await helloStart;
      ctx.progress(
        `[api] fastify hello-world (pid ${hello.child.pid}) on ${helloUrl}, started in ${(performance.now() - helloT0).toFixed(0)} ms beside the above`,
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
      await stopChild(hello ?? (await helloStart.catch(() => undefined)));
      await stopChild(platform);
      await influx?.destroy().catch((err: Error) => ctx.progress(`[api] influxd stop: ${err.message}`));
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
