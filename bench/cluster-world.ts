import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { type ClusterConnection, openCluster } from '../cluster/jetstream.ts';
import { RegistrySync } from '../cluster/registry-sync.ts';
import { ComplianceRegistry } from '../registry/compliance.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { type InfluxdServer, startInfluxd } from '../testkit/servers/influxd.ts';
import { type NatsCluster, startNatsCluster } from '../testkit/servers/nats.ts';
import { E2E_DATABASE, type E2eFleet, provisionE2eFleet } from './e2e-platform.ts';
import type { BenchContext } from './types.ts';

/**
 * What the cluster benchmark (bench/cluster.ts) runs on, made ready before its parts start: 3 NATS
 * nodes and influxd, started while the e2e fleet is provisioned into a DATA_DIR (the three do not wait
 * for each other), then the registry stream seeded once, by a registry node of the benchmark's own (a
 * copy of that DATA_DIR, cluster/registry-sync.ts) as the first node of a new cluster does: the parts,
 * started on the DATA_DIR afterwards, find every record in the stream and offer nothing. The same node
 * adds zones during the measured window (registry_apply_*).
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** partition -> worker id, from the lease bucket */
export async function leaseOwners(conn: ClusterConnection, partitions: number): Promise<Map<number, string>> {
  const owners = new Map<number, string>();
  for (let p = 0; p < partitions; p++) {
    const e = await conn.leases.get(`p.${p}`);
    if (e?.operation === 'PUT') owners.set(p, e.string());
  }
  return owners;
}

/** count(lat) of the fixes at or after `fromTs` (ms) */
export async function influxCountSince(url: string, fromTs: number): Promise<number> {
  const q = encodeURIComponent(`SELECT count(lat) FROM fix WHERE time >= ${BigInt(fromTs) * 1_000_000n}`);
  const res = await fetch(`${url}/query?db=${encodeURIComponent(E2E_DATABASE)}&q=${q}`);
  const body = (await res.json()) as { results?: { series?: { values?: [string, number][] }[] }[] };
  return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0;
}

export interface ClusterWorld {
  nats: NatsCluster;
  influx: InfluxdServer;
  /** the benchmark's own connection (lease bucket, stream info) */
  conn: ClusterConnection;
  fleet: E2eFleet;
  /** the DATA_DIR the parts start on */
  dataDir: string;
  /** each load generator's device credentials (JSON file) */
  idsFiles: string[];
  /** the registry node's compliance registry: a put is published to the registry stream */
  compliance: ComplianceRegistry;
  /** stops the registry node (idempotent) */
  closeNode(): Promise<void>;
  /** everything above, whatever started */
  destroy(): Promise<void>;
}

export async function startClusterWorld(
  ctx: BenchContext,
  tmp: string,
  opts: { connections: number; generators: number; partitions: number; leaseS: number },
  phase: (what: string) => void,
): Promise<ClusterWorld> {
  const dataDir = join(tmp, 'data');
  const stops: (() => Promise<unknown>)[] = [];
  const destroy = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  ctx.progress('[cluster] starting 3 nats-server nodes and influxd, provisioning the fleet meanwhile');
  const started = <T extends { destroy(): Promise<unknown> } | { close(): Promise<unknown> }>(it: T): T => {
    stops.push(() => ('destroy' in it ? it.destroy() : it.close()));
    return it;
  };
  const servers = [
    startNatsCluster({ startTimeoutMs: 120_000 }).then(started),
    startInfluxd().then(started),
  ] as const;
  // the streams and buckets made as soon as NATS answers, while the fleet is provisioned
  const connecting = servers[0].then((nats) =>
    openCluster({
      urls: nats.urls,
      partitions: opts.partitions,
      replicas: 3,
      leaseMs: opts.leaseS * 1000,
      dedupeWindowMs: 600_000,
      streamMaxAgeMs: 72 * 3_600_000,
      name: 'bench-cluster',
    }).then(started),
  );
  try {
    const fleet = await provisionE2eFleet(ctx, '[cluster]', dataDir, opts.connections, opts.generators);
    const [nats, influx] = await Promise.all(servers);
    const conn = await connecting;
    const idsFiles: string[] = [];
    for (const [g, creds] of fleet.generators.entries()) {
      const file = join(tmp, `devices-${g + 1}.json`);
      await writeFile(file, JSON.stringify(creds));
      idsFiles.push(file);
    }
    phase('servers up and fleet provisioned');
    const nodeDir = join(tmp, 'registry-node');
    await cp(dataDir, nodeDir, { recursive: true });
    const devices = new SqliteRegistry({ dir: join(nodeDir, 'registry') });
    const compliance = new ComplianceRegistry({ dir: join(nodeDir, 'compliance') });
    const node = new RegistrySync({
      cluster: conn,
      node: 'bench-registry-node',
      devices,
      compliance,
      logger: pino({ level: 'warn' }),
    });
    node.start();
    let open = true;
    const closeNode = async () => {
      if (!open) return;
      open = false;
      await node.stop();
      compliance.close();
      devices.close();
    };
    stops.push(closeNode);
    await node.caughtUp;
    await until('the registry seeded into its stream', async () => node.pendingChanges === 0, 120_000);
    phase(`registry stream seeded with ${node.stats.published} records`);
    return { nats, influx, conn, fleet, dataDir, idsFiles, compliance, closeNode, destroy };
  } catch (err) {
    await Promise.allSettled([...servers, connecting]);
    await destroy();
    throw err;
  }
}
