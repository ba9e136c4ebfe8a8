import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import { hashGate } from '../registry/hash-gate.ts';

export const AUTH_FAILURE_REASONS = [
  'unknown_user',
  'bad_secret',
  'disabled',
  'missing_credentials',
  /** refused by the failed-login throttle (login-throttle.ts), CONNACK 3 */
  'throttled',
  /** the secret-check queue was full (registry/hash-gate.ts), CONNACK 3 */
  'busy',
  /** good credentials, but the client id belongs to another device: a takeover attempt, CONNACK 2 */
  'client_id_takeover',
  /** good device credentials, a client id that belongs to no device (client-id.ts), CONNACK 2 */
  'client_id_not_own',
] as const;
/** what a throttled CONNECT was throttled by: its device id or its source address */
export const THROTTLE_KEYS = ['device', 'address'] as const;
export type ThrottleKey = (typeof THROTTLE_KEYS)[number];
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];
export const ACL_ACTIONS = ['publish', 'subscribe'] as const;
export type AclAction = (typeof ACL_ACTIONS)[number];
export type ClientType = 'device' | 'service';
/**
 * Why a connection was refused for want of room: `capacity` = CONNECT answered with CONNACK 3 at the
 * connection cap; `socket_limit` = socket closed at accept, beyond the cap plus its margin.
 */
