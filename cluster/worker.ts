/**
 * A cluster worker: judges the partitions it holds a lease on (leases.ts). For each one a runner
 *  1. reads the partition's checkpoint (KV citywatch_checkpoints: the judge states of its units, i.e.
 *     engine, trip tracker and ledger, and the stream sequence S they cover) and restores them;
 *  2. reads the partition's subject of the fix stream from S + 1 with an ordered consumer (the server
 *     delivers in stream order, the client checks the sequence and recreates the consumer on a gap or
 *     a lost node) in batches;
 *  3. steps each batch through the judge as the single process does (partition-state.ts), writes the batch's fixes to the fix
 *     store and its events to the event store, retrying until both took them (both are idempotent: a
 *     fix is keyed by unit and time, an event by its id and phase, so a batch written again after a
 *     crash duplicates nothing);
 *  4. hands the violations the batch closed or withdrew to the evidence queue (the single process's,
 *     compliance/evidence-queue.ts), which builds and stores their sealed packages from the fix store's
 *     track; the ones not stored yet are part of the checkpoint, so the next owner builds them;
 *  5. every CLUSTER_CHECKPOINT_S writes the checkpoint at the revision it read (KV update): a runner
 *     that lost its partition cannot overwrite its successor's checkpoint; when its own write is refused
 *     it starts again from the newest checkpoint.
 * A crash loses at most the work since the last checkpoint, which the next owner redoes from the stream:
 * same fixes, same states, same events, same ids. Nothing is acknowledged to anyone here: the stream
 * keeps every fix for CLUSTER_STREAM_MAX_AGE_H whatever the workers do.
 */
import type { Consumer } from '@nats-io/jetstream';
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
import { ALL_RULES } from '../geofence/rules/index.ts';
import type { World } from '../geofence/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { publishStoredEvents } from './event-feed.ts';
import { type ClusterConnection, FIX_STREAM } from './jetstream.ts';
import { PartitionLeases } from './leases.ts';
import { publishLiveViolations } from './live-feed.ts';
import { PartitionState, type StepOutput } from './partition-state.ts';
import { fixSubject } from './partitions.ts';

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

/** per-worker figures (tests, the benchmark, logs) */
export interface WorkerStats {
  fixesJudged: number;
  violations: number;
  checkpoints: number;
  /** checkpoints refused because another runner wrote since (the partition moved meanwhile) */
  checkpointConflicts: number;
  /** runners started from a checkpoint (a partition taken over or restarted) */
  restored: number;
  /** late fixes stored but not judged (partition-state.ts: no re-judging in the cluster yet) */
  lateUnjudged: number;
  /** silence ticks run over a partition */
  ticks: number;
}

