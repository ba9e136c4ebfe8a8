import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import { LiveAlerts } from './alerts.ts';
import { CommitCycle } from './commit-cycle.ts';
import { EngineDriver } from './engine-driver.ts';
import { EngineStateStore } from './engine-state-store.ts';
import { EventOutbox } from './event-outbox.ts';
import { EvidenceQueue } from './evidence-queue.ts';
import { JudgedGate } from './judged-gate.ts';
import { type ComplianceMetrics, createComplianceMetrics, firmKindOf, STEP_SAMPLE_EVERY } from './metrics.ts';
import { type PlatformOutageRecord, PlatformOutages } from './platform-outages.ts';
import type { ComplianceServiceOptions, ComplianceStatus, PersistStats } from './service-options.ts';
import { restoreService } from './service-restore.ts';
import { startServiceTimers } from './service-timers.ts';
import { drainUntil } from './shutdown-drain.ts';

export { alertTopic } from './alerts.ts';
export type { LateFigures } from './late-fixes.ts';
export type {
  ComplianceServiceOptions,
  ComplianceSource,
  ComplianceStatus,
  PersistStats,
} from './service-options.ts';

/**
 * The imperative shell around the pure engine (geofence/engine.ts), a coordinator of one module per job:
 *  - driving the engine: the compiled world, the per-vehicle engine and trip states, late fixes, what
 *    changed since the last commit: compliance/engine-driver.ts,
 *  - every violation event as JSON on MQTT `alerts/{firm}/{vehicle}` (QoS 1) and on the in-process live
 *    bus (`bus`, events 'violation' and 'trip'): compliance/alerts.ts,
 *  - into the EventStore, batched, retried until stored (never dropped): compliance/event-outbox.ts,
 *  - for every closed violation, the evidence package, once the fix store holds the track:
 *    compliance/evidence-queue.ts (bounded concurrency, durable queue, one track query per vehicle batch),
 *  - the pump's gate (a fix's checkpoint moves once its judgement is committed): compliance/judged-gate.ts,
 *  - what a start reads back (states, outbox counts, outages): compliance/service-restore.ts,
 *  - the flush and the silence tick on the judgement clock: compliance/service-timers.ts,
 *  - the last writes to the EventStore at shutdown, bounded: compliance/shutdown-drain.ts.
 * Its options and status are declared in compliance/service-options.ts.
 *
 * Restarts and outages (with `state`, compliance/engine-state-store.ts): every flush commits, in ONE
 * SQLite transaction, the states of the vehicles that changed and the events they produced (the
 * outbox); events leave the outbox once the EventStore accepted them. At construction the states and
 * the outbox are read back (the outbox and the due evidence page by page, as the store takes them), so
 * an open violation is closed by the first fix after a restart (same id), a trip in progress completes,
 * and events the EventStore never got are replayed (its writes are idempotent: a replay duplicates
 * nothing). The hot path (onFixes) only marks vehicles dirty.
 * A crash loses no judgement either: the store pump moves the spool's checkpoint only past fixes whose
 * judgement is committed (`judgedMark` / `whenJudged`), and at a start the fixes after that checkpoint
 * are handed to `onFixes` again (`replay`); those already judged are found in the history and skipped.
 *
 * Events are published (MQTT alerts, the live bus, the outbox) once the commit that produced them is
 * done, a flush's worth at a time, and a violation opened and withdrawn within one flush is not
 * published at all (geofence/backfill.ts withoutRetracted).
 *
 * Late fixes (issue 17: blind-area backfill arriving after the live fix; geofence/backfill.ts): a fix at
 * or before its vehicle's newest is held until the next flush, which re-judges the vehicle from the
 * newest checkpoint before it, inside the commit's transaction, and publishes the difference
 * (withdrawn, opened with true times, updated). The history it reads (compliance/backfill-history.ts) is
 * written at every commit and kept for `backfillHorizonMs` (compliance/late-fixes.ts).
 *
 * The platform's own outages (issue 10 item 6; compliance/platform-outages.ts): the instant of the last
 * commit before a start (its judgement clock) opens a `stopped` outage that ends with the restart grace;
 * an intake behind by more than the clock can hold back opens a `behind` one. Silence verdicts they
 * overlap are platform gaps, recorded beside the outage, never violations (geofence/platform-gaps.ts).
 */

