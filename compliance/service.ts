import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Fix } from '../core/fix.ts';
import { withoutRetracted } from '../geofence/backfill.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { type Calendar, createEngine, type Engine } from '../geofence/engine.ts';
import { createJudge, type Judge, type JudgeState, newestStepped } from '../geofence/judge.ts';
import type { RegistrySnapshot } from '../geofence/model.ts';
import type { PlatformGap } from '../geofence/platform-gaps.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import type { PlatformOutage, SqliteHistory } from './backfill-history.ts';
import {
  decodeJudgeExtras,
  decodeTripState,
  decodeVehicleState,
  encodeJudgeExtras,
  encodeState,
  engineFingerprint,
} from './engine-state-codec.ts';
import {
  EngineStateStore,
  type EvidenceDone,
  type EvidenceDueRow,
  type SavedVehicle,
  type StateBatch,
} from './engine-state-store.ts';
import { EventOutbox } from './event-outbox.ts';
import { EvidenceQueue, type EvidenceStatus, type FixProgress } from './evidence-queue.ts';
import { type LateFigures, LateFixes, type Rejudgings } from './late-fixes.ts';
import { type ComplianceMetrics, createComplianceMetrics, firmKindOf, STEP_SAMPLE_EVERY } from './metrics.ts';
import { type PlatformOutageRecord, PlatformOutages } from './platform-outages.ts';

/**
 * The imperative shell around the pure engine (geofence/engine.ts): keeps the compiled world (recompiled
 * on every registry change), the per-vehicle engine and trip states, and fans the engine's output out:
 *  - every violation event as JSON on MQTT `alerts/{firm}/{vehicle}` (QoS 1),
 *  - on the in-process live bus (`bus`, events 'violation' and 'trip'),
 *  - into the EventStore, batched, retried until stored (never dropped): compliance/event-outbox.ts,
 *  - for every closed violation, the evidence package, once the fix store holds the track:
 *    compliance/evidence-queue.ts (bounded concurrency, durable queue, one track query per vehicle batch).
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

export interface ComplianceSource {
  snapshot(): RegistrySnapshot;
  onChange(listener: () => void): () => void;
}

export interface ComplianceServiceOptions {
  registry: ComplianceSource;
  events: EventStore;
  /** the fix store (evidence tracks) */
  fixes: Pick<FixStore, 'track'>;
  /** QoS 1 publish of alerts; rejections are logged */
  publish: (topic: string, payload: string) => Promise<void>;
  /** how far the fix store has the accepted fixes (spool counts): evidence waits for its track */
  fixProgress?: () => FixProgress;
  logger: Logger;
  calendar?: Calendar;
  /**
   * the judgement clock: the instant silence (OFFLINE) is measured against at each tick. Default: the
   * wall clock; compliance/clock.ts has the fleet clock for sped-up simulations and replays. A
   * non-finite value (a fleet clock before its first fix) skips the tick. Restart grace and the
   * recompile rate limit stay on the wall clock: they are about the platform's own downtime and CPU.
   */
  now?: () => number;
  flushIntervalMs?: number;
  /** time between silence ticks, on the judgement clock (default 5000: 5 s of fleet time in a 60x run) */
  tickIntervalMs?: number;
  /** records per EventStore write */
  batchSize?: number;
  /** evidence store calls at once (EVIDENCE_CONCURRENCY), default 4 */
  evidenceConcurrency?: number;
  /**
   * durable engine state and outbox; opened (and read back) by the constructor, closed by stop().
   * Without it an in-memory one is used: everything is lost at a restart.
   */
  state?: EngineStateStore;
  /**
   * after a restart, how long the platform's `stopped` outage lasts past the start (devices reconnect
   * and backfill meanwhile; their silence until then is the platform's). Default 120 s (wall time).
   */
  restoreGraceMs?: number;
  /** registry for citywatch_violations_*, citywatch_engine_* (compliance/metrics.ts) */
  metrics?: MetricsRegistry;
  /** how far back late fixes are re-judged (BACKFILL_HISTORY_HOURS, else MAX_FIX_AGE_DAYS); default 7 days */
  backfillHorizonMs?: number;
  /**
   * while the intake is behind its devices by more than the clock can hold back, the fix time from which
   * it has not caught up (compliance-clock.ts `behindSince`); undefined otherwise. Opens `behind` outages.
   */
  behindSince?: () => number | undefined;
}

