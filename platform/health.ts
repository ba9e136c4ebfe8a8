import { type HealthReport, type HealthState, worstState } from '../api/schemas.ts';
import { capacityHealth } from '../broker/capacity.ts';
import type { ComplianceClockMode } from '../compliance/clock.ts';
import type { ComplianceService, ComplianceStatus } from '../compliance/service.ts';
import type { WebhookDispatcher } from '../delivery/webhooks/dispatcher.ts';
import type { Backpressure } from '../ingest/backpressure.ts';
import { SLOW_AT } from '../ingest/backpressure.ts';
import type { StorePump } from '../ingest/pump.ts';
import type { Spool } from '../ingest/spool.ts';
import type { EventStore } from '../store/events-port.ts';
import type { InfluxConnection } from '../store/influx/http.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import type { EntryPoints } from './entry-points.ts';

type Component = HealthReport['components'][string];
type Env = Config['env'];
type PumpStatus = ReturnType<StorePump['status']>;

/** What GET /healthz reports on, part by part. */
export interface HealthParts {
  entry: EntryPoints;
  pump: StorePump;
  store: FixStore;
  events: EventStore;
  influxConnection: InfluxConnection | undefined;
  /** whether each store has been opened yet (they are retried in the background while unreachable) */
  storeOpened: () => boolean;
  eventsOpened: () => boolean;
  complianceService: ComplianceService;
  clockMode: ComplianceClockMode;
  webhooks: WebhookDispatcher;
  spool: Spool;
  backpressure: Backpressure;
}

/**
 * GET /healthz: every part's state (ok, degraded, down) with a detail that says what is wrong and what
 * happens meanwhile, and the figures an operator needs; the worst part's state is the platform's. One
 * named check per part below.
 */
export function platformHealth(config: Config, parts: HealthParts): () => Promise<HealthReport> {
  const { env } = config;
  const { broker, jt808, external } = parts.entry;
  return async (): Promise<HealthReport> => {
    const components: HealthReport['components'] = {};
    if (broker) components.broker = brokerHealth(env, broker, parts.entry.ports);
    if (jt808) components.jt808 = { state: 'ok', ...jt808.stats() };
    if (external) components.externalBroker = externalBrokerHealth(env, external.client.connected);
    const pumpState = parts.pump.status();
    components.store = storeHealth(parts, pumpState);
    components.compliance = complianceHealth(parts);
    components.webhooks = { state: 'ok', ...parts.webhooks.status() };
    components.spool = spoolHealth(env, parts, pumpState);
    return { status: worstState(Object.values(components).map((c) => c.state)), components };
  };
}

/** The embedded MQTT broker: its room (broker/capacity.ts), its ports, its processes when spread. */
function brokerHealth(
  env: Env,
  broker: NonNullable<EntryPoints['broker']>,
  ports: EntryPoints['ports'],
): Component {
  const s = broker.stats();
  const room = capacityHealth(s);
  return {
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

function clusterFigures(s: object): { processes: number; connectionsByProcess: Record<string, number> } {
  const c = s as { processes?: number; connectionsByProcess?: Record<string, number> };
  return { processes: c.processes ?? 0, connectionsByProcess: c.connectionsByProcess ?? {} };
}

/** An external broker the platform subscribes to (INGEST_MQTT_URL). */
function externalBrokerHealth(env: Env, connected: boolean): Component {
  const url = env.INGEST_MQTT_URL ?? '';
  return connected
    ? { state: 'ok', url }
    : { state: 'degraded', detail: 'reconnecting to the external broker', url };
}

/** The fix store: reachable, its writes working (the pump's view), InfluxDB's sockets. */
function storeHealth(parts: HealthParts, pumpState: PumpStatus): Component {
  const influx = parts.influxConnection;
  let state: HealthState = 'ok';
  let detail: string | undefined;
  if (!parts.storeOpened()) {
    state = 'degraded';
    detail = 'store not reachable yet; fixes are kept in the spool';
  } else if (!pumpState.storeOk) {
    state = 'degraded';
    detail = `store writes failing (${pumpState.lastError ?? 'unknown error'}); fixes are kept in the spool`;
  }
  return {
    state,
    name: parts.store.name,
    ok: state === 'ok',
    ...(detail ? { detail } : {}),
    // InfluxDB: sockets open to it now, the cap, and calls waiting for a socket
    ...(influx
      ? { sockets: influx.openSockets, maxSockets: influx.maxSockets, waitingForSocket: influx.waiting }
      : {}),
  };
}

/** What is wrong with the compliance service's deliveries and saves, the first that applies. */
function complianceProblem(cs: ComplianceStatus, eventsOpened: boolean): string | undefined {
  if (!eventsOpened) return 'event store not reachable yet; violations are kept in the outbox';
  if (!cs.storeOk)
    return `event store writes failing (${cs.lastError ?? 'unknown error'}); violations are kept in the outbox`;
  if (!cs.stateSaved)
    return `engine state not saved (${cs.stateError ?? 'unknown error'}); a restart would lose open violations`;
  if (!cs.evidence.storeOk)
    return `evidence store calls failing (${cs.evidence.lastError ?? 'unknown error'}); ${cs.evidence.due} packages wait in the durable queue`;
  return undefined;
}

/** The compliance service: its queues, the evidence queue, data quality, late fixes, outages, clock. */
function complianceHealth(parts: HealthParts): Component {
  const cs = parts.complianceService.status();
  const detail = complianceProblem(cs, parts.eventsOpened());
  return {
    state: detail ? 'degraded' : 'ok',
    eventStore: parts.events.name,
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
    clock: parts.clockMode,
    lastTickAt: Number.isFinite(cs.lastTickAt) ? new Date(cs.lastTickAt).toISOString() : null,
    ...(detail ? { detail } : {}),
  };
}

/** The back-pressure the spool puts on intake, when near or at its limits. */
function pressureProblem(bp: ReturnType<Backpressure['stats']>): string | undefined {
  if (bp.fill >= 1)
    return `spool full: ${bp.reason ?? 'at its limit'}; acknowledgements are withheld until the store catches up (devices keep their fixes and send them again)`;
  if (bp.fill >= SLOW_AT)
    return `spool nearly full: ${bp.reason ?? 'near its limit'}; acknowledgements are slowed (the store is slower than intake)`;
  return undefined;
}

/** The spool: its writes, the pump reading it, its depth and how close it is to its limits. */
function spoolHealth(env: Env, parts: HealthParts, pumpState: PumpStatus): Component {
  const spoolStats = parts.spool.stats();
  const bp = parts.backpressure.stats();
  const detail = spoolStats.failed
    ? `the spool refuses every message (${spoolStats.lastError ?? 'unknown error'}): nothing is acknowledged`
    : spoolStats.failing
      ? `spool writes failing (${spoolStats.lastError ?? 'unknown error'}): messages are not acknowledged, devices send them again`
      : !pumpState.spoolOk
        ? `the store pump cannot read the spool or move its checkpoint (${pumpState.spoolError ?? 'unknown error'}); retrying`
        : pressureProblem(bp);
  return {
    state: spoolStats.failed ? 'down' : detail ? 'degraded' : 'ok',
    ...(detail ? { detail } : {}),
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
}
