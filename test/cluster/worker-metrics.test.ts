/**
 * A worker's figures as Prometheus reads them (cluster/part-metrics.ts), on a real 3-node NATS cluster:
 * citywatch_worker_stream_pending_fixes is what the stream says is left in the worker's partitions past
 * what it read. The fix store's first write is held (a gate around the real embedded store), so the
 * runner stands still after reading its first batch of 10 of 30 fixes: 20 pending, none counted judged
 * (a batch counts once stored); released, it judges all 30 and nothing is pending.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { openCluster } from '../../cluster/jetstream.ts';
import { registerWorkerMetrics } from '../../cluster/part-metrics.ts';
import { Worker } from '../../cluster/worker.ts';
import type { Fix } from '../../core/fix.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { scenarioFixes, scenarioSnapshot } from '../support/cluster/scenario.ts';
import { LEASE_MS, PARTITIONS, startJudgementCluster, waitFor } from '../support/cluster/worker.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-worker-metrics');

const snapshot = scenarioSnapshot();

serial(
  'a worker exports the fixes left in its partitions past what it read, and those it judged',
  async (t) => {
    t.timeout(300_000);
    const cluster = await startJudgementCluster(t, () => snapshot);
    const all = scenarioFixes(10 * 60_000);
    const truck = all[0]!.vehicle;
    const fixes = all.filter((f) => f.vehicle === truck).slice(0, 30);
    t.is(fixes.length, 30);
    await cluster.publish(fixes);

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-worker-metrics-'));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const store = new EmbeddedStore({ dir });
    await store.open();
    t.teardown(() => store.close());
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let held = false;
    const gated = {
      async writeFixes(batch: readonly Fix[]) {
        held = true;
        await released;
        return store.writeFixes(batch);
      },
      track: store.track.bind(store),
    };
    const conn = await openCluster({
      urls: cluster.nats.urls,
      partitions: PARTITIONS,
      replicas: 3,
      leaseMs: LEASE_MS,
      dedupeWindowMs: 600_000,
      streamMaxAgeMs: 72 * 3_600_000,
      name: 'worker-metrics test',
    });
    t.teardown(() => conn.close());
    const worker = new Worker({
      cluster: conn,
      workerId: 'w-metrics',
      partitions: PARTITIONS,
      registry: { snapshot: () => snapshot, onChange: () => () => undefined },
      fixes: gated,
      events: cluster.events,
      leaseMs: LEASE_MS,
      checkpointMs: 300,
      tickMs: 0,
      batchSize: 10,
      logger: pino({ level: 'silent' }),
    });
    const metrics = new Registry();
    registerWorkerMetrics(metrics, worker);
    const value = async (name: string) => {
      const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    };
    worker.start();
    t.teardown(() => {
      release();
      return worker.stop();
    });

    await waitFor('the first batch held at the store', () => held);
    t.is(await value('citywatch_worker_stream_pending_fixes'), 20);
    t.is(await value('citywatch_worker_fixes_judged_total'), 0);
    t.is(await value('citywatch_worker_partitions'), PARTITIONS);

    release();
    await waitFor(
      'the worker judging the 30 fixes',
      async () => (await value('citywatch_worker_fixes_judged_total')) === 30,
    );
    t.is(await value('citywatch_worker_stream_pending_fixes'), 0);
    await waitFor(
      'a checkpoint written',
      async () => ((await value('citywatch_worker_checkpoints_total')) ?? 0) >= 1,
    );
    t.is(await value('citywatch_worker_checkpoint_conflicts_total'), 0);
  },
);