export type { LateFigures } from './late-fixes.ts';

export interface ComplianceStatus {
  /** not yet in the EventStore (in the outbox or about to be) */
  queuedViolations: number;
  queuedTrips: number;
  /** events in the durable outbox (replayed after a restart) */
  outbox: number;
  /** closed violations whose evidence package is not stored yet */
  pendingEvidence: number;
  evidence: EvidenceStatus;
  storeOk: boolean;
  lastError?: string;
  /** false while the engine state cannot be saved (events then wait in memory only) */
  stateSaved: boolean;
  stateError?: string;
  vehicles: number;
  /** fixes the engine did not judge: duplicates of a vehicle's newest, and late ones past its history */
  skippedLate: number;
  /** sensor glitches (load state, weight) and outlier fixes found, over all vehicles: data quality, not violations */
  sensorGlitches: number;
  outlierFixes: number;
  late: LateFigures;
  /** silences the platform's own outages voided (never violations) since the start */
  platformGaps: number;
  /** the platform's outage going on (stopped: restart grace; behind: intake lagging), if any */
  outage?: PlatformOutage;
  /** judgement-clock instant of the last silence tick (ms; -Infinity before the first): a client that
   * drove a fleet up to instant T knows silence up to T has been judged once this is >= T */
  lastTickAt: number;
}

/** Cost of saving the engine state (benchmark, diagnostics). */
export interface PersistStats {
  commits: number;
  vehiclesSaved: number;
  eventsSaved: number;
  totalMs: number;
  maxMs: number;
}

/** a commit at least this often (wall ms), to keep the saved `aliveAt` fresh when nothing happens */
const ALIVE_EVERY_MS = 5_000;

interface CommitWork {
  batch: StateBatch;
  late: Rejudgings;
  violations: ViolationEvent[];
  trips: TripEvent[];
  gaps: number;
}

