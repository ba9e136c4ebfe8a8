/**
 * The cluster's API node: `PARTS=api` with `CLUSTER_NATS_URLS` is the single process's API part
 * (platform/platform.ts without broker and ingest: registry, compliance registry, stores, live streams,
 * webhooks) whose registry joins the cluster's registry stream (registry-sync.ts): what its API writes
 * reaches every edge and worker, and what another node writes reaches it. It reads fixes, violations
 * and trips from the store the workers write (INFLUX_URL), and its live streams show the cluster's
 * fixes and the violations the workers stored (cluster/live-feed.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { openCluster } from '../cluster/jetstream.ts';
import { feedLive, type LiveSink } from '../cluster/live-feed.ts';
import { RegistrySync } from '../cluster/registry-sync.ts';
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
  const live = feedLive(cluster, platform.live, logger);
  return {
    sync,
    async stop() {
      await live.stop();
      await sync.stop();
      await cluster.close();
    },
  };
}
