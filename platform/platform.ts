import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../api/app.ts';
import { stateDigest } from '../api/audit/chain.ts';
import { AuditLog } from '../api/audit/log.ts';
import { auditSnapshots } from '../api/audit/snapshots.ts';
import { IdempotencyStore } from '../api/idempotency/store.ts';
import { LiveHub } from '../api/live-hub.ts';
import { registerLiveMetrics } from '../api/live-metrics.ts';
import { ADMIN_PRINCIPAL } from '../api/principal.ts';
import { type HealthReport, type HealthState, worstState } from '../api/schemas.ts';
import { WebhookDispatcher } from '../api/webhooks/dispatcher.ts';
import { WebhookStore } from '../api/webhooks/store.ts';
import { type BrokerHandle, createBroker } from '../broker/broker.ts';
import { capacityHealth } from '../broker/capacity.ts';
import { createBrokerCluster } from '../broker/cluster/hub.ts';
import { defaultMaxConnections, readOpenFilesLimit } from '../broker/open-files.ts';
import { createComplianceClock } from '../compliance/clock.ts';
import { EngineStateStore } from '../compliance/engine-state-store.ts';
import { ComplianceService } from '../compliance/service.ts';
import { consoleRoutes } from '../console/server.ts';
import { type Fix, upgradeSpooledFix } from '../core/fix.ts';
import { IncidentDesk } from '../dispatch/incidents.ts';
import { LiveUnits } from '../dispatch/live-units.ts';
import { Jt808Server } from '../gateway/jt808/server.ts';
import { Backpressure, SLOW_AT, spoolPressure } from '../ingest/backpressure.ts';
import { IngestCore } from '../ingest/core.ts';
import { type ExternalIngest, startExternalIngest } from '../ingest/external.ts';
import { LatestPositions } from '../ingest/latest-cache.ts';
import { createIngestMetrics, type IngestMetrics } from '../ingest/metrics.ts';
import { DEAD_LETTER_TOPIC } from '../ingest/payload.ts';
import { StorePump } from '../ingest/pump.ts';
import { Spool } from '../ingest/spool.ts';
import { SqliteApiKeys } from '../registry/api-keys.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../registry/compliance.ts';
import { SHIPPED_MODEL } from '../registry/device-models.ts';
import { ID_GRAMMAR, idsOutsideGrammar } from '../registry/ids.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import type { Device } from '../registry/types.ts';
import { demoComplianceSeed } from '../simulators/demo-compliance.ts';
import { demoRegistrySeed, demoSandboxSeed, startDemoFleet } from '../simulators/demo-fleet.ts';
import { demoScenarioFleet, scenarioBehaviourFor } from '../simulators/scenarios.ts';
import { EmbeddedEventStore } from '../store/events-embedded.ts';
import type { EventStore } from '../store/events-port.ts';
import { createStore } from '../store/index.ts';
import { InfluxEventStore } from '../store/influx/events.ts';
import { InfluxConnection } from '../store/influx/http.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import { wireJt808Triggers } from './jt808.ts';

/**
 * The composition root: builds broker, ingest, store, API and the demo fleet from a Config and wires
 * them together. `platform/main.ts` is the process shell around it; tests and the benchmark start the
 * same thing in-process.
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

/** package.json's version, shown in the console's footer. */
const PLATFORM_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** How far back a sped-up demo (SIMULATE_SPEEDUP > 1) starts before catching up with the present. */
const DEMO_CATCH_UP_MS = 2 * 3_600_000;

