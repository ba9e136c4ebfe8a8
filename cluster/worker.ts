/**
 * A cluster worker: judges the partitions it holds a lease on (leases.ts), one runner per partition
 * (partition-runner.ts: restore the checkpoint, read the partition's fixes in stream order, judge them
 * as the single process does, late fixes re-judged from the units' histories, store, checkpoint).
 * The worker holds what its runners share: the judge and the compiled world (compiled again on every
 * registry change), the cluster's outages (outages.ts, read again at every lease round), the intake's
 * lag, the store writes, and the evidence queue of the single process.
 * A crash loses at most the work since the last checkpoint, which the next owner redoes from the stream:
 * same fixes, same states, same events, same ids. Nothing is acknowledged to anyone here: the stream
 * keeps every fix for CLUSTER_STREAM_MAX_AGE_H whatever the workers do.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { IntakeLag } from '../compliance/clock.ts';
import { engineFingerprint } from '../compliance/engine-state-codec.ts';
import type { EvidenceDueRow } from '../compliance/engine-state-store.ts';
import { EvidenceQueue, type EvidenceStatus } from '../compliance/evidence-queue.ts';
import type { ComplianceSource } from '../compliance/service.ts';
import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { createEngine } from '../geofence/engine.ts';
import { createJudge, type Judge } from '../geofence/judge.ts';
import type { Outage } from '../geofence/platform-gaps.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import type { World } from '../geofence/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { publishStoredEvents } from './event-feed.ts';
import { GapStore } from './gap-store.ts';
import type { ClusterConnection } from './jetstream.ts';
import { PartitionLeases } from './leases.ts';
import { OutageView } from './outages.ts';
import { PartitionRunner, type RunnerHost, type WorkerStats } from './partition-runner.ts';
import { PartitionState, type StepOutput } from './partition-state.ts';

export type { WorkerStats } from './partition-runner.ts';

export interface WorkerOptions {
  cluster: ClusterConnection;
  workerId: string;
  partitions: number;
  registry: ComplianceSource;
  /** the fix store (writes; the tracks of evidence packages) */
  fixes: Pick<FixStore, 'writeFixes' | 'track'>;
  events: Pick<EventStore, 'recordViolations' | 'recordTrips' | 'putEvidence'>;
  /** evidence store calls at once (EVIDENCE_CONCURRENCY), default 4 */
  evidenceConcurrency?: number;
  leaseMs: number;
  checkpointMs: number;
  /** how often a partition's units are judged for silence (CLUSTER_TICK_S); 0: only at the fix that ends it */
  tickMs?: number;
  /** the clock of the silence ticks (epoch ms; Date.now by default) */
  now?: () => number;
  /** fixes per batch read from a partition (bounded memory per runner) */
  batchSize?: number;
  logger: Logger;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Worker implements RunnerHost {
  readonly stats: WorkerStats = {
    fixesJudged: 0,
    violations: 0,
    checkpoints: 0,
    checkpointConflicts: 0,
    restored: 0,
    lateReceived: 0,
    rejudgings: 0,
    lateBeyondHistory: 0,
    platformGaps: 0,
    ticks: 0,
  };
  readonly logger: Logger;
  readonly cluster: ClusterConnection;
  readonly checkpoints: KV;
  readonly checkpointMs: number;
  readonly batchSize: number;
  readonly tickMs: number;
  /** how far behind its devices the intake runs (received - ts of the fixes read): not silence */
  readonly intakeLag: IntakeLag;
  private readonly judge: Judge;
  readonly fingerprint: string;
  /** the cluster's own outages (outages.ts) */
  readonly outages: OutageView;
  /** the silences they voided (gap-store.ts), listed by the API nodes */
  private readonly gaps: GapStore;
  private world: World;
  private readonly runners = new Map<number, PartitionRunner>();
  private readonly leases: PartitionLeases;
  private timer: NodeJS.Timeout | undefined;
  private rounds: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly unsubscribe: () => void;
  /**
   * closed violations' evidence packages, by the single process's queue (compliance/evidence-queue.ts:
   * one track query per vehicle batch, bounded concurrency, back-off when the store fails); its due rows
   * are the runners' (partition-state.ts), saved in their checkpoints
   */
  private readonly evidence: EvidenceQueue;

  constructor(private readonly opts: WorkerOptions) {
    this.logger = opts.logger;
    this.cluster = opts.cluster;
    this.checkpoints = opts.cluster.checkpoints;
    this.checkpointMs = opts.checkpointMs;
    this.batchSize = opts.batchSize ?? 500;
    this.tickMs = opts.tickMs ?? 0;
    this.intakeLag = new IntakeLag(opts.now ?? Date.now);
    const engine = createEngine(ALL_RULES, chinaCalendar);
    this.judge = createJudge(engine);
    this.fingerprint = engineFingerprint(engine);
    this.world = compileWorld(opts.registry.snapshot());
    this.unsubscribe = opts.registry.onChange(() => this.recompile());
    this.outages = new OutageView(opts.cluster.outages, opts.leaseMs);
    this.gaps = new GapStore(opts.cluster.gaps);
    this.evidence = new EvidenceQueue({
      source: {
        evidenceDuePage: (afterId, limit) => this.evidenceDuePage(afterId, limit),
        evidenceDueCount: () => {
          let n = 0;
          for (const r of this.runners.values()) n += r.state?.dueCount ?? 0;
          return n;
        },
      },
      fixes: opts.fixes,
      events: opts.events,
      world: () => this.world,
      maxRunning: opts.evidenceConcurrency ?? 4,
      logger: opts.logger,
    });
    this.leases = new PartitionLeases({
      leases: opts.cluster.leases,
      workers: opts.cluster.workers,
      workerId: opts.workerId,
      partitions: opts.partitions,
      handlers: {
        acquired: (p) => {
          this.logger.info({ partition: p }, 'cluster worker: partition acquired');
          this.runners.set(p, new PartitionRunner(p, this));
        },
        released: async (p) => {
          const runner = this.runners.get(p);
          this.runners.delete(p);
          await runner?.stop();
          this.logger.info({ partition: p }, 'cluster worker: partition released');
        },
      },
    });
  }

  /** partitions judged here now */
  ownedPartitions(): number[] {
    return this.leases.ownedPartitions();
  }

  /** fixes in the stream not read yet by this worker's runners (each as of its last fetch) */
  streamPendingFixes(): number {
    let n = 0;
    for (const r of this.runners.values()) n += r.pendingFixes;
    return n;
  }

  start(): void {
    // three renewals per lease time: one lost or late renewal does not lose the lease
    const every = Math.max(200, Math.floor(this.opts.leaseMs / 3));
    const round = () => {
      // the outages first: a runner started by this round judges with them
      this.rounds = this.rounds
        .then(() => (this.stopping ? undefined : this.outages.refresh()))
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'cluster worker: outages not read'))
        .then(() => (this.stopping ? undefined : this.leases.round()))
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'cluster worker: lease round failed'));
    };
    round();
    this.timer = setInterval(round, every);
    this.evidence.start();
  }

  /** the evidence packages (GET /healthz-like figures; tests) */
  evidenceStatus(): EvidenceStatus {
    return this.evidence.status();
  }

  /** a runner stored events that made evidence due */
  evidenceRowsAdded(): void {
    this.evidence.rowsCommitted();
  }

  /**
   * The packages stored since the last call leave their partitions' due rows (the next checkpoints
   * leave them out). A partition that moved meanwhile keeps its row in its checkpoint: its next owner
   * builds the package again (putEvidence: the last one put wins, the same bytes).
   */
  settleEvidence(): void {
    const done = this.evidence.takeDone();
    if (done.length === 0) return;
    for (const d of done)
      for (const r of this.runners.values()) if (r.state?.evidenceStored(d.violationId, d.body)) break;
    this.evidence.doneCommitted(done);
  }

  /** the due rows of the partitions judged here, in violation-id order after `afterId` */
  private evidenceDuePage(afterId: string, limit: number): EvidenceDueRow[] {
    const rows: [string, string][] = [];
    for (const r of this.runners.values())
      for (const row of r.state?.dueEvidence() ?? []) if (row[0] > afterId) rows.push(row);
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return rows.slice(0, limit).map(([violationId, body]) => ({ violationId, body }));
  }

  /**
   * The instant silence is judged at: the clock held back by the intake's lag (capped at 60 s), as the
   * single process's wall clock is (platform/compliance-clock.ts): a fix waiting in an overloaded edge
   * is not silence.
   */
  tickNow(): number {
    return (this.opts.now ?? Date.now)() - this.intakeLag.compensationMs();
  }

  newPartitionState(): PartitionState {
    return new PartitionState(this.judge, this.fingerprint);
  }

  currentWorld(): World {
    return this.world;
  }

  currentOutages(): readonly Outage[] {
    return this.outages.current(Date.now());
  }

  /** compiles the world again (a registry change applied from another node) */
  recompile(): void {
    try {
      this.world = compileWorld(this.opts.registry.snapshot());
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'cluster worker: could not compile the registry');
    }
  }

  /**
   * writes a judged batch: fixes, then its events, then the events to the event stream, then its
   * platform gaps to their bucket; retried
   * (idempotent writes, a duplicate window on the stream) until taken or stopped
   */
  async store(fixes: readonly Fix[], out: StepOutput, stopped: () => boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (fixes.length > 0) await this.opts.fixes.writeFixes(fixes);
        if (out.violations.length > 0) await this.opts.events.recordViolations(out.violations);
        if (out.trips.length > 0) await this.opts.events.recordTrips(out.trips);
        // stored: on the event stream for the API nodes' webhooks (event-feed.ts), before the
        // checkpoint moves past the batch
        if (out.violations.length > 0 || out.trips.length > 0)
          await publishStoredEvents(this.cluster.js, out.violations, out.trips);
        // the platform gaps, for the API nodes' outage list: keyed, so a replay puts the same ones
        if (out.gaps.length > 0 || out.gapResets.length > 0) await this.gaps.write(out.gapResets, out.gaps);
        return;
      } catch (err) {
        // stopping with the batch unwritten: the checkpoint does not cover it, the next owner redoes it
        if (stopped()) throw err;
        if (attempt % 20 === 0)
          this.logger.warn(
            { err: (err as Error).message, attempt },
            'cluster worker: store write failed; retrying',
          );
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** a clean stop: every runner checkpoints and stops, the leases are given back */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.rounds;
    this.unsubscribe();
    await this.leases.releaseAll();
    // the packages under way may finish (briefly); what is not stored is in the checkpoints
    await this.evidence.stop(Date.now() + 2000);
  }
}
