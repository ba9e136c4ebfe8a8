/**
 * One partition judged by a worker (cluster/worker.ts holds the lease and starts one per partition):
 *  1. reads the partition's checkpoint (KV citywatch_checkpoints: the judge states of its units and the
 *     stream sequence S they cover), restores them, and reads each unit's newest history segment
 *     (cluster/history-store.ts) so the history goes on where it stopped;
 *  2. reads the partition's subject of the fix stream from S + 1 with an ordered consumer (the server
 *     delivers in stream order, the client checks the sequence and recreates the consumer on a gap or
 *     a lost node) in batches;
 *  3. steps each batch through the judge as the single process does (partition-state.ts), with the
 *     cluster's outages (cluster/outages.ts); the batch's late fixes are re-judged at its end from their
 *     units' histories, as the single process's flush re-judges them; what a batch both opened and
 *     withdrew is not published (geofence/backfill.ts withoutRetracted, as a flush);
 *  4. writes the batch's fixes to the fix store and its events to the event store, and the platform gaps
 *     it found to the gap bucket (gap-store.ts), retrying until all took them (idempotent: a fix is keyed
 *     by unit and time, an event by its id and phase, a gap by its outage and id);
 *  5. hands the violations the batch closed or withdrew to the evidence queue;
 *  6. every CLUSTER_CHECKPOINT_S writes the units' changed history segments, then the checkpoint at the
 *     revision it read (KV update): a runner that lost its partition cannot overwrite its successor's
 *     checkpoint; when its own write is refused it starts again from the newest checkpoint.
 */
import type { Consumer } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { IntakeLag } from '../compliance/clock.ts';
import type { Fix } from '../core/fix.ts';
import { withoutRetracted } from '../geofence/backfill.ts';
import type { Outage } from '../geofence/platform-gaps.ts';
import type { World } from '../geofence/types.ts';
import { HistoryStore } from './history-store.ts';
import { type ClusterConnection, FIX_STREAM } from './jetstream.ts';
import { publishLiveViolations } from './live-feed.ts';
import { newStepOutput, type PartitionState, type StepOutput } from './partition-state.ts';
import { fixSubject } from './partitions.ts';

/** per-worker figures (tests, the benchmark, logs) */
export interface WorkerStats {
  fixesJudged: number;
  violations: number;
  checkpoints: number;
  /** checkpoints refused because another runner wrote since (the partition moved meanwhile) */
  checkpointConflicts: number;
  /** runners started from a checkpoint (a partition taken over or restarted) */
  restored: number;
  /** late fixes received (at or before their unit's newest) */
  lateReceived: number;
  /** re-judgings that changed a unit's history */
  rejudgings: number;
  /** late fixes older than their unit's history reaches: stored, not judged */
  lateBeyondHistory: number;
  /** silences the cluster's outages voided (platform gaps, not violations) */
  platformGaps: number;
  /** silence ticks run over a partition */
  ticks: number;
}

/** what a runner needs of its worker */
export interface RunnerHost {
  readonly logger: Logger;
  readonly cluster: ClusterConnection;
  readonly checkpoints: KV;
  readonly checkpointMs: number;
  readonly batchSize: number;
  readonly tickMs: number;
  readonly stats: WorkerStats;
  readonly intakeLag: IntakeLag;
  readonly fingerprint: string;
  newPartitionState(): PartitionState;
  currentWorld(): World;
  /** the cluster's outages to judge with now */
  currentOutages(): readonly Outage[];
  tickNow(): number;
  store(fixes: readonly Fix[], out: StepOutput, stopped: () => boolean): Promise<void>;
  evidenceRowsAdded(): void;
  settleEvidence(): void;
}

