/**
 * A registry node in a process of its own (test/cluster/registry-outbox.test.ts): the registry of
 * DATA_DIR joined to the cluster's registry stream (cluster/registry-sync.ts), as an API node's is.
 * It prints `settled {seq, published}` once it has read the stream to its end and published what it
 * had to, then:
 *  - CRASH_AFTER_WRITES=1: makes the writes below locally and, in the same turn of the event loop
 *    (so nothing can have been published), kills itself with SIGKILL: a crash between the local write
 *    and its publish;
 *  - KILL_AFTER_APPLIED=N: kills itself with SIGKILL once N device-registry records from other nodes were
 *    applied (at the commit of the batch holding the Nth: a crash in the middle of a fill);
 *  - otherwise it stays up until SIGTERM.
 * BATCH_MAX and FILL_WAIT_MS set how it groups the events into transactions (cluster/registry-batches.ts).
 */
import path from 'node:path';
import { pino } from 'pino';
import { openCluster } from '../../cluster/jetstream.ts';
import { DEFAULT_BATCH } from '../../cluster/registry-batches.ts';
import { RegistrySync } from '../../cluster/registry-sync.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { CRASH_WRITES } from './cluster-world.ts';

const dataDir = process.env.DATA_DIR!;
const cluster = await openCluster({
  urls: process.env.CLUSTER_NATS_URLS!.split(','),
  partitions: 4,
  replicas: 3,
  leaseMs: 3_000,
  dedupeWindowMs: 600_000,
  streamMaxAgeMs: 3_600_000,
  name: 'registry-node-child',
});
const devices = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
const compliance = new ComplianceRegistry({ dir: path.join(dataDir, 'compliance') });
const killAfter = Number(process.env.KILL_AFTER_APPLIED ?? 0);
let recordsApplied = 0;
const sync = new RegistrySync({
  cluster,
  node: `child-${process.pid}`,
  devices,
  compliance,
  onRecordApplied: () => {
    if (killAfter > 0 && ++recordsApplied >= killAfter) {
      process.kill(process.pid, 'SIGKILL');
      for (;;); // never reaches the event loop again
    }
  },
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  batch: {
    max: Number(process.env.BATCH_MAX ?? DEFAULT_BATCH.max),
    fillWaitMs: Number(process.env.FILL_WAIT_MS ?? DEFAULT_BATCH.fillWaitMs),
  },
});
sync.start();
await sync.caughtUp;
while (sync.pendingChanges > 0) await new Promise((r) => setTimeout(r, 50));
const { seq, published, batches, applied } = sync.stats;
console.log(`settled ${JSON.stringify({ seq, published, batches, applied })}`);

if (process.env.CRASH_AFTER_WRITES === '1') {
  devices.setDeviceEnabled(CRASH_WRITES.device, false);
  devices.upsertFirm({ id: CRASH_WRITES.firm, name: CRASH_WRITES.firmName });
  compliance.put('zone', {
    id: CRASH_WRITES.zone,
    kind: 'restricted',
    name: 'added before the crash',
    polygons: [
      [
        [
          [117.2, 31.8],
          [117.21, 31.8],
          [117.21, 31.81],
          [117.2, 31.8],
        ],
      ],
    ],
  });
  process.kill(process.pid, 'SIGKILL');
  for (;;); // never reaches the event loop again
}

process.once('SIGTERM', () => {
  void sync.stop().then(async () => {
    compliance.close();
    devices.close();
    await cluster.close();
    process.exit(0);
  });
});