export class ComplianceService {
  /** live bus: 'violation' (ViolationEvent), 'trip' (TripEvent) */
  readonly bus = new EventEmitter();
  private readonly now: () => number;
  /** the engine, its per-vehicle states and what they produced since the last commit */
  private readonly driver: EngineDriver;
  private outages = new PlatformOutages([]);
  /** the pump's gate: a delivery is judged once the commit covering it is done */
  private readonly gate = new JudgedGate();
  /** the judgement clock's instant of the last commit before this start (the platform was down since) */
  private downSince: number | undefined;
  /** committed events on their way to the EventStore */
  private readonly outbox: EventOutbox;
  /** closed violations' evidence packages */
  private readonly evidence: EvidenceQueue;
  /** MQTT alerts and the live bus, after the commit */
  private readonly alerts: LiveAlerts;
  private readonly state: EngineStateStore;
  /** wall clock: the end of the restart grace (the stopped outage ends at the first tick after it) */
  private graceUntil = 0;
  /** judgement clock: the instant of the last tick */
  private lastTickAt = Number.NEGATIVE_INFINITY;
  private eventStoreOpen = false;
  /** the commit of each flush: states, outbox, evidence, outages in one transaction */
  private readonly commits: CommitCycle;
  /** stops the flush and tick timers (set by start) */
  private stopTimers: (() => void) | undefined;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly metrics: ComplianceMetrics | undefined;
  /** fixes judged, for sampling the step time */
  private stepped = 0;

  constructor(private readonly opts: ComplianceServiceOptions) {
    this.driver = new EngineDriver(opts.registry, opts.calendar ?? chinaCalendar, opts.logger);
    this.now = opts.now ?? Date.now;
    this.bus.setMaxListeners(0);
    this.state = opts.state ?? new EngineStateStore({ file: ':memory:' });
    this.outbox = new EventOutbox({
      events: opts.events,
      pages: this.state,
      logger: opts.logger,
      batchSize: opts.batchSize ?? 500,
    });
    this.evidence = new EvidenceQueue({
      source: this.state,
      fixes: opts.fixes,
      events: opts.events,
      world: () => this.driver.currentWorld(),
      ...(opts.fixProgress ? { fixProgress: opts.fixProgress } : {}),
      maxRunning: opts.evidenceConcurrency ?? 4,
      logger: opts.logger,
    });
    this.alerts = new LiveAlerts({
      bus: this.bus,
      publish: opts.publish,
      logger: opts.logger,
      opened: (event) => {
        const v = event.violation;
        this.metrics?.violations.labels(v.code, firmKindOf(this.driver.kindOf(v.vehicle))).inc();
      },
    });
    // the saved states, the outbox and the evidence still to build (compliance/service-restore.ts)
    ({ outages: this.outages, downSince: this.downSince } = restoreService(this.state, {
      driver: this.driver,
      outbox: this.outbox,
      horizonMs: this.horizonMs(),
      logger: opts.logger,
    }));
    this.commits = new CommitCycle({
      store: this.state,
      driver: this.driver,
      outbox: this.outbox,
      evidence: this.evidence,
      gate: this.gate,
      outages: () => this.outages,
      now: this.now,
      lastTickAt: () => this.lastTickAt,
      horizonMs: this.horizonMs(),
      logger: opts.logger,
      publish: (violations, trips, seqs) => this.publish(violations, trips, seqs),
    });
    this.unsubscribe = opts.registry.onChange(() => this.recompile());
    this.metrics = opts.metrics ? createComplianceMetrics(opts.metrics, this) : undefined;
  }

  /** Cost of saving the engine state (benchmark, diagnostics). */
  get persistStats(): PersistStats {
    return this.commits.stats;
  }

  /** Violations opened and not closed, by code (compliance/engine-driver.ts). */
  openViolationsByCode(): Map<string, number> {
    return this.driver.openViolationsByCode();
  }