/** Topic of a violation alert. */
export function alertTopic(firm: string, vehicle: string): string {
  const safe = (s: string) => s.replace(/[+#/]/g, '_') || '_';
  return `alerts/${safe(firm)}/${safe(vehicle)}`;
}

export class ComplianceService {
  /** live bus: 'violation' (ViolationEvent), 'trip' (TripEvent) */
  readonly bus = new EventEmitter();
  private readonly engine: Engine;
  private readonly judge: Judge;
  private readonly calendar: Calendar;
  private readonly now: () => number;
  private world: World;
  /** per vehicle: the engine, trip tracker and ledger (geofence/judge.ts) */
  private readonly states = new Map<string, JudgeState>();
  /** late fixes and the history they are re-judged from (compliance/late-fixes.ts) */
  private readonly late: LateFixes;
  /** silences the outages voided since the last commit */
  private pendingGaps: PlatformGap[] = [];
  private outages = new PlatformOutages([]);
  private platformGaps = 0;
  /** the pump gate: onFixes calls so far, and how many of them the last commit covered */
  private delivered = 0;
  private judgedThrough = 0;
  private judgedWaiters: { mark: number; resolve: () => void }[] = [];
  /** the judgement clock's instant of the last commit before this start (the platform was down since) */
  private downSince: number | undefined;
  /** wall clock of the last commit (one every ALIVE_EVERY_MS at least: `aliveAt` stays fresh) */
  private lastCommitAt = 0;
  /** vehicles whose state changed since the last commit */
  private readonly dirty = new Set<string>();
  /** produced since the last commit (not durable yet) */
  private freshViolations: ViolationEvent[] = [];
  private freshTrips: TripEvent[] = [];
  private freshEvidence: EvidenceDueRow[] = [];
  /** committed events on their way to the EventStore */
  private readonly outbox: EventOutbox;
  /** closed violations' evidence packages */
  private readonly evidence: EvidenceQueue;
  private readonly state: EngineStateStore;
  /** wall clock: the end of the restart grace (the stopped outage ends at the first tick after it) */
  private graceUntil = 0;
  /** alert publishes failed since the last warning about them, and when that was (wall clock) */
  private alertFailures = 0;
  private alertFailureLoggedAt = Number.NEGATIVE_INFINITY;
  /** judgement clock: the instant of the last tick */
  private lastTickAt = Number.NEGATIVE_INFINITY;
  private eventStoreOpen = false;
  private stateSaved = true;
  private stateError: string | undefined;
  private stateFailures = 0;
  readonly persistStats: PersistStats = {
    commits: 0,
    vehiclesSaved: 0,
    eventsSaved: 0,
    totalMs: 0,
    maxMs: 0,
  };
  private flushTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastRecompileForUnknown = 0;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly metrics: ComplianceMetrics | undefined;
  /** fixes judged, for sampling the step time */
  private stepped = 0;

  constructor(private readonly opts: ComplianceServiceOptions) {
    this.calendar = opts.calendar ?? chinaCalendar;
    this.engine = createEngine(ALL_RULES, this.calendar);
    this.judge = createJudge(this.engine);
    this.late = new LateFixes(this.judge, opts.logger);
    this.now = opts.now ?? Date.now;
    this.world = compileWorld(opts.registry.snapshot());
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
      world: () => this.world,
      ...(opts.fixProgress ? { fixProgress: opts.fixProgress } : {}),
      maxRunning: opts.evidenceConcurrency ?? 4,
      logger: opts.logger,
    });
    this.restore(this.state);
    this.unsubscribe = opts.registry.onChange(() => this.recompile());
    this.metrics = opts.metrics ? createComplianceMetrics(opts.metrics, this) : undefined;
  }

  /**
   * Violations opened and not closed, by code, read from the engine states at scrape time (so a restart,
   * which restores the states, restores the count too). Every rule keeps what it has open in its
   * slice's `open`: one violation, an array of them (zones), or null/undefined.
   */
  openViolationsByCode(): Map<string, number> {
    const out = new Map<string, number>();
    const add = (v: unknown) => {
      const code = (v as { code?: unknown } | null)?.code;
      if (typeof code === 'string') out.set(code, (out.get(code) ?? 0) + 1);
    };
    for (const state of this.states.values()) {
      for (const slice of state.engine.slices) {
        const open = (slice as { open?: unknown } | null)?.open;
        if (Array.isArray(open)) for (const v of open) add(v);
        else if (open) add(open);
      }
    }
    return out;
  }

  /** Reads back the saved states, the outbox and the evidence still to build. */
  private restore(store: EngineStateStore): void {
    const restored = store.open(engineFingerprint(this.engine));
    const log = this.opts.logger;
    let newestFix = Number.NEGATIVE_INFINITY;
    for (const v of restored.vehicles) {
      try {
        const engine = decodeVehicleState(v.engine);
        const trips = v.trips !== undefined ? decodeTripState(v.trips) : undefined;
        this.states.set(v.vehicle, {
          engine,
          ...(trips !== undefined ? { trips } : {}),
          ...decodeJudgeExtras(v.judge),
        });
        if (engine.last !== undefined && engine.last.ts > newestFix) newestFix = engine.last.ts;
      } catch (err) {
        log.error({ err: (err as Error).message, vehicle: v.vehicle }, 'compliance: unreadable saved state');
      }
    }
    this.outbox.restored(restored.outbox);
    this.late.restored(restored.historyVehicles);
    this.outages = new PlatformOutages(store.history().outages(Date.now() - this.horizonMs()));
    // down since the last commit before this start (a state saved by an older version has no such
    // instant: the newest fix of a restored vehicle is the best guess of when the platform stopped)
    this.downSince =
      restored.aliveAt ?? (this.states.size > 0 && Number.isFinite(newestFix) ? newestFix : undefined);
    if (restored.discardedVehicles > 0)
      log.warn(
        { discarded: restored.discardedVehicles, file: store.file },
        'compliance: saved engine states were written by another engine version; starting them afresh',
      );
    log.info(
      {
        vehicles: this.states.size,
        withHistory: this.late.withHistory,
        downSince: this.downSince,
        outboxViolations: restored.outbox.violation,
        outboxTrips: restored.outbox.trip,
        evidenceDue: restored.evidenceDue,
      },
      'compliance: engine state restored',
    );
  }

  /**
   * Starts the flush timer (commits the engine state; writes to the EventStore once it is open) and the
   * silence tick. Independent of the EventStore: the state is saved while it is unreachable.
   */
  start(): void {
    const flushMs = this.opts.flushIntervalMs ?? 200;
    const tickMs = this.opts.tickIntervalMs ?? 5000;
    this.graceUntil = Date.now() + (this.opts.restoreGraceMs ?? 120_000);
    // the platform was not running since its last commit: silence in that time is the platform's
    this.outages.started(this.downSince);
    const clockAtStart = this.now();
    if (Number.isFinite(clockAtStart)) this.lastTickAt = clockAtStart;
    this.flushTimer = setInterval(() => void this.flush(), flushMs);
    this.flushTimer.unref();
    // Ticks follow the judgement clock, which may run faster than the wall (a fleet clock at 120x):
    // the timer polls it often and ticks once tickMs of its time has passed, so a simulated silence
    // of a minute is not skipped over between two wall-clock ticks. On the wall clock: every tickMs.
    this.tickTimer = setInterval(
      () => {
        // (and at once when the clock went back: the wall clock held back by a growing intake lag)
        const now = this.now();
        if (now - this.lastTickAt >= tickMs || now < this.lastTickAt) this.tick();
      },
      Math.min(tickMs, 25),
    );
    this.tickTimer.unref();
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
    return this.world;
  }

  recompile(): void {
    try {
      this.world = compileWorld(this.opts.registry.snapshot());
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'compliance: could not compile the registry');
    }
  }

  /** Accepted fixes, in order, after they are durable (IngestCore.onFixes). */
  onFixes(fixes: readonly Fix[]): void {
    if (this.stopped) return;
    this.delivered++;
    const timed = this.metrics?.stepSeconds;
    for (const fix of fixes) {
      try {
        // one fix in STEP_SAMPLE_EVERY is timed: two clock reads per fix would cost more than some steps
        if (timed !== undefined && (++this.stepped & (STEP_SAMPLE_EVERY - 1)) === 0) {
          const t0 = performance.now();
          this.stepFix(fix);
          timed.observe((performance.now() - t0) / 1000);
        } else this.stepFix(fix);
      } catch (err) {
        this.opts.logger.error(
          { err: (err as Error).message, vehicle: fix.vehicle, ts: fix.ts },
          'compliance: engine step failed',
        );
      }
    }
  }

  private stepFix(fix: Fix): void {
    // A vehicle registered after the last compile: the world learns of it with a (rate-limited) recompile.
    if (this.world.vehicle(fix.vehicle) === undefined) {
      const now = Date.now();
      if (now - this.lastRecompileForUnknown >= 1000) {
        this.lastRecompileForUnknown = now;
        this.recompile();
      }
    }
    const world = this.world;
    const vehicle = fix.vehicle;
    const state = this.states.get(vehicle) ?? this.judge.initial(vehicle);
    // the newest fix stepped: a suspect held back by the outlier screen (geofence/outliers.ts) counts
    const prevTs = newestStepped(state);
    if (prevTs !== undefined && fix.ts <= prevTs) {
      // late (or a duplicate of the newest): judged in time order at the next flush
      this.late.queue(fix);
      return;
    }
    const out = this.judge.step(state, fix, world, this.outages.current());
    this.states.set(vehicle, out.state);
    this.dirty.add(vehicle);
    this.late.stepped(fix, prevTs, out);
    for (const g of out.gaps) this.pendingGaps.push(g);
    for (const e of out.trips) this.freshTrips.push(e);
    for (const e of out.events) this.freshViolations.push(e);
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
    const world = this.world;
    if (Date.now() >= this.graceUntil) this.outages.resumed(now);
    this.outages.observeLag(this.opts.behindSince?.(), now);
    const outages = this.outages.current();
    for (const [vehicle, state] of this.states) {
      try {
        const out = this.judge.tick(state, now, world, outages);
        if (out.state !== state) {
          this.states.set(vehicle, out.state);
          this.dirty.add(vehicle);
        }
        for (const g of out.gaps) this.pendingGaps.push(g);
        // the newest fix stepped (a held suspect included): the history's checkpoints are taken at it
        const afterTs = newestStepped(state);
        if (out.events.length > 0 && afterTs !== undefined) this.late.ticked(vehicle, afterTs, out.events);
        for (const e of out.events) this.freshViolations.push(e);
      } catch (err) {
        this.opts.logger.error({ err: (err as Error).message, vehicle }, 'compliance: engine tick failed');
      }
    }
    this.metrics?.tickSeconds.observe((performance.now() - t0) / 1000);
  }

  /**
   * MQTT alerts are best effort (webhooks and the event store are the durable paths). When the broker
   * is gone (shutting down, overloaded) every violation would fail alike: one warning per 10 s, with
   * how many failed since the last, instead of a line per violation.
   */
  private alertFailed(err: Error, violation: string): void {
    this.alertFailures++;
    const now = Date.now();
    if (now - this.alertFailureLoggedAt < 10_000) return;
    this.opts.logger.warn(
      { err: err.message, violation, failedSinceLastWarning: this.alertFailures },
      'compliance: alert publish failed',
    );
    this.alertFailures = 0;
    this.alertFailureLoggedAt = now;
  }

  /** After the commit: the MQTT alert and the live bus. */
  private publishViolation(event: ViolationEvent): void {
    const v = event.violation;
    if (event.phase === 'opened' && this.metrics) {
      const kind = this.states.get(v.vehicle)?.engine.last?.kind ?? this.world.vehicle(v.vehicle)?.kind;
      this.metrics.violations.labels(v.code, firmKindOf(kind)).inc();
    }
    this.opts
      .publish(alertTopic(v.firm, v.vehicle), JSON.stringify(event))
      .catch((err: Error) => this.alertFailed(err, v.id));
    try {
      this.bus.emit('violation', event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
  }

  private publishTrip(event: TripEvent): void {
    try {
      this.bus.emit('trip', event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
  }

  private horizonMs(): number {
    return this.opts.backfillHorizonMs ?? 7 * 86_400_000;
  }

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
  private persist(): void {
    const store = this.state;
    const through = this.delivered;
    const acked = this.outbox.takeAcked();
    const evidenceDone = this.evidence.takeDone();
    const hasWork =
      this.dirty.size > 0 ||
      this.freshViolations.length > 0 ||
      this.freshTrips.length > 0 ||
      this.late.pending ||
      this.pendingGaps.length > 0 ||
      acked.length > 0 ||
      evidenceDone.length > 0 ||
      // the instant a start after a crash takes the platform to have been down since stays fresh
      Date.now() - this.lastCommitAt >= ALIVE_EVERY_MS;
    if (!hasWork || !store.isOpen) {
      this.outbox.ackedNotCommitted(acked);
      this.evidence.doneNotCommitted(evidenceDone);
      this.judged(through);
      return;
    }
    const t0 = performance.now();
    const outages = this.outages.takeChanged();
    let work: CommitWork | undefined;
    let seqs: number[];
    try {
      seqs = store.commit((history) => {
        work = this.commitWork(history, outages, acked, evidenceDone);
        return work.batch;
      });
    } catch (err) {
      this.stateSaved = false;
      this.stateError = (err as Error).message;
      this.stateFailures++;
      if (this.stateFailures <= 3 || this.stateFailures % 50 === 0)
        this.opts.logger.error(
          { err: this.stateError, failures: this.stateFailures, file: store.file },
          'compliance: could not save the engine state; events go on from memory',
        );
      this.outbox.ackedNotCommitted(acked);
      this.evidence.doneNotCommitted(evidenceDone);
      this.outages.notSaved(outages);
      this.late.failed();
      const { violations, trips } = withoutRetracted(this.freshViolations, this.freshTrips);
      this.publish(violations, trips, undefined);
      this.judged(through);
      return;
    }
    const done = work!;
    this.lastCommitAt = Date.now();
    this.platformGaps += done.gaps;
    // the commit holds them: apply the re-judged states and let the history and the late fixes go
    for (const [vehicle, state] of done.late.states) this.states.set(vehicle, state);
    this.late.committed(done.late);
    this.pendingGaps = [];
    this.dirty.clear();
    const newEvidence = done.batch.evidenceDue.length > 0;
    this.freshEvidence = [];
    this.publish(done.violations, done.trips, seqs);
    this.evidence.doneCommitted(evidenceDone);
    if (newEvidence) this.evidence.rowsCommitted();
    this.judged(through);
    if (!this.stateSaved) this.opts.logger.info('compliance: engine state saved again');
    this.stateSaved = true;
    this.stateError = undefined;
    this.stateFailures = 0;
    const ms = performance.now() - t0;
    const ps = this.persistStats;
    ps.commits++;
    ps.vehiclesSaved += done.batch.states.length;
    ps.eventsSaved += done.batch.outbox.length;
    ps.totalMs += ms;
    if (ms > ps.maxMs) ps.maxMs = ms;
  }

  /**
   * Inside the commit's transaction: the history of this flush, the re-judgings, the batch. Changes no
   * field of the service (the transaction may still fail): what it found is returned.
   */
  private commitWork(
    history: SqliteHistory,
    outages: readonly PlatformOutage[],
    acked: readonly number[],
    evidenceDone: readonly EvidenceDone[],
  ): CommitWork {
    const late = this.late.write(history, {
      world: this.world,
      outages: this.outages.current(),
      ...(Number.isFinite(this.lastTickAt) ? { tickedTo: this.lastTickAt } : {}),
    });
    const gaps = [...this.pendingGaps, ...late.gaps];
    const { violations, trips } = withoutRetracted(
      [...this.freshViolations, ...late.violations],
      [...this.freshTrips, ...late.trips],
    );
    const states: SavedVehicle[] = [];
    for (const vehicle of new Set([...this.dirty, ...late.states.keys()])) {
      const state = late.states.get(vehicle) ?? this.states.get(vehicle);
      if (state === undefined) continue;
      states.push({
        vehicle,
        engine: encodeState(state.engine),
        trips: state.trips ? encodeState(state.trips) : undefined,
        judge: encodeJudgeExtras(state),
      });
    }
    // a closed violation's evidence is due from this commit on (evidence-queue.ts picks it up), and a
    // withdrawn one's again: its package says so (a due row holds the violation's latest event)
    const evidenceDue: EvidenceDueRow[] = [...this.freshEvidence];
    for (const e of violations) {
      if (e.phase === 'closed' || e.phase === 'withdrawn')
        evidenceDue.push({ violationId: e.violation.id, body: JSON.stringify(e) });
    }
    const now = this.now();
    const batch: StateBatch = {
      states,
      outbox: [
        ...violations.map((e) => ({ kind: 'violation' as const, body: JSON.stringify(e) })),
        ...trips.map((e) => ({ kind: 'trip' as const, body: JSON.stringify(e) })),
      ],
      acked,
      evidenceDue,
      evidenceDone,
      // the judgement clock now: a start after this commit knows the platform was up until here
      aliveAt: Number.isFinite(now) ? now : this.lastTickAt,
      outages,
      gaps,
      prune: { vehicles: this.late.pruneBatch(), cutoff: Date.now() - this.horizonMs() },
    };
    // counted only once the transaction is through (see persist)
    return { batch, late, violations, trips, gaps: gaps.length };
  }

  /** Publishes what a commit produced and hands it to the outbox (its seqs: violations first). */
  private publish(
    violations: readonly ViolationEvent[],
    trips: readonly TripEvent[],
    seqs: readonly number[] | undefined,
  ): void {
    this.outbox.add(violations, trips, seqs);
    this.freshViolations = [];
    this.freshTrips = [];
    for (const event of violations) this.publishViolation(event);
    for (const event of trips) this.publishTrip(event);
  }

  /** the commit covering the first `through` deliveries is done (or failed): the pump may move on */
  private judged(through: number): void {
    this.judgedThrough = through;
    if (this.judgedWaiters.length === 0) return;
    const waiting: typeof this.judgedWaiters = [];
    for (const w of this.judgedWaiters) {
      if (w.mark <= through) w.resolve();
      else waiting.push(w);
    }
    this.judgedWaiters = waiting;
  }

  /** how many deliveries (onFixes calls) so far: the pump notes it when it reads a batch */
  judgedMark(): number {
    return this.delivered;
  }

  /**
   * Resolves once the judgement of the first `mark` deliveries is committed (or could not be: a failed
   * commit does not hold the pump). The pump moves the spool's checkpoint only then, so a crash never
   * leaves a fix stored but not judged: the fixes after the checkpoint are replayed at the next start.
   */
  whenJudged(mark: number): Promise<void> {
    if (mark <= this.judgedThrough || this.stopped) return Promise.resolve();
    // commit now rather than wait for the flush timer (unref'd: a stopping process must not hang on it)
    this.persist();
    if (mark <= this.judgedThrough) return Promise.resolve();
    return new Promise((resolve) => this.judgedWaiters.push({ mark, resolve }));
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
    let skippedLate = this.late.figures.beyondHistory;
    let sensorGlitches = 0;
    let outlierFixes = 0;
    for (const s of this.states.values()) {
      skippedLate += s.engine.skippedLate;
      sensorGlitches += s.engine.load.gl;
      outlierFixes += s.engine.outliers;
    }
    const outage = this.outages.all().find((o) => o.end === Number.POSITIVE_INFINITY);
    const evidence = this.evidence.status();
    const lastError = this.outbox.error;
    return {
      queuedViolations: this.outbox.pendingViolations + this.freshViolations.length,
      queuedTrips: this.outbox.pendingTrips + this.freshTrips.length,
      outbox: this.outbox.durablePending,
      pendingEvidence: evidence.due + this.freshEvidence.length,
      evidence,
      storeOk: this.outbox.ok,
      ...(lastError ? { lastError } : {}),
      stateSaved: this.stateSaved,
      ...(this.stateError ? { stateError: this.stateError } : {}),
      vehicles: this.states.size,
      skippedLate,
      sensorGlitches,
      outlierFixes,
      late: { ...this.late.figures },
      platformGaps: this.platformGaps,
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
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.persist();
    // a pump waiting for judgements must not wait for a service that has stopped judging
    for (const w of this.judgedWaiters) w.resolve();
    this.judgedWaiters = [];
    // The budget timers are ref'd: once the servers are closed they are what keeps the process alive
    // (the jobs' own timers are unref'd), else the loop empties and the process quits mid-stop.
    await this.evidence.stop(Date.now() + budgetMs / 2);
    this.stopped = true;
    const queued = () => this.outbox.pendingViolations + this.outbox.pendingTrips;
    while (this.eventStoreOpen && queued() > 0 && Date.now() < deadline) {
      // a hung EventStore must not hold the shutdown: what is not written stays in the outbox
      await within(this.flush(), deadline - Date.now());
      if (queued() > 0 && Date.now() < deadline) await sleep(100, true);
    }
    this.persist();
    const left = queued();
    const evidence = this.evidence.status();
    if (left > 0 || evidence.due > 0)
      this.opts.logger.warn(
        { events: left, evidence: evidence.due, durable: this.state.isOpen && this.stateSaved },
        'compliance: events and evidence not stored at shutdown; kept in the outbox for the next start',
      );
    this.state.close();
    this.bus.removeAllListeners();
    return { events: left, evidenceDue: evidence.due };
  }
}

/** Waits for `work`, at most `ms` (a ref'd timer, cleared as soon as the work is done). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An unref'd timer unless `ref`: background retries must not hold a process that wants to exit. */
function sleep(ms: number, ref = false): Promise<void> {
  return new Promise((r) => {
    const timer = setTimeout(r, ms);
    if (!ref) timer.unref();
  });
}