const checkpointKey = (partition: number): string => `p.${partition}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class PartitionRunner {
  private stopped = false;
  private readonly done: Promise<void>;
  /** the partition's judgement in this life of the runner (its evidence due is read by the worker) */
  state: PartitionState | undefined;

  constructor(
    readonly partition: number,
    private readonly worker: Worker,
  ) {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(): Promise<void> {
    const log = this.worker.logger.child({ partition: this.partition });
    while (!this.stopped) {
      try {
        await this.judge(log);
      } catch (err) {
        if (this.stopped) break;
        log.warn({ err: (err as Error).message }, 'cluster worker: partition runner failed; starting again');
        await sleep(500);
      }
    }
  }

  /** one life of the runner: restore, then read and judge until stopped or a checkpoint is refused */
  private async judge(log: Logger): Promise<void> {
    const w = this.worker;
    const state = w.newPartitionState();
    this.state = state;
    const key = checkpointKey(this.partition);
    const entry = await w.checkpoints.get(key);
    // revision 0: no checkpoint yet (the first write is a create)
    let revision = 0;
    if (entry !== null && entry.operation === 'PUT' && entry.length > 0) {
      revision = entry.revision;
      if (state.restore(entry.value).stale)
        log.warn(
          { seq: state.seq },
          'cluster worker: checkpoint of another engine version; units start afresh',
        );
      w.stats.restored++;
      log.info(
        { seq: state.seq, units: state.units },
        'cluster worker: partition restored from its checkpoint',
      );
    }
    let checkpointedSeq = state.seq;
    let lastCheckpointAt = Date.now();
    let lastTickAt = Date.now();
    /** the last fetch read the partition to its end (a fix waiting in the stream is not silence) */
    let caughtUp = false;
    let consumer: Consumer | undefined;
    while (!this.stopped) {
      consumer ??= await w.cluster.js.consumers.get(FIX_STREAM, {
        // one subject as a string: a list needs nats-server 2.10, Debian 12 has 2.9
        filter_subjects: fixSubject(this.partition),
        opt_start_seq: state.seq + 1,
        // a consumer left behind (by a runner that died or was restarted) is removed by the server
        inactive_threshold: 30_000,
      });
      const fixes: Fix[] = [];
      const out: StepOutput = { violations: [], trips: [], late: 0 };
      try {
        const batch = await consumer.fetch({ max_messages: w.batchSize, expires: 1000 });
        let read = 0;
        for await (const m of batch) {
          read++;
          if (m.seq <= state.seq) continue; // already judged (a consumer recreated behind us)
          const fix = m.json<Fix>();
          // the world as of this fix: a fetch waits up to its expiry for messages, and a registry
          // change applied meanwhile holds for every fix that arrives after it
          state.step(fix, m.seq, w.currentWorld(), out);
          fixes.push(fix);
        }
        caughtUp = read < w.batchSize;
      } catch (err) {
        caughtUp = false;
        // a node lost under the consumer, a timeout: read again from the last judged sequence
        log.debug({ err: (err as Error).message }, 'cluster worker: fetch failed; recreating the consumer');
        consumer = undefined;
        if (fixes.length === 0) {
          await sleep(250);
          continue;
        }
      }
      // live silence: only while this runner reads the stream to its end (a partition behind, or a
      // stream out of reach, is the platform's delay, not the devices' silence)
      if (w.tickMs > 0 && caughtUp && Date.now() - lastTickAt >= w.tickMs) {
        lastTickAt = Date.now();
        state.tick(w.tickNow(), w.currentWorld(), out);
        w.stats.ticks++;
      }
      if (fixes.length > 0 || out.violations.length > 0) {
        w.intakeLag.observe(fixes);
        await w.store(fixes, out, () => this.stopped);
        // stored: to the API nodes' live streams (cluster/live-feed.ts), and the evidence of what
        // closed is due (the batch's fixes, the track's end, are in the fix store now)
        if (out.violations.length > 0) {
          publishLiveViolations(w.cluster, out.violations);
          if (state.evidenceDue(out.violations) > 0) w.evidenceRowsAdded();
        }
        w.stats.fixesJudged += fixes.length;
        w.stats.violations += out.violations.length;
        w.stats.lateUnjudged += out.late;
      }
      // packages stored since: no longer due, so the next checkpoint leaves them out
      w.settleEvidence();
      const due = Date.now() - lastCheckpointAt >= w.checkpointMs;
      if ((due || this.stopped) && state.seq > checkpointedSeq) {
        const value = state.encode();
        try {
          revision =
            revision === 0
              ? await w.checkpoints.create(key, value)
              : await w.checkpoints.update(key, value, revision);
        } catch (err) {
          w.stats.checkpointConflicts++;
          log.warn(
            { err: (err as Error).message, seq: state.seq },
            'cluster worker: checkpoint refused (written by another runner since); starting again from it',
          );
          return;
        }
        checkpointedSeq = state.seq;
        lastCheckpointAt = Date.now();
        w.stats.checkpoints++;
      }
    }
  }
}

export class Worker {
  readonly stats: WorkerStats = {
    fixesJudged: 0,
    violations: 0,
    checkpoints: 0,
    checkpointConflicts: 0,
    restored: 0,
    lateUnjudged: 0,
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
  private readonly fingerprint: string;
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

  start(): void {
    // three renewals per lease time: one lost or late renewal does not lose the lease
    const every = Math.max(200, Math.floor(this.opts.leaseMs / 3));
    const round = () => {
      this.rounds = this.rounds
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

  /** compiles the world again (a registry change applied from another node) */
  recompile(): void {
    try {
      this.world = compileWorld(this.opts.registry.snapshot());
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'cluster worker: could not compile the registry');
    }
  }

  /**
   * writes a judged batch: fixes, then its events, then the events to the event stream; retried
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
