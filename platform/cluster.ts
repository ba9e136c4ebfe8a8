/**
 * The cluster mode's process: `PARTS=edge` and/or `PARTS=worker` with `CLUSTER_NATS_URLS` (platform/
 * config.ts validates both). `npm start` (platform/main.ts) hands over to here when PARTS names them. The registry is read from DATA_DIR as in the single
 * process and kept up to date from the cluster's registry stream (registry-sync.ts): the parts start
 * once it has been read to its end. The store is the configured one (InfluxDB with INFLUX_URL: every
 * worker writes to it).
 *
 * Serves GET /metrics and /healthz on CLUSTER_METRICS_PORT (platform/cluster-metrics.ts; printed first:
 * `citywatch metrics http://HOST:PORT/metrics`).
 * Prints one line per part when it runs (`citywatch edge mqtt://HOST:PORT`, `citywatch worker ID`), and
 * on SIGINT/SIGTERM stops cleanly: an edge stops taking messages and lets the publishes under way be
 * acknowledged; a worker checkpoints its partitions and gives their leases back.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { type Edge, startEdge } from '../cluster/edge.ts';
import { type ClusterSettings, openCluster } from '../cluster/jetstream.ts';
import { subscribeLiveViolations } from '../cluster/live-feed.ts';
import { IntakeHeartbeat } from '../cluster/outages.ts';
import { registerEdgeMetrics, registerWorkerMetrics } from '../cluster/part-metrics.ts';
import { RegistrySync } from '../cluster/registry-sync.ts';
import { registerRegistrySyncMetrics } from '../cluster/registry-sync-metrics.ts';
import { Worker } from '../cluster/worker.ts';
import { alertTopic } from '../compliance/service.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../registry/compliance.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { EmbeddedEventStore } from '../store/events-embedded.ts';
import type { EventStore } from '../store/events-port.ts';
import { createStore } from '../store/index.ts';
import { InfluxEventStore } from '../store/influx/events.ts';
import { InfluxConnection } from '../store/influx/http.ts';
import type { FixStore } from '../store/port.ts';
import { edgeJt808 } from './cluster-jt808.ts';
import { type PartsMetrics, startPartsMetrics } from './cluster-metrics.ts';
import type { Config } from './config.ts';

export function clusterSettings(config: Config, name: string): ClusterSettings {
  const { env } = config;
  return {
    urls: env.CLUSTER_NATS_URLS ?? [],
    partitions: env.CLUSTER_PARTITIONS,
    replicas: env.CLUSTER_REPLICAS,
    leaseMs: env.CLUSTER_LEASE_S * 1000,
    dedupeWindowMs: env.CLUSTER_DEDUPE_WINDOW_S * 1000,
    streamMaxAgeMs: env.CLUSTER_STREAM_MAX_AGE_H * 3_600_000,
    // the history late fixes are re-judged from: as long as the single process keeps it
    historyMaxAgeMs: (env.BACKFILL_HISTORY_HOURS ?? env.MAX_FIX_AGE_DAYS * 24) * 3_600_000,
    name,
  };
}

async function openWhenReachable(store: Pick<FixStore, 'open' | 'name'>, logger: Logger): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 15_000)) {
    try {
      await store.open();
      return;
    } catch (err) {
      logger.warn(
        { store: store.name, err: (err as Error).message, retryInMs: delay },
        'store not reachable yet',
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function createStores(config: Config): { fixes: FixStore; events: EventStore } {
  if (config.store.kind === 'embedded') {
    return {
      fixes: createStore({ kind: 'embedded', dir: config.store.dir }),
      events: new EmbeddedEventStore({ dir: config.store.dir }),
    };
  }
  const connection = new InfluxConnection(config.store.url, config.store.maxSockets);
  const { kind: _kind, ...influx } = config.store;
  return {
    fixes: createStore({ ...config.store, connection }),
    events: new InfluxEventStore({ ...influx, connection }),
  };
}

export interface ClusterProcess {
  sync: RegistrySync;
  edge?: Edge;
  worker?: Worker;
  workerId?: string;
  /** GET /metrics and /healthz of this process (platform/cluster-metrics.ts) */
  metrics: PartsMetrics;
  stop(): Promise<void>;
}

