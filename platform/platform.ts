import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry as MetricsRegistry } from 'prom-client';
import type { LateDeviceCommands } from '../api/device-commands.ts';
import type { LiveHub } from '../api/live-hub.ts';
import type { HealthReport } from '../api/schemas.ts';
import type { BrokerHandle } from '../broker/broker.ts';
import type { ComplianceService } from '../compliance/service.ts';
import type { Fix } from '../core/fix.ts';
import type { WebhookDispatcher } from '../delivery/webhooks/dispatcher.ts';
import type { Jt808Server } from '../gateway/jt808/server.ts';
import type { Backpressure } from '../ingest/backpressure.ts';
import type { IngestCore } from '../ingest/core.ts';
import { createIngestMetrics, type IngestMetrics } from '../ingest/metrics.ts';
import { StorePump } from '../ingest/pump.ts';
import type { Spool } from '../ingest/spool.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { type ApiPart, startApi } from './api-part.ts';
import type { Config } from './config.ts';
import { startDemo } from './demo.ts';
import { type PlatformPorts, startEntryPoints } from './entry-points.ts';
import { platformHealth } from './health.ts';
import { openIntake, spooledFixes } from './intake.ts';
import { startJudgement } from './judgement.ts';
import { MqttOutlet } from './mqtt-outlet.ts';
import { openRegistries } from './registries.ts';
import { createStores, openStoreWhenReachable } from './stores.ts';

export type { PlatformPorts } from './entry-points.ts';

/**
 * The composition root of the single process: one wiring function per part, each in its own module,
 * connected through what they return (and the MqttOutlet port, filled once the broker listens):
 * registries (registries.ts) -> stores (stores.ts) -> intake (intake.ts: spool, ingest core) ->
 * judgement (judgement.ts: compliance service, webhooks, live streams, dispatch) -> entry points
 * (entry-points.ts: MQTT broker, JT/T 808, external broker) -> health (health.ts) -> API and console
 * (api-part.ts) -> demo fleet (demo.ts). `platform/main.ts` is the process shell around it, and
 * `platform/cluster.ts` the other wiring of the same parts (edges and workers); tests and the benchmark
 * start this one in-process.
 */

/** How long stop() waits for API requests in flight. */
const API_CLOSE_MS = 3_000;

/** Waits for `work`, at most `ms` (a ref'd timer, cleared as soon as the work is done). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Platform {
  ports: PlatformPorts;
  adminToken: string;
  registry: SqliteRegistry;
  compliance: ComplianceRegistry;
  store: FixStore;
  events: EventStore;
  complianceService: ComplianceService;
  /** signed webhook deliveries of violations and trips (api/webhooks/) */
  webhooks: WebhookDispatcher;
  spool: Spool;
  /** admission in front of ingest: acknowledgements slow down, then wait, as the spool nears its limits */
  backpressure: Backpressure;
  core: IngestCore;
  /** live bus of positions and violations behind GET /api/v1/live/* */
  live: LiveHub;
  pump: StorePump;
  metrics: MetricsRegistry;
  ingestMetrics: IngestMetrics;
  broker?: BrokerHandle;
  /** the JT/T 808 gateway, unless JT808_PORT=0 */
  jt808?: Jt808Server;
  api?: FastifyInstance;
  /** a cluster API node's JT/T 808 commands, connected when it joins the cluster */
  clusterCommands?: LateDeviceCommands;
  /** the source of GET /api/v1/platform/outages (a cluster API node replaces it: cluster-api-node.ts) */
  outages: ApiPart['outages'];
  health(): Promise<HealthReport>;
  /**
   * SIGINT/SIGTERM path: stop intake, flush the spool and the compliance outbox to the store for at
   * most SHUTDOWN_FLUSH_MS (or StartOptions.drainMs), close everything; resolves with what is left on
   * disk for the next start
   */
  stop(): Promise<ShutdownReport>;
}

