import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { type Calendar, createEngine, type Engine, type VehicleState } from '../geofence/engine.ts';
import type { RegistrySnapshot } from '../geofence/model.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import { initialTrips, stepTrips, type TripEvent, type TripState, tripInput } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { Fix } from '../ingest/fix.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import {
  type ComplianceMetrics,
  createComplianceMetrics,
  firmKindOf,
  STEP_SAMPLE_EVERY,
} from './compliance-metrics.ts';
import { decodeTripState, decodeVehicleState, encodeState, engineFingerprint } from './engine-state-codec.ts';
import { EngineStateStore, type EvidenceDueRow, type SavedVehicle } from './engine-state-store.ts';
import { EventOutbox } from './event-outbox.ts';
import { EvidenceQueue, type EvidenceStatus, type FixProgress } from './evidence-queue.ts';

/**
 * The imperative shell around the pure engine (geofence/engine.ts): keeps the compiled world (recompiled
 * on every registry change), the per-vehicle engine and trip states, and fans the engine's output out:
 *  - every violation event as JSON on MQTT `alerts/{firm}/{vehicle}` (QoS 1),
 *  - on the in-process live bus (`bus`, events 'violation' and 'trip'),
 *  - into the EventStore, batched, retried until stored (never dropped): platform/event-outbox.ts,
 *  - for every closed violation, the evidence package, once the fix store holds the track:
 *    platform/evidence-queue.ts (bounded concurrency, durable queue, one track query per vehicle batch).
 *
 * Restarts and outages (with `state`, platform/engine-state-store.ts): every flush commits, in ONE
 * SQLite transaction, the states of the vehicles that changed and the events they produced (the
 * outbox); events leave the outbox once the EventStore accepted them. At construction the states and
 * the outbox are read back (the outbox and the due evidence page by page, as the store takes them), so
 * an open violation is closed by the first fix after a restart (same id), a trip in progress completes,
 * and events the EventStore never got are replayed (its writes are idempotent: a replay duplicates
 * nothing). The hot path (onFixes) only marks vehicles dirty.
 * What a crash (not a stop) can still lose: the judgement of fixes accepted in the last flush interval
 * (they are stored; the engine resumes from the state saved before them).
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
   * wall clock; platform/compliance-clock.ts has the fleet clock for sped-up simulations and replays. A
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
   * after a restart, how long restored vehicles that have not reported again are spared silence
   * detection: the platform was down, not the device (it reconnects and backfills). Default 120 s.
   */
  restoreGraceMs?: number;
  /** registry for citywatch_violations_*, citywatch_engine_* (platform/compliance-metrics.ts) */
  metrics?: MetricsRegistry;
}

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
  skippedLate: number;
  /** sensor glitches (load state, weight) and outlier fixes found, over all vehicles: data quality, not violations */
  sensorGlitches: number;
  outlierFixes: number;
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

