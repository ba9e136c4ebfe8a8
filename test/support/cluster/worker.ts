/**
 * What the cluster's judgement tests share: a real 3-node NATS cluster (testkit/servers/nats.ts), the
 * cluster's streams and buckets on it, workers run in the test's process (cluster/worker.ts, the code a
 * PARTS=worker process runs) on real embedded stores (SQLite), and fixes published to the fix stream as
 * an edge publishes them (subject by unit, message id device@ts). The fixes' times are the scenario's:
 * with CLUSTER_TICK_S 0 no verdict depends on the wall clock.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import { type ClusterConnection, openCluster } from '../../../cluster/jetstream.ts';
import { fixMsgId, fixSubject, partitionOf } from '../../../cluster/partitions.ts';
import { Worker } from '../../../cluster/worker.ts';
import { ComplianceService } from '../../../compliance/service.ts';
import type { Fix } from '../../../core/fix.ts';
import type { RegistrySnapshot } from '../../../geofence/model.ts';
import { EmbeddedStore } from '../../../store/embedded.ts';
import { EmbeddedEventStore } from '../../../store/events-embedded.ts';
import type { EventStore } from '../../../store/events-port.ts';
import { type NatsCluster, startNatsCluster } from '../../../testkit/servers/nats.ts';

export const PARTITIONS = 4;
export const LEASE_MS = 3000;

export interface JudgementCluster {
  nats: NatsCluster;
  conn: ClusterConnection;
  events: EmbeddedEventStore;
  /** publishes fixes in order, as an edge does (each acknowledged by the stream before the next) */
  publish(fixes: readonly Fix[]): Promise<void>;
  /** a worker on this cluster judging against `snapshot` (CLUSTER_TICK_S 0); stopped at teardown */
  worker(id: string): Promise<Worker>;
}

export async function startJudgementCluster(
  t: ExecutionContext,
  snapshot: () => RegistrySnapshot,
): Promise<JudgementCluster> {
  const nats = await startNatsCluster();
  t.teardown(() => nats.destroy());
  const settings = {
    urls: nats.urls,
    partitions: PARTITIONS,
    replicas: 3,
    leaseMs: LEASE_MS,
    dedupeWindowMs: 600_000,
    streamMaxAgeMs: 72 * 3_600_000,
  };
  const conn = await openCluster({ ...settings, name: `${t.title} test` });
  t.teardown(() => conn.close());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-judgement-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const fixes = new EmbeddedStore({ dir });
  await fixes.open();
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const workers: Worker[] = [];
  t.teardown(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    await events.close();
    await fixes.close();
  });
  return {
    nats,
    conn,
    events,
    async publish(list) {
      for (const fix of list)
        await conn.js.publish(fixSubject(partitionOf(fix.vehicle, PARTITIONS)), JSON.stringify(fix), {
          msgID: fixMsgId(fix.device, fix.ts),
        });
    },
    async worker(id) {
      // a connection of its own, as a worker process has
      const own = await openCluster({ ...settings, name: `${t.title} ${id}` });
      t.teardown(() => own.close());
      const worker = new Worker({
        cluster: own,
        workerId: id,
        partitions: PARTITIONS,
        registry: { snapshot, onChange: () => () => undefined },
        fixes,
        events,
        leaseMs: LEASE_MS,
        checkpointMs: 300,
        tickMs: 0,
        logger: pino({ level: process.env.CLUSTER_TEST_LOG_LEVEL ?? 'silent' }),
      });
      worker.start();
      workers.push(worker);
      return worker;
    },
  };
}

export async function waitFor(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(ok)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** the violations that stand (withdrawn ones left out), an ongoing one's phase as `opened` */
export async function standingViolations(events: EventStore): Promise<string[]> {
  const out: string[] = [];
  for (const v of (await events.violations({ limit: 10_000 })).items) {
    const phase = v.phase === 'updated' ? 'opened' : v.phase;
    out.push(`${v.id} ${v.code} ${v.vehicle} ${phase} ${v.startTs} ${v.endTs ?? '-'}`);
  }
  return out.sort();
}

export async function standingTrips(events: EventStore): Promise<string[]> {
  const out: string[] = [];
  for (const tr of (await events.trips({ limit: 10_000 })).items)
    if (tr.status !== 'withdrawn') out.push(`${tr.id} ${tr.status}`);
  return out.sort();
}

/** the single-process compliance service judging the same fixes in the same order (no live ticks) */
export async function judgeInOneProcess(snapshot: RegistrySnapshot, fixes: readonly Fix[]) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-reference-'));
  try {
    const events = new EmbeddedEventStore({ dir });
    await events.open();
    const service = new ComplianceService({
      registry: { snapshot: () => snapshot, onChange: () => () => undefined },
      events,
      fixes: { track: async () => [] },
      publish: async () => undefined,
      logger: pino({ enabled: false }),
      now: () => Number.NaN,
    });
    service.eventStoreOpened();
    service.onFixes(fixes);
    await service.stop(60_000);
    const late = service.status().late;
    const result = { violations: await standingViolations(events), trips: await standingTrips(events), late };
    await events.close();
    return result;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
