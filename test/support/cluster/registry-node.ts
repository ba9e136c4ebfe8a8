/**
 * A registry node in the test's process, on a DATA_DIR of its own, as cluster/registry-sync.ts runs in
 * every edge, worker and API node: its device registry, its compliance registry and the sync that joins
 * them to the cluster's registry stream. Shared by test/cluster/registry-outbox and test/cluster/api-node.
 */

import path from 'node:path';
import { pino } from 'pino';
import { type ClusterConnection, openCluster } from '../../../cluster/jetstream.ts';
import { RegistrySync } from '../../../cluster/registry-sync.ts';
import { ComplianceRegistry } from '../../../registry/compliance.ts';
import { SqliteRegistry } from '../../../registry/sqlite.ts';
import type { NatsCluster } from '../../../testkit/servers/nats.ts';

/** the lease of the tests' cluster connections */
export const REGISTRY_NODE_LEASE_MS = 3_000;

export const registryNodeSettings = (nats: NatsCluster, name: string) => ({
  urls: nats.urls,
  partitions: 4,
  replicas: 3,
  leaseMs: REGISTRY_NODE_LEASE_MS,
  dedupeWindowMs: 600_000,
  streamMaxAgeMs: 3_600_000,
  name,
});

export interface RegistryNode {
  devices: SqliteRegistry;
  compliance: ComplianceRegistry;
  sync: RegistrySync;
  conn: ClusterConnection;
  close(): Promise<void>;
}

/** starts the node and waits until it has applied the registry stream to its end */
export async function startRegistryNode(nats: NatsCluster, dir: string, name: string): Promise<RegistryNode> {
  const conn = await openCluster(registryNodeSettings(nats, name));
  const devices = new SqliteRegistry({ dir: path.join(dir, 'registry') });
  const compliance = new ComplianceRegistry({ dir: path.join(dir, 'compliance') });
  const sync = new RegistrySync({
    cluster: conn,
    node: name,
    devices,
    compliance,
    logger: pino({ level: 'silent' }),
  });
  sync.start();
  await sync.caughtUp;
  return {
    devices,
    compliance,
    sync,
    conn,
    async close() {
      await sync.stop();
      compliance.close();
      devices.close();
      await conn.close();
    },
  };
}
