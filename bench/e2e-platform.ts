import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../platform/config.ts';
import { type Platform, startPlatform } from '../platform/platform.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../registry/compliance.ts';
import { hashSecret } from '../registry/secrets.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { type InfluxdServer, startInfluxd } from '../testkit/servers/influxd.ts';
import { type E2eWorldSummary, seedE2eWorld } from './e2e-world.ts';
import { findChildPid } from './proc-stat.ts';
import type { BenchContext } from './types.ts';

/**
 * The platform the end-to-end benchmarks drive: a real InfluxDB 1.x (influxd child process), N
 * provisioned muck-truck devices sharing one scrypt hash (one transaction), a disposal permit per truck
 * built around the line it will drive (e2e-world.ts), and the whole platform in this process (embedded
 * aedes with device auth and ACL, ingest, spool with group-committed fdatasync, pump to InfluxDB, the
 * compliance engine judging every fix). The load generator runs as a separate process with `idsFile`.
 */

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SHARED_SECRET = 'bench-device-secret-0123456789';
/** every bench truck's device secret (one scrypt hash for all) */
export const BENCH_DEVICE_SECRET = SHARED_SECRET;
export const E2E_DATABASE = 'bench';

export interface E2ePlatform {
  platform: Platform;
  influx: InfluxdServer;
  influxPid: number | undefined;
  /** mqtt://127.0.0.1:port of the embedded broker */
  url: string;
  /** the generator's credentials file */
  idsFile: string;
  world: E2eWorldSummary;
  /** fixes the pump has written to InfluxDB so far, store writes, and when the last one landed */
  stored(): { fixes: number; writes: number; lastAt: number };
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startE2ePlatform(
  ctx: BenchContext,
  label: string,
  connections: number,
): Promise<E2ePlatform> {
  const tmp = await mkdtemp(join(tmpdir(), 'citywatch-bench-e2e-'));
  let influx: InfluxdServer | undefined;
  let platform: Platform | undefined;
  try {
    ctx.progress(`${label} starting influxd`);
    influx = await startInfluxd();
    const influxPid = findChildPid('influxd');

    // provisioning, before the platform starts (so the engine compiles the world once)
    const dataDir = join(tmp, 'data');
    const fleet = await provisionE2eFleet(ctx, label, dataDir, connections);
    const world = fleet.world;
    const idsFile = join(tmp, 'devices.json');
    await writeFile(idsFile, JSON.stringify(fleet.generators[0]));

    let fixes = 0;
    let writes = 0;
    let lastAt = 0;
    const config = loadConfig({
      HTTP_PORT: '0',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      // no JT/T 808 gateway: its default port 6808 is taken whenever a platform runs on the machine
      // (the benchmark then failed with EADDRINUSE), and the MQTT figures need no 808 listener
      JT808_PORT: '0',
      SIMULATE: '0',
      DATA_DIR: dataDir,
      ADMIN_TOKEN,
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: E2E_DATABASE,
      LOG_LEVEL: 'warn',
    });
    platform = await startPlatform(config, {
      logger: pino({ level: 'warn' }),
      onStored: (batch) => {
        fixes += batch.length;
        writes++;
        lastAt = performance.now();
      },
    });
    const p = platform;
    // the pump starts once the store is open (CREATE DATABASE answered)
    const storeDeadline = Date.now() + 30_000;
    while ((await p.health()).components.store?.state !== 'ok') {
      if (Date.now() > storeDeadline) throw new Error('InfluxDB store did not become ready in 30 s');
      await sleep(50);
    }
    const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
    ctx.progress(`${label} influxd on ${influx.url}, platform MQTT on ${url}`);
    const server = influx;
    return {
      platform: p,
      influx: server,
      influxPid,
      url,
      idsFile,
      world,
      stored: () => ({ fixes, writes, lastAt }),
      async close() {
        await p.stop().catch((err: Error) => ctx.progress(`${label} platform stop: ${err.message}`));
        await server.destroy().catch((err: Error) => ctx.progress(`${label} influxd stop: ${err.message}`));
        await rm(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await platform?.stop().catch(() => undefined);
    await influx?.destroy().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface E2eFleet {
  world: E2eWorldSummary;
  /** per load generator, the credentials of its trucks (its --ids-file), and its --seed is index + 1 */
  generators: { id: string; secret: string }[][];
  /** every truck's device and vehicle ids, in provisioning order */
  trucks: { device: string; vehicle: string }[];
}

/**
 * Provisions `connections` muck trucks (devices sharing one scrypt hash) into DATA_DIR's registry and
 * their permits into its compliance world, for `generators` load generators: generator g drives a
 * contiguous share of the trucks with --seed g + 1, and each truck's permit is built around the line
 * that generator will drive it on (its index in that generator's credentials). Call before the
 * platform (or the cluster's workers) start, so the engine compiles the world once.
 */
export async function provisionE2eFleet(
  ctx: BenchContext,
  label: string,
  dataDir: string,
  connections: number,
  generators = 1,
): Promise<E2eFleet> {
  let t = performance.now();
  const secretHash = await hashSecret(SHARED_SECRET);
  const devices = Array.from({ length: connections }, (_, i) => {
    const n = String(i + 1).padStart(5, '0');
    return {
      id: `bench-truck-${n}`,
      kind: 'muck_truck' as const,
      vehicle: `bench-veh-${n}`,
      firm: 'bench-firm',
      // the nominal interval of a real terminal: OFFLINE allows 3x it. With 1 s, the publish ->
      // PUBACK queueing of an overloaded run (seconds) alone read as device silence.
      reportIntervalS: 10,
      secretHash,
    };
  });
  const per = Math.ceil(connections / generators);
  const groups = Array.from({ length: generators }, (_, g) => devices.slice(g * per, (g + 1) * per));
  const registry = new SqliteRegistry({ dir: join(dataDir, 'registry') });
  const complianceRegistry = new ComplianceRegistry({
    dir: join(dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
  });
  const world: E2eWorldSummary = { permits: 0, routes: 0, sites: 0, offRouteTrucks: 0 };
  try {
    registry.upsertFirm({ id: 'bench-firm', name: 'Bench Transport Co.' });
    registry.importVehicles(
      devices.map((d) => ({
        id: d.vehicle,
        plate: `皖A·B${d.vehicle.slice(-5)}`,
        kind: 'muck_truck' as const,
        firm: d.firm,
        ratedLoadT: 18,
      })),
    );
    registry.importDevices(devices);
    ctx.progress(
      `${label} provisioned ${connections} muck trucks in ${(performance.now() - t).toFixed(0)} ms ` +
        '(1 scrypt hash, 2 transactions); connecting verifies each with scrypt',
    );
    t = performance.now();
    for (const [g, group] of groups.entries()) {
      const summary = seedE2eWorld(
        complianceRegistry,
        group.map((d, index) => ({ index, vehicle: d.vehicle, firm: d.firm })),
        { offRouteEvery: 20, seed: g + 1 },
      );
      world.permits += summary.permits;
      world.routes += summary.routes;
      world.sites += summary.sites;
      world.offRouteTrucks += summary.offRouteTrucks;
    }
  } finally {
    complianceRegistry.close();
    registry.close();
  }
  ctx.progress(
    `${label} compliance world: ${world.permits} permits, ${world.routes} routes, ${world.sites} sites ` +
      `(${world.offRouteTrucks} trucks outside their corridor) in ${(performance.now() - t).toFixed(0)} ms`,
  );
  return {
    world,
    generators: groups.map((group) => group.map((d) => ({ id: d.id, secret: SHARED_SECRET }))),
    trucks: devices.map((d) => ({ device: d.id, vehicle: d.vehicle })),
  };
}

/** count(lat) of the fix measurement in the bench database: what InfluxDB really holds. */
export async function influxCount(url: string, database = E2E_DATABASE): Promise<number> {
  const q = encodeURIComponent('SELECT count(lat) FROM fix');
  const res = await fetch(`${url}/query?db=${encodeURIComponent(database)}&q=${q}`);
  const body = (await res.json()) as {
    results?: { series?: { values?: [string, number][] }[]; error?: string }[];
  };
  if (!res.ok || body.results?.[0]?.error) {
    throw new Error(`InfluxDB count failed: HTTP ${res.status} ${body.results?.[0]?.error ?? ''}`);
  }
  return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0;
}