const checkpointKey = (partition: number): string => `p.${partition}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PartitionRunner {
  private stopped = false;
  private readonly done: Promise<void>;
  /** the partition's judgement in this life of the runner (its evidence due is read by the worker) */
  state: PartitionState | undefined;
  /**
   * fixes of the partition in the stream past the last one read, as the server said with that fix
   * (0 once a fetch read it to its end); the worker's citywatch_worker_stream_pending_fixes
   */
  pendingFixes = 0;

  constructor(
    readonly partition: number,
    private readonly worker: RunnerHost,
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
    } else {
      // the partition's first life (or its checkpoint deleted): every fix of it is judged from the start
      log.info({ seq: 0 }, 'cluster worker: partition has no checkpoint; judging its stream from the start');
    }
    // the units' histories as of the checkpoint; each unit's newest segment is where its next fix goes
    const history = new HistoryStore(w.cluster.history, this.partition, w.fingerprint, state.historyView());
    await history.loadNewest(state.newestFixes());
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
      const out = newStepOutput();
      try {
        const batch = await consumer.fetch({ max_messages: w.batchSize, expires: 1000 });
        let read = 0;
        for await (const m of batch) {
          read++;
          this.pendingFixes = m.info.pending;
          if (m.seq <= state.seq) continue; // already judged (a consumer recreated behind us)
          const fix = m.json<Fix>();
          // the world and the outages as of this fix: a fetch waits up to its expiry for messages,
          // and a registry change applied meanwhile holds for every fix that arrives after it; a fix
          // an edge took after recording an outage is judged with it (or with the outage under way)
          state.step(fix, m.seq, w.currentWorld(), out, w.currentOutages());
          fixes.push(fix);
        }
        caughtUp = read < w.batchSize;
        if (read === 0) this.pendingFixes = 0;
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
      const outages = w.currentOutages();
      await this.rejudgeLate(state, history, outages, out);
      // live silence: only while this runner reads the stream to its end (a partition behind, or a
      // stream out of reach, is the platform's delay, not the devices' silence)
      if (w.tickMs > 0 && caughtUp && Date.now() - lastTickAt >= w.tickMs) {
        lastTickAt = Date.now();
        state.tick(w.tickNow(), w.currentWorld(), out, w.currentOutages());
        w.stats.ticks++;
      }
      if (
        fixes.length > 0 ||
        out.violations.length > 0 ||
        out.trips.length > 0 ||
        out.gaps.length > 0 ||
        out.gapResets.length > 0
      ) {
        // a flush's worth: what it opened and withdrew at once is not published (as the single process)
        const published = { ...out, ...withoutRetracted(out.violations, out.trips) };
        w.intakeLag.observe(fixes);
        await w.store(fixes, published, () => this.stopped);
        // stored: to the API nodes' live streams (cluster/live-feed.ts), and the evidence of what
        // closed is due (the batch's fixes, the track's end, are in the fix store now)
        if (published.violations.length > 0) {
          publishLiveViolations(w.cluster, published.violations);
          if (state.evidenceDue(published.violations) > 0) w.evidenceRowsAdded();
        }
        w.stats.fixesJudged += fixes.length;
        w.stats.violations += published.violations.length;
      }
      if (out.gaps.length > 0) {
        w.stats.platformGaps += out.gaps.length;
        log.info(
          { gaps: out.gaps.map((g) => g.id) },
          "cluster worker: silences in the cluster's own outage: platform gaps, not violations (stored)",
        );
      }
      // packages stored since: no longer due, so the next checkpoint leaves them out
      w.settleEvidence();
      const due = Date.now() - lastCheckpointAt >= w.checkpointMs;
      if ((due || this.stopped) && state.seq > checkpointedSeq) {
        // the history first: it always reaches the checkpoint's sequence
        await history.write(state.allHistories(), state.seq);
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
        state.checkpointed();
        lastCheckpointAt = Date.now();
        w.stats.checkpoints++;
      }
    }
  }

  /** the batch's late fixes, unit by unit, each re-judged once its whole history is loaded */
  private async rejudgeLate(
    state: PartitionState,
    history: HistoryStore,
    outages: readonly Outage[],
    out: StepOutput,
  ): Promise<void> {
    const late = state.takeLate();
    if (late.size === 0) return;
    const stats = this.worker.stats;
    for (const [unit, fixes] of late) {
      stats.lateReceived += fixes.length;
      await history.loadAll(state.historyOf(unit));
      const r = state.rejudge(unit, fixes, this.worker.currentWorld(), out, outages);
      if (r.rejudged) stats.rejudgings++;
      stats.lateBeyondHistory += r.beyondHistory;
    }
  }
}