  /**
   * Starts the flush timer (commits the engine state; writes to the EventStore once it is open) and the
   * silence tick. Independent of the EventStore: the state is saved while it is unreachable.
   */
  start(): void {
    this.graceUntil = Date.now() + (this.opts.restoreGraceMs ?? 120_000);
    // the platform was not running since its last commit: silence in that time is the platform's
    this.outages.started(this.downSince);
    const clockAtStart = this.now();
    if (Number.isFinite(clockAtStart)) this.lastTickAt = clockAtStart;
    this.stopTimers = startServiceTimers({
      flushMs: this.opts.flushIntervalMs ?? 200,
      tickMs: this.opts.tickIntervalMs ?? 5000,
      now: this.now,
      lastTickAt: () => this.lastTickAt,
      flush: () => void this.flush(),
      tick: () => this.tick(),
    });
  }

  /** The EventStore is open: queued events (restored ones included) are written from now on. */
  eventStoreOpened(): void {
    if (this.stopped) return;
    this.eventStoreOpen = true;
    this.evidence.start();
    void this.flush();
  }

  /** the world violations are currently judged against */
  currentWorld(): World {
    return this.driver.currentWorld();
  }

  recompile(): void {
    this.driver.recompile();
  }

  /** Accepted fixes, in order, after they are durable (IngestCore.onFixes). */
  onFixes(fixes: readonly Fix[]): void {
    if (this.stopped) return;
    this.gate.delivery();
    const timed = this.metrics?.stepSeconds;
    for (const fix of fixes) {
      try {
        // one fix in STEP_SAMPLE_EVERY is timed: two clock reads per fix would cost more than some steps
        if (timed !== undefined && (++this.stepped & (STEP_SAMPLE_EVERY - 1)) === 0) {
          const t0 = performance.now();
          this.driver.step(fix, this.outages.current());
          timed.observe((performance.now() - t0) / 1000);
        } else this.driver.step(fix, this.outages.current());
      } catch (err) {
        this.opts.logger.error(
          { err: (err as Error).message, vehicle: fix.vehicle, ts: fix.ts },
          'compliance: engine step failed',
        );
      }
    }
  }

  /** the judgement clock's current instant (diagnostics, tests; NaN when it has no time yet) */
  clockNow(): number {
    return this.now();
  }

