import { Counter, Gauge, type Registry } from 'prom-client';
import type { EdgeStats } from './edge.ts';
import type { WorkerStats } from './partition-runner.ts';

/**
 * The figures an edge and a worker keep in memory (EdgeStats, WorkerStats), on the process's GET /metrics
 * (platform/cluster-metrics.ts). Read at scrape time, as the registry sync's are
 * (registry-sync-metrics.ts): the hot paths keep their plain increments. No labels but fixed sets of
 * values. Each process counts from its start: a partition replayed after a takeover is counted again by
 * its new owner (sum over the workers with `increase()`, which handles a restart's reset).
 */

/** a counter whose value is read from `value` at each scrape */
function countedBy(registry: Registry, name: string, help: string, value: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}

/** the edge's publishes to the fix stream, by what the stream answered */
export function registerEdgeMetrics(registry: Registry, stats: EdgeStats): void {
  new Counter({
    name: 'citywatch_edge_stream_publishes_total',
    help: 'Fixes this edge published to the fix stream, by the answer: stored, duplicate (the stream had its message id device@ts: a retransmission), failed (no acknowledgement: the device got no PUBACK either)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.labels('stored').inc(stats.published);
      this.labels('duplicate').inc(stats.duplicates);
      this.labels('failed').inc(stats.failures);
    },
  });
}

export interface WorkerFigures {
  readonly stats: WorkerStats;
  ownedPartitions(): readonly number[];
  streamPendingFixes(): number;
}

/** the worker's judging, checkpoints and partitions */
export function registerWorkerMetrics(registry: Registry, worker: WorkerFigures): void {
  const s = worker.stats;
  const counters: [string, string, () => number][] = [
    ['fixes_judged', 'Fixes this worker read from the fix stream and judged', () => s.fixesJudged],
    [
      'violation_events',
      'Violation events (every phase) this worker judged and stored, after what a batch both opened and withdrew',
      () => s.violations,
    ],
    [
      'checkpoints',
      'Partition checkpoints written (engine states and the stream sequence they cover)',
      () => s.checkpoints,
    ],
    [
      'checkpoint_conflicts',
      'Checkpoints refused because another runner wrote the partition since (it moved meanwhile): the runner starts again from the newest',
      () => s.checkpointConflicts,
    ],
    [
      'restores',
      'Partition runners started from a checkpoint (a partition taken over or restarted)',
      () => s.restored,
    ],
    [
      'late_fixes',
      "Late fixes read (at or before their unit's newest): re-judged in time order",
      () => s.lateReceived,
    ],
    ['rejudgings', "Re-judgings of late fixes that changed a unit's history", () => s.rejudgings],
    [
      'late_beyond_history',
      "Late fixes older than their unit's history reaches (BACKFILL_HISTORY_HOURS): stored, not judged",
      () => s.lateBeyondHistory,
    ],
    [
      'platform_gaps',
      "Silences the cluster's own outages voided (platform gaps: no OFFLINE charged)",
      () => s.platformGaps,
    ],
    ['ticks', 'Silence ticks run over a partition (CLUSTER_TICK_S)', () => s.ticks],
  ];
  for (const [name, help, value] of counters)
    countedBy(registry, `citywatch_worker_${name}_total`, help, value);
  new Gauge({
    name: 'citywatch_worker_partitions',
    help: 'Partitions this worker holds a lease on and judges now',
    registers: [registry],
    collect() {
      this.set(worker.ownedPartitions().length);
    },
  });
  new Gauge({
    name: 'citywatch_worker_stream_pending_fixes',
    help: "Fixes in the stream of this worker's partitions not read yet (each partition as of its last fetch): how far judging runs behind intake",
    registers: [registry],
    collect() {
      this.set(worker.streamPendingFixes());
    },
  });
}