export interface PlatformPorts {
  http?: number;
  mqtt?: number;
  ws?: number;
  mqtts?: number;
  wss?: number;
  /** JT/T 808 gateway (JT808_PORT) */
  jt808?: number;
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

/** The spool's records past its checkpoint, as fixes (a spooled fix of an older version upgraded). */
async function* spooledFixes(spool: Spool): AsyncGenerator<Fix[]> {
  for await (const records of spool.replay()) {
    const fixes: Fix[] = [];
    for (const record of records) {
      try {
        fixes.push(upgradeSpooledFix(JSON.parse(record) as Fix));
      } catch {
        // a corrupt record: the pump counts it (spoolCorrupt) when it reads it
      }
    }
    if (fixes.length > 0) yield fixes;
  }
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

async function resolveAdminToken(config: Config, logger: Logger): Promise<string> {
  if (config.env.ADMIN_TOKEN) return config.env.ADMIN_TOKEN;
  const file = path.join(config.dataDir, 'admin-token');
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    if (existing.length >= 16) return existing;
  } catch {
    // first start
  }
  const token = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  logger.info({ file }, 'ADMIN_TOKEN not set: generated one and saved it');
  return token;
}

/** Opens the store, retrying in the background while it is unreachable (fixes wait in the spool). */
function openStoreWhenReachable(
  store: Pick<FixStore, 'open' | 'name'>,
  logger: Logger,
  isStopping: () => boolean,
): Promise<boolean> {
  return new Promise((resolve) => {
    let delay = 500;
    const attempt = () => {
      if (isStopping()) return resolve(false);
      store.open().then(
        () => resolve(true),
        (err: Error) => {
          logger.warn({ store: store.name, err: err.message, retryInMs: delay }, 'store not reachable yet');
          setTimeout(attempt, delay).unref();
          delay = Math.min(delay * 2, 15_000);
        },
      );
    };
    attempt();
  });
}

/**
 * Entities created before the registry's id grammar keep working (read, change, delete) but no new one
 * can be created so; say which exist, since on InfluxDB some cannot be stored (ingest refuses them).
 */
function warnIdsOutsideGrammar(
  logger: Logger,
  registry: SqliteRegistry,
  compliance: ComplianceRegistry,
): void {
  const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);
  const found = idsOutsideGrammar({
    firm: ids(registry.firms()),
    vehicle: ids(registry.vehicles()),
    officer: ids(registry.officers()),
    device: ids(registry.devices()),
    site: ids(compliance.list('site')),
    route: ids(compliance.list('route')),
    zone: ids(compliance.list('zone')),
    permit: ids(compliance.list('permit')),
  });
  for (const { kind, count, examples } of found) {
    logger.warn(
      { kind, count, examples },
      `${count} ${kind} id(s) outside the id grammar (${ID_GRAMMAR}): still usable, but no longer creatable; re-register them under valid ids`,
    );
  }
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