export async function startClusterParts(config: Config, logger: Logger): Promise<ClusterProcess> {
  const { env } = config;
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // listening before the cluster is reached: a port taken stops the start here
  const metrics = await startPartsMetrics(config, logger);
  const cluster = await openCluster(clusterSettings(config, `citywatch ${env.PARTS.join('+')} ${workerId}`));
  const registry = new SqliteRegistry({ dir: path.join(config.dataDir, 'registry') });
  const compliance = new ComplianceRegistry({
    dir: path.join(config.dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
  });
  // the registry's changes from every node: applied before the parts start, then as they come
  const sync = new RegistrySync({
    cluster,
    node: workerId,
    devices: registry,
    compliance,
    onRecordApplied: (table, id, record, before) => {
      result.worker?.recompile();
      // a device disabled, deleted or given a new secret elsewhere: its connections here end (as the
      // single process's API ends them)
      const ended = record === null || record.enabled !== 1 || record.secret_hash !== before?.secret_hash;
      if (table === 'device' && before !== null && ended) result.edge?.dropDeviceSessions(id);
    },
    logger,
  });
  registerRegistrySyncMetrics(metrics.registry, () => sync.stats);
  const stops: (() => Promise<void>)[] = [
    () => metrics.close(),
    async () => {
      await sync.stop();
      compliance.close();
      registry.close();
    },
  ];
  const result: ClusterProcess = {
    sync,
    metrics,
    async stop() {
      metrics.health = () => ({ status: 'stopping', parts: env.PARTS });
      for (const stop of stops.reverse())
        await stop().catch((err: Error) => logger.error({ err }, 'stop failed'));
      await cluster.close();
    },
  };
  sync.start();
  await sync.caughtUp;
  if (env.PARTS.includes('worker')) {
    const { fixes, events } = createStores(config);
    await Promise.all([openWhenReachable(fixes, logger), openWhenReachable(events, logger)]);
    const worker = new Worker({
      cluster,
      workerId,
      partitions: env.CLUSTER_PARTITIONS,
      registry: compliance,
      fixes,
      events,
      leaseMs: env.CLUSTER_LEASE_S * 1000,
      checkpointMs: env.CLUSTER_CHECKPOINT_S * 1000,
      tickMs: env.CLUSTER_TICK_S * 1000,
      evidenceConcurrency: env.EVIDENCE_CONCURRENCY,
      logger,
    });
    worker.start();
    registerWorkerMetrics(metrics.registry, worker);
    result.worker = worker;
    result.workerId = workerId;
    stops.push(async () => {
      await worker.stop();
      await fixes.close();
      await events.close();
    });
  }
  if (env.PARTS.includes('edge')) {
    // the platform's MQTT service account on this edge (each process's own, as in the single process)
    if (env.SERVICE_PASSWORD) await registry.putServiceCredential('platform', env.SERVICE_PASSWORD);
    // the intake is alive while an edge says so (cluster/outages.ts): a gap in the heartbeat is an outage
    // of the cluster, recorded by the first beat before this edge takes a device's fix
    const heartbeat = new IntakeHeartbeat({
      kv: cluster.outages,
      leaseMs: env.CLUSTER_LEASE_S * 1000,
      keepMs: (env.BACKFILL_HISTORY_HOURS ?? env.MAX_FIX_AGE_DAYS * 24) * 3_600_000,
      // this edge's intake running behind its devices is an outage too (the single process's `behind`);
      // not with COMPLIANCE_CLOCK=fleet (simulations and replays, whose fixes are old on purpose), as the
      // single process's fleet clock opens none
      ...(env.COMPLIANCE_CLOCK === 'wall' ? { behindSince: () => result.edge?.behindSince() } : {}),
      logger,
    });
    await heartbeat
      .beat()
      .catch((err: Error) => logger.warn({ err: err.message }, 'intake heartbeat: first beat failed'));
    heartbeat.start();
    stops.push(() => heartbeat.stop());
    // JT/T 808 commands from any API node to the terminals here, and the platform's own (cluster-jt808.ts)
    const jt808 =
      env.JT808_PORT > 0
        ? await edgeJt808(config, cluster, { edgeId: workerId, edge: () => result.edge, logger })
        : undefined;
    if (jt808) stops.push(() => jt808.stop());
    const edge = await startEdge({
      js: cluster.js,
      registry,
      partitions: env.CLUSTER_PARTITIONS,
      host: env.BIND_HOST,
      port: env.MQTT_PORT,
      limits: {
        maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
        maxFixesPerMessage: env.MAX_FIXES_PER_MESSAGE,
        maxFutureSkewMs: env.MAX_FUTURE_SKEW_S * 1000,
        maxFixAgeMs: env.MAX_FIX_AGE_DAYS * 86_400_000,
      },
      // JT/T 808 terminals on JT808_PORT as in the single process (0: none)
      ...(env.JT808_PORT > 0
        ? {
            jt808: {
              port: env.JT808_PORT,
              registry,
              allowUnauthenticated: env.JT808_ALLOW_UNAUTHENTICATED,
              idleTimeoutMs: env.JT808_IDLE_TIMEOUT_S * 1000,
              commandTimeoutMs: env.JT808_COMMAND_TIMEOUT_S * 1000,
              ...jt808?.hooks,
            },
          }
        : {}),
      logger,
      metrics: metrics.registry,
    });
    registerEdgeMetrics(metrics.registry, edge.stats);
    result.edge = edge;
    stops.push(() => edge.close());
    if (jt808) stops.push(jt808.wire(edge, { registry, compliance }));
    // the MQTT alerts alerts/{firm}/{vehicle}: every violation the workers store, on every edge
    const alerts = subscribeLiveViolations(
      cluster,
      (event) => {
        const v = event.violation;
        edge.broker
          .publish(alertTopic(v.firm, v.vehicle), JSON.stringify(event), { qos: 1, retain: false })
          .catch(() => undefined);
      },
      logger,
    );
    stops.push(async () => alerts.stop());
  }
  metrics.health = () => ({
    status: 'ok',
    parts: env.PARTS,
    ...(result.worker ? { partitions: result.worker.ownedPartitions().length } : {}),
  });
  return result;
}

/** the process shell: configuration, the parts, the lines saying what runs, the signals */
export async function clusterMain(config: Config): Promise<void> {
  const logger = pino({ level: config.env.LOG_LEVEL, base: undefined });
  const parts = await startClusterParts(config, logger);
  const lines: string[] = [];
  // first: the line a test waits for (edge, worker) comes after it
  if (parts.metrics.port !== undefined)
    lines.push(`citywatch metrics http://${config.env.BIND_HOST}:${parts.metrics.port}/metrics`);
  if (parts.edge) lines.push(`citywatch edge mqtt://${config.env.BIND_HOST}:${parts.edge.ports.tcpPort}`);
  if (parts.edge?.jt808Port !== undefined)
    lines.push(`citywatch edge jt808://${config.env.BIND_HOST}:${parts.edge.jt808Port}`);
  if (parts.worker) lines.push(`citywatch worker ${parts.workerId}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  let stopping = false;
  const shutdown = () => {
    if (stopping) process.exit(130);
    stopping = true;
    // a hung step must not hold the process: everything it holds is in the stream or a checkpoint
    setTimeout(() => process.exit(1), config.env.SHUTDOWN_FLUSH_MS + 10_000).unref();
    parts.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