/** Topic of a violation alert. */
export function alertTopic(firm: string, vehicle: string): string {
  const safe = (s: string) => s.replace(/[+#/]/g, '_') || '_';
  return `alerts/${safe(firm)}/${safe(vehicle)}`;
}

export class ComplianceService {
  /** live bus: 'violation' (ViolationEvent), 'trip' (TripEvent) */
  readonly bus = new EventEmitter();
  private readonly engine: Engine;
  private readonly calendar: Calendar;
  private readonly now: () => number;
  private world: World;
  private readonly states = new Map<string, VehicleState>();
  private readonly trips = new Map<string, TripState>();
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
  /** restored vehicles not heard from since the restart (spared silence detection for a while) */
  private readonly awaitingFirstFix = new Set<string>();
  /** wall clock: the end of the restart grace */
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
      for (const slice of state.slices) {
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
    for (const v of restored.vehicles) {
      try {
        this.states.set(v.vehicle, decodeVehicleState(v.engine));
        if (v.trips !== undefined) this.trips.set(v.vehicle, decodeTripState(v.trips));
        this.awaitingFirstFix.add(v.vehicle);
      } catch (err) {
        log.error({ err: (err as Error).message, vehicle: v.vehicle }, 'compliance: unreadable saved state');
      }
    }
    this.outbox.restored(restored.outbox);
    if (restored.discardedVehicles > 0)
      log.warn(
        { discarded: restored.discardedVehicles, file: store.file },
        'compliance: saved engine states were written by another engine version; starting them afresh',
      );
    log.info(
      {
        vehicles: this.states.size,
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
    const clockAtStart = this.now();
    if (Number.isFinite(clockAtStart)) this.lastTickAt = clockAtStart;
    this.flushTimer = setInterval(() => void this.flush(), flushMs);
    this.flushTimer.unref();
    // Ticks follow the judgement clock, which may run faster than the wall (a fleet clock at 120x):
    // the timer polls it often and ticks once tickMs of its time has passed, so a simulated silence
    // of a minute is not skipped over between two wall-clock ticks. On the wall clock: every tickMs.
    this.tickTimer = setInterval(
      () => {
        if (this.now() - this.lastTickAt >= tickMs) this.tick();
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
    const state = this.states.get(fix.vehicle) ?? this.engine.initial(fix.vehicle);
    const result = this.engine.step(state, fix, world);
    this.states.set(fix.vehicle, result.state);
    this.dirty.add(fix.vehicle);
    if (this.awaitingFirstFix.size > 0) this.awaitingFirstFix.delete(fix.vehicle);
    if (fix.kind === 'muck_truck') {
      // the fixes the engine judged (none for a suspect held back or an outlier; a released suspect first)
      let tstate = this.trips.get(fix.vehicle) ?? initialTrips();
      result.judged.forEach((f, i, all) => {
        const tr = stepTrips(
          tstate,
          tripInput(f, world, this.calendar),
          i === all.length - 1 ? result.events : [],
        );
        tstate = tr.state;
        for (const e of tr.events) this.emitTrip(e);
      });
      this.trips.set(fix.vehicle, tstate);
    }
    for (const e of result.events) this.emitViolation(e);
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
    const inGrace = Date.now() < this.graceUntil;
    if (!inGrace) this.awaitingFirstFix.clear();
    for (const [vehicle, state] of this.states) {
      if (inGrace && this.awaitingFirstFix.has(vehicle)) continue;
      try {
        const result = this.engine.tick(state, now, world);
        if (result.state !== state) {
          this.states.set(vehicle, result.state);
          this.dirty.add(vehicle);
        }
        for (const e of result.events) this.emitViolation(e);
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

  private emitViolation(event: ViolationEvent): void {
    const v = event.violation;
    if (event.phase === 'opened' && this.metrics) {
      const kind = this.states.get(v.vehicle)?.last?.kind ?? this.world.vehicle(v.vehicle)?.kind;
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
    this.freshViolations.push(event);
    // its evidence is due from the commit that stores this event on (evidence-queue.ts picks it up)
    if (event.phase === 'closed') this.freshEvidence.push({ violationId: v.id, body: JSON.stringify(event) });
  }

  private emitTrip(event: TripEvent): void {
    try {
      this.bus.emit('trip', event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
    this.freshTrips.push(event);
  }

  /**
   * Commits what changed since the last commit in one transaction: the dirty states, the new events
   * (outbox), the evidence now due, and the outbox and evidence rows the stores took meanwhile.
   * Synchronous: run once per flush. When the commit fails (disk full, ...) the events go on to the
   * EventStore from memory (delivery matters more than crash safety), the states stay dirty and the
   * evidence waits for the next try (its packages are built from committed rows only).
   */
  private persist(): void {
    const store = this.state;
    const acked = this.outbox.takeAcked();
    const evidenceDone = this.evidence.takeDone();
    const hasWork =
      this.dirty.size > 0 ||
      this.freshViolations.length > 0 ||
      this.freshTrips.length > 0 ||
      this.freshEvidence.length > 0 ||
      acked.length > 0 ||
      evidenceDone.length > 0;
    if (!hasWork || !store.isOpen) {
      this.outbox.ackedNotCommitted(acked);
      this.evidence.doneNotCommitted(evidenceDone);
      return;
    }
    const t0 = performance.now();
    const states: SavedVehicle[] = [];
    for (const vehicle of this.dirty) {
      const engine = this.states.get(vehicle);
      if (engine === undefined) continue;
      const trips = this.trips.get(vehicle);
      states.push({ vehicle, engine: encodeState(engine), trips: trips ? encodeState(trips) : undefined });
    }
    const outbox = [
      ...this.freshViolations.map((e) => ({ kind: 'violation' as const, body: JSON.stringify(e) })),
      ...this.freshTrips.map((e) => ({ kind: 'trip' as const, body: JSON.stringify(e) })),
    ];
    const newEvidence = this.freshEvidence.length > 0;
    let seqs: number[];
    try {
      seqs = store.commit({
        states,
        outbox,
        acked,
        evidenceDue: this.freshEvidence,
        evidenceDone,
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
      this.queueFresh(undefined);
      return;
    }
    this.dirty.clear();
    this.freshEvidence = [];
    this.queueFresh(seqs);
    this.evidence.doneCommitted(evidenceDone);
    if (newEvidence) this.evidence.rowsCommitted();
    if (!this.stateSaved) this.opts.logger.info('compliance: engine state saved again');
    this.stateSaved = true;
    this.stateError = undefined;
    this.stateFailures = 0;
    const ms = performance.now() - t0;
    const ps = this.persistStats;
    ps.commits++;
    ps.vehiclesSaved += states.length;
    ps.eventsSaved += outbox.length;
    ps.totalMs += ms;
    if (ms > ps.maxMs) ps.maxMs = ms;
  }

  /** Hands the fresh events to the outbox, with their outbox seqs (violations first). */
  private queueFresh(seqs: readonly number[] | undefined): void {
    this.outbox.add(this.freshViolations, this.freshTrips, seqs);
    this.freshViolations = [];
    this.freshTrips = [];
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
    let skippedLate = 0;
    let sensorGlitches = 0;
    let outlierFixes = 0;
    for (const s of this.states.values()) {
      skippedLate += s.skippedLate;
      sensorGlitches += s.load.gl;
      outlierFixes += s.outliers;
    }
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