  const registry = new SqliteRegistry({ dir: path.join(config.dataDir, 'registry') });
  if (env.SIMULATE.seed && registry.devices().length === 0) await seedDemo(registry);
  if (env.SERVICE_PASSWORD) await registry.putServiceCredential('platform', env.SERVICE_PASSWORD);
  // the documented vendor mapping (README "JT/T 808"), there for devices to name
  if (registry.deviceModel(SHIPPED_MODEL.id) === undefined)
    registry.putDeviceModel(SHIPPED_MODEL.id, SHIPPED_MODEL);
  const compliance = new ComplianceRegistry({
    dir: path.join(config.dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
    onListenerError: (err) =>
      logger.error({ err: (err as Error).message }, 'compliance registry change listener failed'),
  });
  if (env.SIMULATE.seed && isComplianceEmpty(compliance)) await seedDemoCompliance(registry, compliance);
  warnIdsOutsideGrammar(logger, registry, compliance);

  // One socket pool to InfluxDB for both stores: INFLUX_MAX_SOCKETS caps their sum.
  const influxConnection =
    config.store.kind === 'influxdb'
      ? new InfluxConnection(config.store.url, config.store.maxSockets)
      : undefined;
  const store = createStore(
    config.store.kind === 'embedded'
      ? { kind: 'embedded', dir: config.store.dir }
      : { ...config.store, connection: influxConnection },
  );
  const events: EventStore =
    config.store.kind === 'embedded'
      ? new EmbeddedEventStore({ dir: config.store.dir })
      : new InfluxEventStore({
          ...(({ kind: _kind, ...influx }) => influx)(config.store),
          connection: influxConnection,
        });
  const spool = new Spool({
    dir: path.join(config.dataDir, 'spool'),
    maxBytes: env.SPOOL_MAX_BYTES,
    minFreeBytes: env.SPOOL_MIN_FREE_BYTES,
  });
  await spool.open();
  // The store slower than intake: the spool's limits reach the devices as later acknowledgements.
  const spoolLimits = {
    maxBytes: env.SPOOL_MAX_BYTES,
    maxAgeMs: env.SPOOL_MAX_AGE_S * 1000,
    minFreeBytes: env.SPOOL_MIN_FREE_BYTES,
  };
  const pressure = () => spoolPressure(spool.level(), spoolLimits, Date.now());
  const backpressure = new Backpressure(pressure);
  spool.onChange(() => backpressure.poke());
  ingestMetrics.registerSpoolLevel(() => {
    const s = backpressure.stats();
    return {
      fill: s.fill,
      diskBytes: spool.stats().diskBytes,
      waiting: s.waiting,
      slowed: s.slowed,
      held: s.held,
    };
  });

  const latest = new LatestPositions();
  let broker: BrokerHandle | undefined;
  let external: ExternalIngest | undefined;
  let jt808: Jt808Server | undefined;
  const core = new IngestCore({
    registry,
    spool,
    backpressure,
    metrics: ingestMetrics,
    limits: {
      maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
      maxFixesPerMessage: env.MAX_FIXES_PER_MESSAGE,
      maxFutureSkewMs: env.MAX_FUTURE_SKEW_S * 1000,
      maxFixAgeMs: env.MAX_FIX_AGE_DAYS * 86_400_000,
    },
    deadLetter: (topic, payload) => {
      if (broker) void broker.publish(topic, payload, { qos: 0, retain: false }).catch(() => undefined);
      else external?.client.publish(topic, payload, { qos: 0 });
    },
    logger,
    ...(store.unstorableIds
      ? {
          unstorable: (d: Device) =>
            store.unstorableIds?.({ firm: d.firm, vehicle: d.unit, device: d.id, officer: d.officer }),
        }
      : {}),
  });
  core.onFixes((fixes) => {
    for (const fix of fixes) latest.offer(fix);
  });
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
    publish: (topic, payload) => {
      if (broker) return broker.publish(topic, payload, { qos: 1, retain: false });
      if (external)
        return new Promise<void>((resolve, reject) =>
          external?.client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
        );
      return Promise.resolve();
    },
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
  // Publishing is synchronous and never waits for a client (api/live-channel.ts): ingest is not slowed.
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

  const ports: PlatformPorts = {};
  if (env.PARTS.includes('broker')) {
    // Packets up to 4x the payload limit get a counted payload_too_large; larger ones cut the connection.
    const maxPacketBytes = 4 * env.MAX_PAYLOAD_BYTES;
    const onTelemetry = (_deviceId: string, topic: string, payload: Buffer) =>
      core.accept(topic, payload, 'embedded');
    const wsPort = env.MQTT_WS_PORT > 0 || env.MQTT_WS_PORT === 0 ? env.MQTT_WS_PORT : undefined;
    const tlsFiles = config.tls
      ? {
          certFile: config.tls.certFile,
          keyFile: config.tls.keyFile,
          ...(config.tls.caFile ? { caFile: config.tls.caFile } : {}),
        }
      : undefined;
    // The connection cap: MQTT_MAX_CONNECTIONS, or what this process's open-files limit leaves after a
    // reserve for the spool, SQLite, the API and the store (open-files.ts). An edge process of a
    // cluster derives its own from its own limit unless the setting divides a total between them.
    const openFiles = readOpenFilesLimit();
    const maxConnections = env.MQTT_MAX_CONNECTIONS ?? defaultMaxConnections(openFiles);
    logger.info(
      {
        maxConnections,
        openFilesLimit: openFiles ?? 'unknown',
        setBy: env.MQTT_MAX_CONNECTIONS ? 'MQTT_MAX_CONNECTIONS' : 'open-files limit',
      },
      'mqtt connection cap',
    );
    if (env.MQTT_PROCESSES === 1 && maxConnections > defaultMaxConnections(openFiles)) {
      logger.warn(
        { maxConnections, openFilesLimit: openFiles },
        'MQTT_MAX_CONNECTIONS leaves less than the reserve of the open-files limit: at full load the spool and the API may fail with EMFILE',
      );
    }
    broker =
      env.MQTT_PROCESSES > 1
        ? createBrokerCluster({
            processes: env.MQTT_PROCESSES,
            edge: {
              registryDir: path.join(config.dataDir, 'registry'),
              host: env.BIND_HOST,
              port: env.MQTT_PORT,
              ...(wsPort !== undefined ? { wsPort } : {}),
              ...(tlsFiles ? { tls: tlsFiles, tlsPort: env.MQTTS_PORT, wssPort: env.MQTT_WSS_PORT } : {}),
              maxPacketBytes,
              ...(env.MQTT_MAX_CONNECTIONS !== undefined
                ? { maxConnections: Math.ceil(env.MQTT_MAX_CONNECTIONS / env.MQTT_PROCESSES) }
                : {}),
              logLevel: env.LOG_LEVEL,
            },
            onTelemetry,
            logger,
          })
        : createBroker({
            registry,
            host: env.BIND_HOST,
            port: env.MQTT_PORT,
            ...(wsPort !== undefined ? { wsPort } : {}),
            ...(tlsFiles ? { tls: tlsFiles, tlsPort: env.MQTTS_PORT, wssPort: env.MQTT_WSS_PORT } : {}),
            maxPacketBytes,
            maxConnections,
            metrics,
            logger,
            onTelemetry,
          });
    const bound = await broker.listen();
    ports.mqtt = bound.tcpPort;
    if (bound.wsPort !== undefined) ports.ws = bound.wsPort;
    if (bound.tlsPort !== undefined) ports.mqtts = bound.tlsPort;
    if (bound.wssPort !== undefined) ports.wss = bound.wssPort;
  }
  if (env.JT808_PORT > 0 && env.PARTS.includes('ingest')) {
    jt808 = new Jt808Server({
      host: env.BIND_HOST,
      port: env.JT808_PORT,
      registry,
      ingest: (objects) => core.acceptFixObjects(objects, 'jt808'),
      deadLetter: (payload) => {
        if (broker)
          void broker.publish(DEAD_LETTER_TOPIC, payload, { qos: 0, retain: false }).catch(() => undefined);
        else external?.client.publish(DEAD_LETTER_TOPIC, payload, { qos: 0 });
      },
      metrics,
      logger,
      allowUnauthenticated: env.JT808_ALLOW_UNAUTHENTICATED,
      idleTimeoutMs: env.JT808_IDLE_TIMEOUT_S * 1000,
      commandTimeoutMs: env.JT808_COMMAND_TIMEOUT_S * 1000,
    });
    ports.jt808 = await jt808.listen();
    const triggers = wireJt808Triggers({
      commands: jt808.commands,
      registry,
      compliance,
      violationTexts: env.JT808_VIOLATION_TEXTS,
      logger,
    });
    complianceService.bus.on('violation', triggers.onViolation);
  }
  if (env.INGEST_MQTT_URL) {
    external = await startExternalIngest({
      url: env.INGEST_MQTT_URL,
      clientId: env.INGEST_MQTT_CLIENT_ID,
      ...(env.INGEST_MQTT_USERNAME ? { username: env.INGEST_MQTT_USERNAME } : {}),
      ...(env.INGEST_MQTT_PASSWORD ? { password: env.INGEST_MQTT_PASSWORD } : {}),
      ...(tls?.ca ? { ca: tls.ca } : {}),
      core,
      logger,
    });
  }

  const clusterFigures = (s: object) => {
    const c = s as { processes?: number; connectionsByProcess?: Record<string, number> };
    return { processes: c.processes ?? 0, connectionsByProcess: c.connectionsByProcess ?? {} };
  };
  const health = async (): Promise<HealthReport> => {
    const components: HealthReport['components'] = {};
    if (broker) {
      const s = broker.stats();
      const room = capacityHealth(s);
      components.broker = {
        state: room.state,
        ...(room.detail !== undefined ? { detail: room.detail } : {}),
        connections: s.connections,
        ...room.figures,
        // where devices connect (the simulator's evaluate finds the broker from here)
        ports: Object.fromEntries(
          Object.entries({ mqtt: ports.mqtt, ws: ports.ws, mqtts: ports.mqtts, wss: ports.wss }).filter(
            (e): e is [string, number] => e[1] !== undefined,
          ),
        ),
        // spread over edge processes: how many run, and the connections of each (by pid)
        ...(env.MQTT_PROCESSES > 1 ? clusterFigures(s) : {}),
      };
    }
    if (jt808) components.jt808 = { state: 'ok', ...jt808.stats() };
    if (external) {
      components.externalBroker = external.client.connected
        ? { state: 'ok', url: env.INGEST_MQTT_URL ?? '' }
        : {
            state: 'degraded',
            detail: 'reconnecting to the external broker',
            url: env.INGEST_MQTT_URL ?? '',
          };
    }
    const pumpState = pump.status();
    let storeState: HealthState = 'ok';
    let detail: string | undefined;
    if (!storeOpened) {
      storeState = 'degraded';
      detail = 'store not reachable yet; fixes are kept in the spool';
    } else if (!pumpState.storeOk) {
      storeState = 'degraded';
      detail = `store writes failing (${pumpState.lastError ?? 'unknown error'}); fixes are kept in the spool`;
    }
    components.store = {
      state: storeState,
      name: store.name,
      ok: storeState === 'ok',
      ...(detail ? { detail } : {}),
      // InfluxDB: sockets open to it now, the cap, and calls waiting for a socket
      ...(influxConnection
        ? {
            sockets: influxConnection.openSockets,
            maxSockets: influxConnection.maxSockets,
            waitingForSocket: influxConnection.waiting,
          }
        : {}),
    };
    const cs = complianceService.status();
    const complianceDetail = !eventsOpened
      ? 'event store not reachable yet; violations are kept in the outbox'
      : !cs.storeOk
        ? `event store writes failing (${cs.lastError ?? 'unknown error'}); violations are kept in the outbox`
        : !cs.stateSaved
          ? `engine state not saved (${cs.stateError ?? 'unknown error'}); a restart would lose open violations`
          : !cs.evidence.storeOk
            ? `evidence store calls failing (${cs.evidence.lastError ?? 'unknown error'}); ${cs.evidence.due} packages wait in the durable queue`
            : undefined;
    components.compliance = {
      state: complianceDetail ? 'degraded' : 'ok',
      eventStore: events.name,
      queuedViolations: cs.queuedViolations,
      queuedTrips: cs.queuedTrips,
      outbox: cs.outbox,
      pendingEvidence: cs.pendingEvidence,
      // the durable evidence queue: due, in memory, store calls running (and the most at once), bound
      evidence: {
        due: cs.evidence.due,
        window: cs.evidence.window,
        running: cs.evidence.running,
        peakRunning: cs.evidence.peakRunning,
        maxRunning: cs.evidence.maxRunning,
        stored: cs.evidence.stored,
        failed: cs.evidence.failed,
      },
      vehicles: cs.vehicles,
      // data quality (issue 17): sensor readings that flickered back, fixes rejected as outliers
      sensorGlitches: cs.sensorGlitches,
      outlierFixes: cs.outlierFixes,
      // late fixes judged in time order (received, re-judgings, duplicates, beyond the history, published)
      late: { ...cs.late },
      // silences the platform's own outages voided, and the outage going on (GET /api/v1/platform/outages)
      platformGaps: cs.platformGaps,
      outage: cs.outage ? cs.outage.cause : null,
      // what silence is judged by, and up to when: the simulator's evaluate command waits on these
      clock: clockMode,
      lastTickAt: Number.isFinite(cs.lastTickAt) ? new Date(cs.lastTickAt).toISOString() : null,
      ...(complianceDetail ? { detail: complianceDetail } : {}),
    };
    components.webhooks = { state: 'ok', ...webhooks.status() };
    const spoolStats = spool.stats();
    const bp = backpressure.stats();
    const pressureDetail =
      bp.fill >= 1
        ? `spool full: ${bp.reason ?? 'at its limit'}; acknowledgements are withheld until the store catches up (devices keep their fixes and send them again)`
        : bp.fill >= SLOW_AT
          ? `spool nearly full: ${bp.reason ?? 'near its limit'}; acknowledgements are slowed (the store is slower than intake)`
          : undefined;
    const spoolDetail = spoolStats.failed
      ? `the spool refuses every message (${spoolStats.lastError ?? 'unknown error'}): nothing is acknowledged`
      : spoolStats.failing
        ? `spool writes failing (${spoolStats.lastError ?? 'unknown error'}): messages are not acknowledged, devices send them again`
        : !pumpState.spoolOk
          ? `the store pump cannot read the spool or move its checkpoint (${pumpState.spoolError ?? 'unknown error'}); retrying`
          : pressureDetail;
    components.spool = {
      state: spoolStats.failed ? 'down' : spoolDetail ? 'degraded' : 'ok',
      ...(spoolDetail ? { detail: spoolDetail } : {}),
      depthFixes: spoolStats.depthRecords,
      depthBytes: spoolStats.depthBytes,
      segments: spoolStats.segments,
      appendFailures: spoolStats.appendFailures,
      // the limits and how close the spool is to them
      diskBytes: spoolStats.diskBytes,
      limitBytes: env.SPOOL_MAX_BYTES,
      fill: Math.round(bp.fill * 1000) / 1000,
      oldestAgeS:
        spoolStats.oldestAppendedAt === undefined
          ? 0
          : Math.round((Date.now() - spoolStats.oldestAppendedAt) / 100) / 10,
      waitingMessages: bp.waiting,
      slowedMessages: bp.slowed,
      heldMessages: bp.held,
    };
    return { status: worstState(Object.values(components).map((c) => c.state)), components };
  };

  // One append-only, hash-chained record of every change made through the API (api/audit/), and of the
  // platform's own stops of webhook subscriptions.
  const audit = new AuditLog({ file: path.join(config.dataDir, 'audit.sqlite') });
  const webhookState = auditSnapshots({ webhooks: webhooks.store });
  webhooks.onStateChange = (change) => {
    Promise.resolve(webhookState('webhook', change.subscription))
      .then((state) =>
        audit.append({
          at: change.at,
          actor: 'platform',
          keyId: 'platform',
          role: 'system',
          action: `webhook.${change.state}`,
          entityKind: 'webhook',
          entityId: change.subscription,
          before: null,
          after: stateDigest(state),
        }),
      )
      .catch((err: Error) =>
        logger.error({ err: err.message }, 'audit: a webhook stop could not be recorded'),
      );
  };
  const adminToken = await resolveAdminToken(config, logger);
  // API keys beside the registry; ADMIN_TOKEN stays the bootstrap admin that creates the first keys.
  const apiKeys = new SqliteApiKeys({ dir: path.join(config.dataDir, 'registry') });
  // A disabled or revoked key's webhook subscriptions get no new deliveries.
  webhooks.ownerActive = (keyId) => keyId === ADMIN_PRINCIPAL.keyId || apiKeys.get(keyId)?.enabled === true;
  let api: FastifyInstance | undefined;
  let idempotency: IdempotencyStore | undefined;
  if (env.PARTS.includes('api')) {
    // Responses to requests with an Idempotency-Key, replayed after a restart too.
    idempotency = new IdempotencyStore({ file: path.join(config.dataDir, 'idempotency.sqlite') });
    const useCache = env.PARTS.includes('broker') || env.INGEST_MQTT_URL !== undefined;
    api = await buildApi(
      {
        adminToken,
        positions: useCache ? latest : store,
        tracks: store,
        live,
        registry,
        health,
        metrics,
        ...(broker?.metricsText ? { moreMetrics: () => broker?.metricsText?.() ?? Promise.resolve('') } : {}),
        compliance,
        events,
        webhooks,
        idempotency,
        audit,
        outages: { outages: (gapLimit) => complianceService.outageRecords(gapLimit) },
        dispatch: liveUnits,
        incidents,
        reportWorld: () => complianceService.currentWorld(),
        keys: apiKeys,
        resources: {
          registry,
          // Only the embedded broker's connections can be ended from here; an external broker's are its own.
          dropSessions: (id) => {
            broker?.dropDeviceSessions(id);
            jt808?.dropDeviceSessions(id);
          },
          onChange: () => complianceService.recompile(),
          ...(jt808 ? { jt808Commands: jt808.commands } : {}),
        },
      },
      {
        // Every log line of a request carries its reqId (= the X-Request-Id answered).
        loggerInstance: logger.child({ component: 'api' }),
        idempotencyTtlMs: env.IDEMPOTENCY_TTL_S * 1000,
        ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
        rateLimitPerMinute: env.API_RATE_LIMIT,
        authFailuresPerMinute: env.API_AUTH_FAILURE_LIMIT,
        corsOrigins: env.API_CORS_ORIGINS,
        streamTicketTtlMs: env.LIVE_TICKET_TTL_S * 1000,
      },
    );
    // The monitor console at / and /console: a page over the public API (console/).
    await api.register(consoleRoutes, {
      config: {
        displayCrs: env.CONSOLE_TILE_URL ? env.CONSOLE_TILE_CRS : 'WGS84',
        ...(env.CONSOLE_TILE_URL
          ? {
              tiles: {
                urls: env.CONSOLE_TILE_URL,
                maxZoom: env.CONSOLE_TILE_MAX_ZOOM,
                ...(env.CONSOLE_TILE_ATTRIBUTION ? { attribution: env.CONSOLE_TILE_ATTRIBUTION } : {}),
              },
            }
          : {}),
        version: PLATFORM_VERSION,
      },
    });
    await api.listen({ host: env.BIND_HOST, port: env.HTTP_PORT });
    const address = api.server.address();
    if (address && typeof address === 'object') ports.http = address.port;
  }

  let fleet: Awaited<ReturnType<typeof startDemoFleet>> | undefined;
  if (env.SIMULATE.fleet) {
    const url =
      env.INGEST_MQTT_URL ??
      `mqtt://${env.BIND_HOST === '0.0.0.0' ? '127.0.0.1' : env.BIND_HOST}:${ports.mqtt}`;
    fleet = startDemoFleet({
      url,
      devices: [...demoRegistrySeed().devices, ...demoScenarioFleet().devices],
      speedup: env.SIMULATE_SPEEDUP,
      // Sped up, the demo replays the last DEMO_CATCH_UP_MS at that speed and then runs in real time.
      ...(env.SIMULATE_SPEEDUP > 1 ? { startTs: Date.now() - DEMO_CATCH_UP_MS, catchUp: true } : {}),
      behaviourFor: scenarioBehaviourFor(),
      logger,
    });
  }

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
    health,
    stop,
  };
}

