/**
 * The cluster's API node: `PARTS=api` with `CLUSTER_NATS_URLS` is the single process's API part
 * (platform/platform.ts without broker and ingest: registry, compliance registry, stores, live streams,
 * webhooks) whose registry joins the cluster's registry stream (registry-sync.ts): what its API writes
 * reaches every edge and worker, and what another node writes reaches it. It reads fixes, violations
 * and trips from the store the workers write (INFLUX_URL), and its live streams show the cluster's
 * fixes and the violations the workers stored (cluster/live-feed.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { LateDeviceCommands } from '../api/device-commands.ts';
import type { PlatformOutageSource } from '../api/platform-outages.ts';
import { consumeStoredEvents, type StoredEventSink } from '../cluster/event-feed.ts';
import { GapStore } from '../cluster/gap-store.ts';
import { type ClusterConnection, openCluster } from '../cluster/jetstream.ts';
import { ClusterCommands, openCommandRecords } from '../cluster/jt808-commands.ts';
import { feedLive, type LiveSink } from '../cluster/live-feed.ts';
import { OutageView } from '../cluster/outages.ts';
import { RegistrySync } from '../cluster/registry-sync.ts';
import { registerRegistrySyncMetrics } from '../cluster/registry-sync-metrics.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import { clusterSettings } from './cluster.ts';
import type { Config } from './config.ts';

export interface ApiNodeRegistry {
  readonly sync: RegistrySync;
  stop(): Promise<void>;
}

export async function joinRegistryStream(
  config: Config,
  platform: {
    registry: SqliteRegistry;
    compliance: ComplianceRegistry;
    /** after a device-registry record from another node was applied (vehicles and intervals: recompile) */
    recompile: () => void;
    /** the live hub behind GET /api/v1/live/*: fed with the cluster's fixes and violations */
    live: LiveSink;
    /** the webhook dispatcher: fed with every event the workers stored (cluster/event-feed.ts) */
    webhooks: StoredEventSink;
    /** the API's JT/T 808 commands: through the edge holding the terminal (cluster/jt808-commands.ts) */
    commands?: LateDeviceCommands;
    /** GET /api/v1/platform/outages: set to the cluster's outages here */
    outages: { source: PlatformOutageSource };
    /** the node's GET /metrics: gains the registry sync's conflicts */
    metrics: MetricsRegistry;
  },
  logger: Logger,
): Promise<ApiNodeRegistry> {
  const node = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const cluster = await openCluster(clusterSettings(config, `citywatch api ${node}`));
  const sync = new RegistrySync({
    cluster,
    node,
    devices: platform.registry,
    compliance: platform.compliance,
    onRecordApplied: () => platform.recompile(),
    logger,
  });
  sync.start();
  await sync.caughtUp;
  registerRegistrySyncMetrics(platform.metrics, () => sync.stats);
  platform.outages.source = clusterOutageSource(cluster, config.env.CLUSTER_LEASE_S * 1000);
  const live = feedLive(cluster, platform.live, logger);
  if (platform.commands !== undefined) {
    const records = await openCommandRecords(cluster, {
      replicas: config.env.CLUSTER_REPLICAS,
      maxAgeMs: config.env.CLUSTER_STREAM_MAX_AGE_H * 3_600_000,
    });
    platform.commands.target = new ClusterCommands(cluster.nc, records);
  }
  // this node's own durable consumer of the event stream, by a name kept in its DATA_DIR: a restart
  // goes on where it stopped
  const events = consumeStoredEvents(
    cluster,
    `webhooks-${persistentNodeId(config.dataDir)}`,
    platform.webhooks,
    logger,
    config.env.CLUSTER_STREAM_MAX_AGE_H * 3_600_000,
  );
  return {
    sync,
    async stop() {
      await events.stop();
      await live.stop();
      await sync.stop();
      await cluster.close();
    },
  };
}

/**
 * The cluster's own outages (cluster/outages.ts), read from the KV bucket at each request: those the
 * edges recorded, and, while no edge has written the intake heartbeat for longer than the lease time,
 * the one under way (end null), as the workers judge with them; each with the silences it voided, as
 * the workers stored them (cluster/gap-store.ts).
 */
function clusterOutageSource(
  cluster: Pick<ClusterConnection, 'outages' | 'gaps'>,
  leaseMs: number,
): PlatformOutageSource {
  const gaps = new GapStore(cluster.gaps);
  return {
    async outages(gapLimit) {
      const view = new OutageView(cluster.outages, leaseMs);
      await view.refresh();
      return Promise.all(
        view.current(Date.now()).map(async (o) => {
          const g = await gaps.listFor(o.start, gapLimit);
          return { start: o.start, end: o.end, cause: o.cause, gaps: g.count, gapList: g.gaps };
        }),
      );
    },
  };
}

/** an id for this node that outlives its process (DATA_DIR/cluster-node-id, written once) */
function persistentNodeId(dataDir: string): string {
  const file = path.join(dataDir, 'cluster-node-id');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomBytes(6).toString('hex');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${id}\n`);
    return id;
  }
}