export const REFUSAL_REASONS = ['capacity', 'socket_limit'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * Broker metrics on the platform's prom-client registry, all prefixed `citywatch_mqtt_`. Every label
 * value is created up front so dashboards see zeros instead of missing series.
 */
export function createBrokerMetrics(registry: MetricsRegistry) {
  const connections = new Gauge({
    name: 'citywatch_mqtt_connections',
    help: 'Authenticated MQTT connections currently open, by client type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const connects = new Counter({
    name: 'citywatch_mqtt_connects_total',
    help: 'Successful MQTT connections (CONNACK 0), by client type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'citywatch_mqtt_auth_failures_total',
    help: 'Refused MQTT CONNECTs, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const aclDenials = new Counter({
    name: 'citywatch_mqtt_acl_denials_total',
    help: 'PUBLISH or SUBSCRIBE refused by the topic ACL, by action',
    labelNames: ['action'] as const,
    registers: [registry],
  });
  const messagesIn = new Counter({
    name: 'citywatch_mqtt_messages_in_total',
    help: 'PUBLISH packets accepted from clients, by QoS',
    labelNames: ['qos'] as const,
    registers: [registry],
  });
  const telemetryFailures = new Counter({
    name: 'citywatch_mqtt_telemetry_failures_total',
    help: 'Telemetry messages whose ingest hook failed (connection closed without PUBACK)',
    registers: [registry],
  });
  for (const type of ['device', 'service'] as const) {
    connections.labels(type).set(0);
    connects.labels(type).inc(0);
  }
  for (const reason of AUTH_FAILURE_REASONS) authFailures.labels(reason).inc(0);
  for (const action of ACL_ACTIONS) aclDenials.labels(action).inc(0);
  for (const qos of ['0', '1', '2']) messagesIn.labels(qos).inc(0);
  const oversize = new Counter({
    name: 'citywatch_mqtt_oversize_packets_total',
    help: 'Connections cut because a packet declared more than the size limit (or a malformed length)',
    registers: [registry],
  });
  const refused = new Counter({
    name: 'citywatch_mqtt_connections_refused_total',
    help: 'MQTT connections refused for want of room: CONNACK 3 at the cap (capacity), or closed at accept beyond it (socket_limit)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) refused.labels(reason).inc(0);
  const throttled = new Counter({
    name: 'citywatch_mqtt_auth_throttled_total',
    help: 'CONNECTs refused by the failed-login throttle (CONNACK 3) before any secret check, by the key that was blocked',
    labelNames: ['by'] as const,
    registers: [registry],
  });
  for (const by of THROTTLE_KEYS) throttled.labels(by).inc(0);
  new Gauge({
    name: 'citywatch_mqtt_secret_checks_waiting',
    help: 'Secret checks (scrypt) waiting for one of the few thread-pool slots they may use (registry/hash-gate.ts)',
    registers: [registry],
    collect() {
      this.set(hashGate.stats.waiting);
    },
  });
  return {
    connections,
    connects,
    authFailures,
    aclDenials,
    messagesIn,
    telemetryFailures,
    oversize,
    refused,
    throttled,
  };
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;

/** Plain-number mirror of the metrics, for `stats()` (no prom-client parsing needed). */
export interface BrokerStats {
  /** authenticated connections open now, all types */
  connections: number;
  /** the same by client type */
  connectionsByType: Record<ClientType, number>;
  /** devices with at least one live connection */
  devicesOnline: number;
  connects: Record<ClientType, number>;
  authFailures: Record<AuthFailureReason, number>;
  aclDenials: Record<AclAction, number>;
  messagesIn: Record<'0' | '1' | '2', number>;
  telemetryFailures: number;
  oversizePackets: number;
  connectionsRefused: Record<RefusalReason, number>;
  /** CONNECTs refused by the failed-login throttle, by what was blocked */
  authThrottled: Record<ThrottleKey, number>;
  /** the connection cap (MQTT_MAX_CONNECTIONS); 0 when uncapped (a number that adds up across processes) */
  maxConnections: number;
  /** connections counted against the cap now (CONNECT received, socket not yet closed) */
  admittedConnections: number;
}

export function emptyStats(): BrokerStats {
  return {
    connections: 0,
    connectionsByType: { device: 0, service: 0 },
    devicesOnline: 0,
    connects: { device: 0, service: 0 },
    authFailures: {
      unknown_user: 0,
      bad_secret: 0,
      disabled: 0,
      missing_credentials: 0,
      throttled: 0,
      busy: 0,
      client_id_takeover: 0,
      client_id_not_own: 0,
    },
    authThrottled: { device: 0, address: 0 },
    aclDenials: { publish: 0, subscribe: 0 },
    messagesIn: { '0': 0, '1': 0, '2': 0 },
    telemetryFailures: 0,
    oversizePackets: 0,
    connectionsRefused: { capacity: 0, socket_limit: 0 },
    maxConnections: 0,
    admittedConnections: 0,
  };
}

/** Counts into both the prom-client metrics and the plain stats. */
export class BrokerCounters {
  readonly stats = emptyStats();
  /** labelled children resolved once: `labels()` hashes its arguments on every call (hot path) */
  private readonly messagesInByQos: ReturnType<BrokerMetrics['messagesIn']['labels']>[];
  constructor(private readonly metrics: BrokerMetrics) {
    this.messagesInByQos = ['0', '1', '2'].map((q) => metrics.messagesIn.labels(q));
  }

  connected(type: ClientType): void {
    this.stats.connects[type]++;
    this.stats.connections++;
    this.stats.connectionsByType[type]++;
    this.metrics.connects.labels(type).inc();
    this.metrics.connections.labels(type).inc();
  }
  disconnected(type: ClientType): void {
    this.stats.connections--;
    this.stats.connectionsByType[type]--;
    this.metrics.connections.labels(type).dec();
  }
  authFailure(reason: AuthFailureReason): void {
    this.stats.authFailures[reason]++;
    this.metrics.authFailures.labels(reason).inc();
  }
  authThrottled(by: ThrottleKey): void {
    this.stats.authThrottled[by]++;
    this.metrics.throttled.labels(by).inc();
  }
  aclDenial(action: AclAction): void {
    this.stats.aclDenials[action]++;
    this.metrics.aclDenials.labels(action).inc();
  }
  messageIn(qos: 0 | 1 | 2): void {
    const label = String(qos) as '0' | '1' | '2';
    this.stats.messagesIn[label]++;
    this.messagesInByQos[qos]!.inc();
  }
  oversize(): void {
    this.stats.oversizePackets++;
    this.metrics.oversize.inc();
  }
  connectionRefused(reason: RefusalReason): void {
    this.stats.connectionsRefused[reason]++;
    this.metrics.refused.labels(reason).inc();
  }
  telemetryFailure(): void {
    this.stats.telemetryFailures++;
    this.metrics.telemetryFailures.inc();
  }
}