async function seedDemo(registry: SqliteRegistry): Promise<void> {
  // the demo fleet, and the sandbox truck a person publishes as by hand (README), which the fleet never drives
  for (const seed of [demoRegistrySeed(), demoSandboxSeed()]) {
    for (const firm of seed.firms) registry.upsertFirm(firm);
    for (const vehicle of seed.vehicles) registry.upsertVehicle(vehicle);
    for (const officer of seed.officers) registry.upsertOfficer(officer);
    for (const device of seed.devices) await registry.putDevice(device);
  }
}

function isComplianceEmpty(compliance: ComplianceRegistry): boolean {
  return (['site', 'route', 'zone', 'permit'] as const).every((kind) => compliance.list(kind).length === 0);
}

/** The demo compliance world (sites, routes, zones, permits) and the scenario fleet's trucks. */
async function seedDemoCompliance(registry: SqliteRegistry, compliance: ComplianceRegistry): Promise<void> {
  const fleet = demoScenarioFleet();
  for (const vehicle of fleet.vehicles) registry.upsertVehicle(vehicle);
  for (const device of fleet.devices) if (!registry.device(device.id)) await registry.putDevice(device);
  const seed = demoComplianceSeed(Date.now());
  const strip = <T extends { version: number }>({ version: _v, ...rest }: T) => rest;
  for (const site of seed.sites) compliance.put('site', strip(site));
  for (const route of seed.routes) compliance.put('route', strip(route));
  for (const zone of seed.zones) compliance.put('zone', strip(zone));
  for (const permit of seed.permits) compliance.put('permit', { ...strip(permit), state: 'active' });
}
