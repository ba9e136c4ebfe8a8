import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Calendar } from '../geofence/engine.ts';
import type { RegistrySnapshot } from '../geofence/model.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import type { PlatformOutage } from './backfill-history.ts';
import type { EngineStateStore } from './engine-state-store.ts';
import type { EvidenceStatus, FixProgress } from './evidence-queue.ts';
import type { LateFigures } from './late-fixes.ts';

/**
 * The compliance service's contract with its callers (compliance/service.ts): what it is given (the
 * registry it judges against, the stores, the alert publisher, the clocks and limits) and what it
 * reports (its status, the cost of saving the engine state). Types only.
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