  /** silence detection for every known vehicle, at the judgement clock's instant */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    if (!Number.isFinite(now)) return;
    this.lastTickAt = now;
    const t0 = performance.now();
    if (Date.now() >= this.graceUntil) this.outages.resumed(now);
    this.outages.observeLag(this.opts.behindSince?.(), now);
    this.driver.tick(now, this.outages.current());
    this.metrics?.tickSeconds.observe((performance.now() - t0) / 1000);
  }

  private horizonMs(): number {
    return this.opts.backfillHorizonMs ?? 7 * 86_400_000;
  }

  /** Commits what changed since the last commit, then publishes it (compliance/commit-cycle.ts). */
  private persist(): void {
    this.commits.run();
  }

  /** Publishes what a commit produced and hands it to the outbox (its seqs: violations first). */
  private publish(
    violations: readonly ViolationEvent[],
    trips: readonly TripEvent[],
    seqs: readonly number[] | undefined,
  ): void {
    this.outbox.add(violations, trips, seqs);
    this.driver.handedOver();
    for (const event of violations) this.alerts.violation(event);
    for (const event of trips) this.alerts.trip(event);
  }

  /** how many deliveries (onFixes calls) so far: the pump notes it when it reads a batch */
  judgedMark(): number {
    return this.gate.mark();
  }

  /**
   * Resolves once the judgement of the first `mark` deliveries is committed (or could not be: a failed
   * commit does not hold the pump). The pump moves the spool's checkpoint only then, so a crash never
   * leaves a fix stored but not judged: the fixes after the checkpoint are replayed at the next start.
   */
  whenJudged(mark: number): Promise<void> {
    if (this.gate.covers(mark) || this.stopped) return Promise.resolve();
    // commit now rather than wait for the flush timer (unref'd: a stopping process must not hang on it)
    this.persist();
    return this.gate.wait(mark);
  }

  /**
   * At a start, before intake: the fixes the spool holds past the pump's checkpoint, judged again.
   * Those judged before the crash are in the history (nothing to do); the others are judged now, in
   * time order (a commit per batch keeps memory bounded).
   */
  async replay(batches: AsyncIterable<Fix[]>): Promise<number> {
    let n = 0;
    for await (const fixes of batches) {
      this.onFixes(fixes);
      this.persist();
      n += fixes.length;
    }
    return n;
  }

  /** The platform's outages kept (within the backfill horizon), each with the gaps it voided. */
  outageRecords(gapLimit: number): PlatformOutageRecord[] {
    const store = this.state;
    return this.outages.all().map((o) => {
      const g = store.isOpen ? store.history().gapsOf(o.start, gapLimit) : { gaps: [], count: 0 };
      return { ...o, gaps: g.count, gapList: g.gaps };
    });
  }

  /**
   * Commits the engine state (always), then writes the queued events to the EventStore once it is
   * open; on failure they stay queued (in order, and in the outbox) for the next try.
   */
  flush(): Promise<void> {
    this.persist();
    if (!this.eventStoreOpen) return Promise.resolve();
    return this.outbox.flush(this.stopped);
  }

  status(): ComplianceStatus {
    const { skippedLate, sensorGlitches, outlierFixes } = this.driver.figures();
    const fresh = this.driver.freshCounts;
    const outage = this.outages.all().find((o) => o.end === Number.POSITIVE_INFINITY);
    const evidence = this.evidence.status();
    const lastError = this.outbox.error;
    return {
      queuedViolations: this.outbox.pendingViolations + fresh.violations,
      queuedTrips: this.outbox.pendingTrips + fresh.trips,
      outbox: this.outbox.durablePending,
      pendingEvidence: evidence.due,
      evidence,
      storeOk: this.outbox.ok,
      ...(lastError ? { lastError } : {}),
      stateSaved: this.commits.saved,
      ...(this.commits.error ? { stateError: this.commits.error } : {}),
      vehicles: this.driver.vehicles,
      skippedLate,
      sensorGlitches,
      outlierFixes,
      late: { ...this.driver.late.figures },
      platformGaps: this.commits.platformGaps,
      ...(outage ? { outage } : {}),
      lastTickAt: this.lastTickAt,
    };
  }

  /**
   * Stops the timers, commits the engine state first (nothing judged is lost whatever follows), lets
   * the evidence jobs under way finish (half the budget at most; the others stay due), writes the
   * queues to the EventStore (bounded), commits the acknowledgements and closes the state store. What
   * the budget did not cover stays in the outbox and the due evidence, for the next start.
   */
  async stop(budgetMs = 5000): Promise<{ events: number; evidenceDue: number }> {
    if (this.stopped) return { events: 0, evidenceDue: 0 };
    const deadline = Date.now() + budgetMs;
    this.unsubscribe();
    this.stopTimers?.();
    this.persist();
    // a pump waiting for judgements must not wait for a service that has stopped judging
    this.gate.releaseAll();
    // The budget timers are ref'd: once the servers are closed they are what keeps the process alive
    // (the jobs' own timers are unref'd), else the loop empties and the process quits mid-stop.
    await this.evidence.stop(Date.now() + budgetMs / 2);
    this.stopped = true;
    const queued = () => this.outbox.pendingViolations + this.outbox.pendingTrips;
    // a hung EventStore must not hold the shutdown: what is not written stays in the outbox
    if (this.eventStoreOpen) await drainUntil(queued, () => this.flush(), deadline);
    this.persist();
    const left = queued();
    const evidence = this.evidence.status();
    if (left > 0 || evidence.due > 0)
      this.opts.logger.warn(
        { events: left, evidence: evidence.due, durable: this.state.isOpen && this.commits.saved },
        'compliance: events and evidence not stored at shutdown; kept in the outbox for the next start',
      );
    this.state.close();
    this.bus.removeAllListeners();
    return { events: left, evidenceDue: evidence.due };
  }
}
