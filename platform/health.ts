import { type HealthReport, type HealthState, worstState } from '../api/schemas.ts';
import type { WebhookDispatcher } from '../api/webhooks/dispatcher.ts';
import { capacityHealth } from '../broker/capacity.ts';
import type { ComplianceClockMode } from '../compliance/clock.ts';
import type { ComplianceService } from '../compliance/service.ts';
import type { Backpressure } from '../ingest/backpressure.ts';
import { SLOW_AT } from '../ingest/backpressure.ts';
import type { StorePump } from '../ingest/pump.ts';
import type { Spool } from '../ingest/spool.ts';
import type { EventStore } from '../store/events-port.ts';
import type { InfluxConnection } from '../store/influx/http.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import type { EntryPoints } from './entry-points.ts';

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
 * happens meanwhile, and the figures an operator needs; the worst part's state is the platform's.
 */
export function platformHealth(config: Config, parts: HealthParts): () => Promise<HealthReport> {
  const { env } = config;
  const {
    pump,
    store,
    events,
    influxConnection,
    complianceService,
    clockMode,
    webhooks,
    spool,
    backpressure,
  } = parts;
  const { ports, broker, jt808, external } = parts.entry;
  const clusterFigures = (s: object) => {
    const c = s as { processes?: number; connectionsByProcess?: Record<string, number> };
    return { processes: c.processes ?? 0, connectionsByProcess: c.connectionsByProcess ?? {} };
  };
  return async (): Promise<HealthReport> => {
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
    if (!parts.storeOpened()) {
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
    const complianceDetail = !parts.eventsOpened()
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
}
