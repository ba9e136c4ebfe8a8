import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { LiveHub } from '../api/live-hub.ts';
import { registerLiveMetrics } from '../api/live-metrics.ts';
import { type ComplianceClockMode, createComplianceClock } from '../compliance/clock.ts';
import { EngineStateStore } from '../compliance/engine-state-store.ts';
import { ComplianceService } from '../compliance/service.ts';
import { WebhookDispatcher } from '../delivery/webhooks/dispatcher.ts';
import { WebhookStore } from '../delivery/webhooks/store.ts';
import { IncidentDesk } from '../dispatch/incidents.ts';
import { LiveUnits } from '../dispatch/live-units.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import type { Intake } from './intake.ts';
import type { MqttOutlet } from './mqtt-outlet.ts';

/**
 * Judging and what follows a judgement: the clock silence is judged by, the compliance service (engine,
 * outbox, evidence), and the consumers of its events and of the fixes: webhooks, the live streams, the
 * dispatch index and the incident desk. Every consumer is subscribed before the service starts, so none
 * misses an event (the outbox's replay included).
 */
export interface Judgement {
  clockMode: ComplianceClockMode;
  complianceService: ComplianceService;
  webhooks: WebhookDispatcher;
  live: LiveHub;
  liveUnits: LiveUnits;
  incidents: IncidentDesk;
  /** the judgement clock's instant (the wall clock until the fleet clock has heard a fix) */
  judgementNow: () => number;
}

export interface JudgementDeps {
  registry: SqliteRegistry;
  compliance: ComplianceRegistry;
  events: EventStore;
  store: FixStore;
  intake: Intake;
  outlet: MqttOutlet;
  metrics: MetricsRegistry;
  logger: Logger;
}

export function startJudgement(config: Config, deps: JudgementDeps): Judgement {
  const { env } = config;
  const { registry, compliance, events, store, intake, outlet, metrics, logger } = deps;
  const { core, spool } = intake;
  // The clock silence is judged by; the fleet clock reads the accepted fixes (before the service does).
  // A sped-up demo replays the recent past: its silences are judged on its own clock.
  const demoCatchUp = env.SIMULATE.fleet && env.SIMULATE_SPEEDUP > 1;
  const clockMode = demoCatchUp ? 'fleet' : env.COMPLIANCE_CLOCK;
  const clockSpeedup = demoCatchUp ? env.SIMULATE_SPEEDUP : env.COMPLIANCE_CLOCK_SPEEDUP;
  const complianceClock = createComplianceClock(clockMode, { speedup: clockSpeedup });
  if (clockMode === 'fleet')
    logger.warn(
      { speedup: clockSpeedup },
      "COMPLIANCE_CLOCK=fleet: silence is judged by the fixes' own time (simulations and replays only)",
    );
  core.onFixes((fixes) => complianceClock.observe(fixes));
  const complianceService = new ComplianceService({
    now: complianceClock.now,
    registry: compliance,
    events,
    fixes: store,
    // the fix that closed a violation is stored once the pump has moved everything accepted before it
    fixProgress: () => {
      const { appendedRecords, depthRecords } = spool.stats();
      return { accepted: appendedRecords, stored: appendedRecords - depthRecords };
    },
    evidenceConcurrency: env.EVIDENCE_CONCURRENCY,
    publish: (topic, payload) => outlet.publish(topic, payload),
    // engine states and the outbox of events not yet in the event store survive a restart
    state: new EngineStateStore({ file: path.join(config.dataDir, 'compliance-state.sqlite') }),
    // late fixes are re-judged as far back as ingest accepts them (or BACKFILL_HISTORY_HOURS)
    backfillHorizonMs: (env.BACKFILL_HISTORY_HOURS ?? env.MAX_FIX_AGE_DAYS * 24) * 3_600_000,
    // an intake far behind its devices is the platform's outage, not their silence
    behindSince: complianceClock.behindSince,
    logger,
    metrics,
  });
  // Subscribed before the service starts, so no event it emits (outbox replay included) is missed.
  const webhooks = new WebhookDispatcher({
    store: new WebhookStore({ file: path.join(config.dataDir, 'webhooks.sqlite') }),
    logger,
    retry: {
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      baseMs: env.WEBHOOK_RETRY_BASE_MS,
      maxMs: env.WEBHOOK_RETRY_MAX_MS,
    },
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    perTargetConcurrency: env.WEBHOOK_CONCURRENCY_PER_TARGET,
    outbound: { allow: env.WEBHOOK_ALLOW_HOSTS, allowHttp: env.WEBHOOK_ALLOW_HTTP },
    pauseAfterDead: env.WEBHOOK_PAUSE_AFTER_DEAD,
    metrics,
  });
  complianceService.bus.on('violation', webhooks.onViolation);
  complianceService.bus.on('trip', webhooks.onTrip);
  webhooks.start();
  complianceService.start();
  core.onFixes((fixes) => complianceService.onFixes(fixes));
  // Publishing is synchronous and never waits for a client (delivery/live/channel.ts): ingest is not slowed.
  const live = new LiveHub({
    registry,
    retentionMs: env.LIVE_RETENTION_S * 1000,
    maxEvents: env.LIVE_MAX_EVENTS,
    maxLag: env.LIVE_CLIENT_MAX_LAG,
    clientBufferBytes: env.LIVE_CLIENT_BUFFER_BYTES,
    heartbeatMs: env.LIVE_HEARTBEAT_S * 1000,
  });
  registerLiveMetrics(metrics, live);
  core.onFixes((fixes) => live.publishFixes(fixes));
  // nearest-unit dispatch (issue 15): the live index of every unit, on the judgement clock
  const judgementNow = () => {
    const now = complianceClock.now();
    return Number.isFinite(now) ? now : Date.now();
  };
  const liveUnits = new LiveUnits({
    world: () => complianceService.currentWorld(),
    now: judgementNow,
    intervalS: (unit) => complianceService.currentWorld().vehicle(unit)?.reportIntervalS ?? 30,
  });
  core.onFixes((fixes) => liveUnits.onFixes(fixes));
  // incidents: created, assigned, reached (watched on the fixes) and closed, in the compliance registry
  const incidents = new IncidentDesk({
    registry: compliance,
    now: judgementNow,
    known: (unit) => liveUnits.get(unit) !== undefined,
    onError: (err) => logger.warn({ err: String(err) }, 'incident arrival not recorded'),
  });
  core.onFixes((fixes) => incidents.onFixes(fixes));
  complianceService.bus.on('violation', (event) => live.publishViolation(event));
  return { clockMode, complianceService, webhooks, live, liveUnits, incidents, judgementNow };
}