export interface StartOptions {
  logger: Logger;
  /** called for every batch the pump stores (benchmark, tests) */
  onStored?: (fixes: readonly Fix[]) => void;
  /** flush budget on stop; default SHUTDOWN_FLUSH_MS */
  drainMs?: number;
}

/** What a stop left on disk, written at the next start. */
export interface ShutdownReport {
  /** fixes still in the spool (not yet in the store) */
  spoolFixes: number;
  /** violation and trip events still in the compliance outbox */
  outboxEvents: number;
  /** closed violations whose evidence package is still to build */
  evidenceDue: number;
  /** how long each step took, ms */
  phasesMs: Record<string, number>;
}

export async function startPlatform(config: Config, options: StartOptions): Promise<Platform> {
  const { logger } = options;
  const { env } = config;
  await fs.mkdir(config.dataDir, { recursive: true });
  let stopping = false;

  const metrics = new MetricsRegistry();
  // The stock names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...), unprefixed as every
  // Prometheus client library writes them, so stock Node.js dashboards and alerts match as they are.
  collectDefaultMetrics({ register: metrics });
  const ingestMetrics = createIngestMetrics(metrics);

  const { registry, compliance } = await openRegistries(config, logger);
  const { store, events, influxConnection } = createStores(config);
  const outlet = new MqttOutlet();
  const intake = await openIntake(config, { registry, store, metrics: ingestMetrics, outlet, logger });
  const { spool, backpressure, core, latest } = intake;
  const judgement = startJudgement(config, {
    registry,
    compliance,
    events,
    store,
    intake,
    outlet,
    metrics,
    logger,
  });
  const { clockMode, complianceService, webhooks, live, liveUnits } = judgement;
  // What a crash left unjudged (the spool past the pump's checkpoint), judged again before intake and
  // before the pump starts (every consumer of the bus is subscribed by now).
  const replayed = await complianceService.replay(spooledFixes(spool));
  if (replayed > 0)
    logger.info({ fixes: replayed }, 'compliance: spooled fixes past the checkpoint judged again');

  const pump = new StorePump({
    spool,
    store,
    metrics: ingestMetrics,
    batchSize: env.STORE_BATCH_SIZE,
    maxBackoffMs: env.STORE_MAX_BACKOFF_MS,
    quarantineFile: path.join(config.dataDir, 'quarantine.jsonl'),
    logger,
    ...(options.onStored ? { onStored: options.onStored } : {}),
    // the checkpoint moves only past fixes whose judgement is committed (a crash then loses none)
    judgement: {
      mark: () => complianceService.judgedMark(),
      judged: (mark) => complianceService.whenJudged(mark),
    },
  });
  let storeOpened = false;
  let eventsOpened = false;
  const eventsReady = openStoreWhenReachable(events, logger, () => stopping).then((ok) => {
    if (!ok) return;
    eventsOpened = true;
    if (!stopping) complianceService.eventStoreOpened();
  });
  const storeReady = openStoreWhenReachable(store, logger, () => stopping).then(async (ok) => {
    if (!ok) return;
    storeOpened = true;
    try {
      const stored = await store.latest();
      latest.seed(stored);
      core.prime(stored);
      // dispatch answers after a restart from the units' last stored positions (a newer fix wins)
      liveUnits.onFixes(stored);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not seed latest positions from the store');
    }
    if (!stopping) pump.start();
  });
  // With the embedded store, opening is local and immediate: wait so the API starts with history.
  if (config.store.kind === 'embedded') await Promise.all([storeReady, eventsReady]);

  const tls = config.tls
    ? {
        cert: await fs.readFile(config.tls.certFile),
        key: await fs.readFile(config.tls.keyFile),
        ...(config.tls.caFile ? { ca: await fs.readFile(config.tls.caFile) } : {}),
      }
    : undefined;
  const entry = await startEntryPoints(config, {
    registry,
    compliance,
    core,
    complianceService,
    outlet,
    tls,
    metrics,
    logger,
  });
  const { ports, broker, jt808, external } = entry;
  const health = platformHealth(config, {
    entry,
    pump,
    store,
    events,
    influxConnection,
    storeOpened: () => storeOpened,
    eventsOpened: () => eventsOpened,
    complianceService,
    clockMode,
    webhooks,
    spool,
    backpressure,
  });
  const { adminToken, audit, apiKeys, idempotency, api, clusterCommands, outages } = await startApi(config, {
    registry,
    compliance,
    store,
    events,
    latest,
    judgement,
    entry,
    health,
    tls,
    metrics,
    logger,
  });
  const fleet = env.SIMULATE.fleet ? startDemo(config, ports.mqtt, logger) : undefined;

  let stopped: Promise<ShutdownReport> | undefined;
  const stop = (): Promise<ShutdownReport> => {
    stopped ??= shutdown();
    return stopped;
  };
  const shutdown = async (): Promise<ShutdownReport> => {
    stopping = true;
    const flushMs = options.drainMs ?? env.SHUTDOWN_FLUSH_MS;
    // Each step is timed, so a slow shutdown names the step that held it up.
    const phases: Record<string, number> = {};
    const timed = async (name: string, step: () => unknown): Promise<void> => {
      const t0 = performance.now();
      await step();
      phases[name] = Math.round(performance.now() - t0);
    };
    await timed('fleet', () => fleet?.stop());
    // close() waits for requests in flight (a track query against a hung store can take its whole
    // timeout): they get API_CLOSE_MS, then the shutdown goes on (the process exits under them)
    await timed('api', () => (api ? within(api.close(), API_CLOSE_MS) : undefined));
    live.close();
    // messages held back by a full spool are not taken any more: unacknowledged, they come again
    backpressure.close(new Error('platform stopping: not acknowledged'));
    await timed('broker', () => broker?.close());
    await timed('jt808', () => jt808?.close());
    await timed('external', () => external?.stop());
    // Intake has stopped: flush the spool (fixes) and the outbox (violations, trips) side by side,
    // each for at most flushMs; a store that is down or hung does not hold the exit beyond it.
    let outboxEvents = 0;
    let evidenceDue = 0;
    await Promise.all([
      timed('pump', () => pump.stop(flushMs)),
      timed('compliance', async () => {
        const left = await complianceService.stop(flushMs);
        outboxEvents = left.events;
        evidenceDue = left.evidenceDue;
      }),
    ]);
    const spoolFixes = spool.stats().depthRecords;
    await timed('webhooks', () => webhooks.stop());
    await timed('spool', () => spool.close());
    await timed('store', () => store.close());
    await timed('events', () => events.close());
    influxConnection?.close();
    const report: ShutdownReport = { spoolFixes, outboxEvents, evidenceDue, phasesMs: phases };
    if (spoolFixes > 0 || outboxEvents > 0 || evidenceDue > 0)
      logger.warn(
        { ...report, flushMs },
        `platform stopped; left on disk for the next start: ${spoolFixes} fixes in the spool, ${outboxEvents} events in the outbox, ${evidenceDue} evidence packages due`,
      );
    else logger.info({ ...report, flushMs }, 'platform stopped; the spool and the outbox are empty');
    compliance.close();
    idempotency?.close();
    audit.close();
    apiKeys.close();
    registry.close();
    return report;
  };

  return {
    ports,
    adminToken,
    registry,
    compliance,
    store,
    events,
    complianceService,
    webhooks,
    spool,
    backpressure,
    core,
    live,
    pump,
    metrics,
    ingestMetrics,
    ...(broker ? { broker } : {}),
    ...(jt808 ? { jt808 } : {}),
    ...(api ? { api } : {}),
    ...(clusterCommands ? { clusterCommands } : {}),
    outages,
    health,
    stop,
  };
}
