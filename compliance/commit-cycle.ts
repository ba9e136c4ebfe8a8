import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { CommitWork, EngineDriver } from './engine-driver.ts';
import type { EngineStateStore } from './engine-state-store.ts';
import type { EventOutbox } from './event-outbox.ts';
import type { EvidenceQueue } from './evidence-queue.ts';
import type { JudgedGate } from './judged-gate.ts';
import type { PlatformOutages } from './platform-outages.ts';
import type { PersistStats } from './service-options.ts';

/** a commit at least this often (wall ms), to keep the saved `aliveAt` fresh when nothing happens */
const ALIVE_EVERY_MS = 5_000;

/** The parts a commit ties together (compliance/service.ts owns them). */
export interface CommitParts {
  store: EngineStateStore;
  driver: EngineDriver;
  outbox: EventOutbox;
  evidence: EvidenceQueue;
  gate: JudgedGate;
  /** the platform's outages (read at each commit: the service replaces them at a restore) */
  outages: () => PlatformOutages;
  /** the judgement clock, and its instant of the last tick */
  now: () => number;
  lastTickAt: () => number;
  /** how far back the history is kept (wall ms) */
  horizonMs: number;
  logger: Logger;
  /** hands what a commit produced to the outbox and the live consumers (seqs undefined: not saved) */
  publish: (
    violations: readonly ViolationEvent[],
    trips: readonly TripEvent[],
    seqs: readonly number[] | undefined,
  ) => void;
}

/**
 * The commit of the compliance service, run once per flush (and when the pump waits for a judgement):
 * the engine driver's work, the outbox's and the evidence queue's acknowledgements, the platform's
 * outages, in one SQLite transaction (compliance/engine-state-store.ts); then the events are published.
 * Keeps whether the state is being saved, its cost (`stats`) and the platform gaps committed.
 */
export class CommitCycle {
  /** false while the engine state cannot be saved (events then wait in memory only) */
  saved = true;
  error: string | undefined;
  private failures = 0;
  /** wall clock of the last commit (one every ALIVE_EVERY_MS at least: `aliveAt` stays fresh) */
  private lastCommitAt = 0;
  /** silences the platform's outages voided, committed since the start */
  platformGaps = 0;
  readonly stats: PersistStats = {
    commits: 0,
    vehiclesSaved: 0,
    eventsSaved: 0,
    totalMs: 0,
    maxMs: 0,
  };

  constructor(private readonly parts: CommitParts) {}

  /**
   * Commits what changed since the last commit in one transaction: the history of the fixes judged
   * since (and the re-judging of the vehicles with late fixes, which reads it back), the dirty states,
   * the new events (outbox), the evidence now due, the outbox and evidence rows the stores took
   * meanwhile, the platform's outages and gaps. Then publishes the events. Synchronous: run once per
   * flush. When the commit fails (disk full, ...) the events of in-order fixes go on to the EventStore
   * and the live consumers from memory (delivery matters more than crash safety), the states stay dirty,
   * the evidence waits for the next try (its packages are built from committed rows only), and so do
   * the history and the late fixes.
   */
  run(): void {
    const { store, driver, outbox, evidence, gate } = this.parts;
    const outagesNow = this.parts.outages();
    const through = gate.mark();
    const acked = outbox.takeAcked();
    const evidenceDone = evidence.takeDone();
    const hasWork =
      driver.changed ||
      acked.length > 0 ||
      evidenceDone.length > 0 ||
      // the instant a start after a crash takes the platform to have been down since stays fresh
      Date.now() - this.lastCommitAt >= ALIVE_EVERY_MS;
    if (!hasWork || !store.isOpen) {
      outbox.ackedNotCommitted(acked);
      evidence.doneNotCommitted(evidenceDone);
      gate.judged(through);
      return;
    }
    const t0 = performance.now();
    const outages = outagesNow.takeChanged();
    let work: CommitWork | undefined;
    let seqs: number[];
    try {
      seqs = store.commit((history) => {
        const now = this.parts.now();
        const lastTickAt = this.parts.lastTickAt();
        work = driver.commitWork(history, {
          outages: outagesNow.current(),
          changedOutages: outages,
          ...(Number.isFinite(lastTickAt) ? { tickedTo: lastTickAt } : {}),
          // the judgement clock now: a start after this commit knows the platform was up until here
          aliveAt: Number.isFinite(now) ? now : lastTickAt,
          cutoff: Date.now() - this.parts.horizonMs,
          acked,
          evidenceDone,
        });
        return work.batch;
      });
    } catch (err) {
      this.saved = false;
      this.error = (err as Error).message;
      this.failures++;
      if (this.failures <= 3 || this.failures % 50 === 0)
        this.parts.logger.error(
          { err: this.error, failures: this.failures, file: store.file },
          'compliance: could not save the engine state; events go on from memory',
        );
      outbox.ackedNotCommitted(acked);
      evidence.doneNotCommitted(evidenceDone);
      outagesNow.notSaved(outages);
      const { violations, trips } = driver.notCommitted();
      this.parts.publish(violations, trips, undefined);
      gate.judged(through);
      return;
    }
    const done = work!;
    this.lastCommitAt = Date.now();
    this.platformGaps += done.gaps;
    // the commit holds them: apply the re-judged states and let the history and the late fixes go
    driver.committed(done);
    const newEvidence = done.batch.evidenceDue.length > 0;
    this.parts.publish(done.violations, done.trips, seqs);
    evidence.doneCommitted(evidenceDone);
    if (newEvidence) evidence.rowsCommitted();
    gate.judged(through);
    if (!this.saved) this.parts.logger.info('compliance: engine state saved again');
    this.saved = true;
    this.error = undefined;
    this.failures = 0;
    const ms = performance.now() - t0;
    const ps = this.stats;
    ps.commits++;
    ps.vehiclesSaved += done.batch.states.length;
    ps.eventsSaved += done.batch.outbox.length;
    ps.totalMs += ms;
    if (ms > ps.maxMs) ps.maxMs = ms;
  }
}
