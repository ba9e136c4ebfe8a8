import { Aedes, type AedesOptions, type Client } from 'aedes';
import { type Logger, pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import type { Registry } from '../registry/types.ts';
import { createAuthorizeSubscribe } from './acl.ts';
import { createAuthenticate } from './auth.ts';
import { identityOf } from './identity.ts';
import { type Listeners, type ListeningPorts, startListeners, type TlsFiles } from './listeners.ts';
import { BrokerCounters, type BrokerStats, createBrokerMetrics } from './metrics.ts';
import { createAuthorizePublish, type TelemetryHook } from './publish.ts';
import { dropDeviceSessions } from './sessions.ts';
import { StatusTracker } from './status.ts';

export interface BrokerOptions {
  registry: Registry;
  /** default 127.0.0.1 */
  host?: string;
  /** MQTT over TCP, default 1883; 0 picks a free port */
  port?: number;
  /** MQTT over WebSocket at `/mqtt`; off unless given */
  wsPort?: number;
  /** TLS identity; enables MQTTS on `tlsPort` (default 8883) and WSS on `wssPort` when given */
  tls?: TlsFiles;
  tlsPort?: number;
  wssPort?: number;
  /** prom-client registry for the `citywatch_mqtt_*` metrics; a private one when omitted */
  metrics?: MetricsRegistry;
  logger?: Logger;
  /**
   * Called for every telemetry message, before its PUBACK: resolve once it is durable (or was
   * dead-lettered); reject to drop the connection without PUBACK so the device sends it again.
   */
  onTelemetry: TelemetryHook;
  /**
   * Largest MQTT packet (Remaining Length) accepted; a client declaring more is disconnected before the
   * body arrives. Default 1 MiB. Payloads under it but over ingest's MAX_PAYLOAD_BYTES are still
   * refused by ingest with a counted, dead-lettered `payload_too_large`.
   */
  maxPacketBytes?: number;
  /** how long close() lets telemetry hooks under way finish, ms (default 5000) */
  closeGraceMs?: number;
  /** passed to aedes (e.g. persistence, heartbeatInterval, connectTimeout, keepaliveLimit) */
  aedes?: Omit<
    AedesOptions,
    | 'authenticate'
    | 'authorizePublish'
    | 'authorizeSubscribe'
    | 'authorizeForward'
    | 'preConnect'
    | 'published'
  >;
}

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

/**
 * The broker as the platform uses it, whether it runs in this process (createBroker) or is spread over
 * edge processes (cluster/hub.ts, MQTT_PROCESSES > 1).
 */
export interface BrokerHandle {
  listen(): Promise<ListeningPorts>;
  close(): Promise<void>;
  stats(): BrokerStats;
  /** Publishes from the platform itself (dead letters, alerts, commands); no ACL applies. */
  publish(topic: string, payload: Buffer | string, opts?: PublishOptions): Promise<void>;
  /** Ends the open connections of a device whose secret or status changed (sessions.ts). */
  dropDeviceSessions(deviceId: string): void;
  /** the citywatch_mqtt_* metrics when they live in other processes (Prometheus text); absent otherwise */
  metricsText?(): Promise<string>;
}

/** The broker in this process. */
export interface Broker extends BrokerHandle {
  readonly aedes: Aedes;
}

/**
 * The embedded MQTT 3.1.1 broker: aedes plus the platform's hooks, one module per job:
 *   auth.ts      CONNECT authentication against the registry (CONNACK 4 / 5)
 *   acl.ts       topic ACL for SUBSCRIBE (0x80 per refused filter)
 *   publish.ts   topic ACL for PUBLISH and the telemetry durability hook (PUBACK after durable)
 *   status.ts    retained online/offline per device
 *   listeners.ts TCP, WebSocket, TLS and secure WebSocket listeners
 *   metrics.ts   citywatch_mqtt_* metrics
 *
 * aedes 1.2 speaks MQTT 3.1 and 3.1.1 only: an MQTT 5 CONNECT is answered with CONNACK return code 1
 * (unacceptable protocol version) [MQTT-3.1.2-2] and the connection is closed.
 */
export const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024;

export function createBroker(opts: BrokerOptions): Broker {
  const logger = opts.logger ?? pino({ enabled: false });
  const counters = new BrokerCounters(createBrokerMetrics(opts.metrics ?? new MetricsRegistry()));
  const inflight = new Set<Promise<unknown>>();
  const host = opts.host ?? '127.0.0.1';
  let listeners: Listeners | undefined;
  let closing: Promise<void> | undefined;

  const aedes = new Aedes({
    ...opts.aedes,
    authenticate: createAuthenticate({ registry: opts.registry, counters, logger }),
    authorizeSubscribe: createAuthorizeSubscribe(counters),
  });

  const publish = (topic: string, payload: Buffer | string, po: PublishOptions = {}): Promise<void> => {
    // [MQTT-3.3.2-2]: no wildcards in a topic name; and never an empty one [MQTT-4.7.3-1]
    if (topic.length === 0 || topic.includes('+') || topic.includes('#')) {
      return Promise.reject(new Error(`invalid topic name for PUBLISH: ${JSON.stringify(topic)}`));
    }
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: po.qos ?? 0,
          retain: po.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  };

  const status = new StatusTracker(
    (topic, payload) => publish(topic, payload, { qos: 1, retain: true }),
    logger,
  );

  aedes.authorizePublish = createAuthorizePublish({
    registry: opts.registry,
    counters,
    status,
    onTelemetry: opts.onTelemetry,
    logger,
    inflight,
  });

  // Connections that got a CONNACK 0, so the gauge and the status see each exactly once.
  const ready = new WeakSet<Client>();
  aedes.on('clientReady', (client) => {
    const identity = identityOf(client);
    if (identity === undefined) return;
    ready.add(client);
    counters.connected(identity.type);
    logger.info(
      {
        clientId: client.id,
        type: identity.type,
        id: identity.type === 'device' ? identity.device.id : identity.username,
      },
      'mqtt client connected',
    );
    if (identity.type === 'device') status.online(identity.device.id, client);
  });
  aedes.on('clientDisconnect', (client) => {
    const identity = identityOf(client);
    if (identity === undefined || !ready.has(client)) return;
    ready.delete(client);
    counters.disconnected(identity.type);
    logger.info({ clientId: client.id, type: identity.type }, 'mqtt client disconnected');
    if (identity.type === 'device') status.offline(identity.device.id, client);
  });
  aedes.on('keepaliveTimeout', (client) => logger.info({ clientId: client.id }, 'mqtt keepalive timeout'));
  aedes.on('clientError', (client, err) =>
    logger.debug({ clientId: client.id, err: err.message }, 'mqtt client error'),
  );
  aedes.on('connectionError', (_client, err) => logger.debug({ err: err.message }, 'mqtt connection error'));

  return {
    aedes,
    publish,
    dropDeviceSessions: (deviceId) => void dropDeviceSessions(aedes, deviceId),

    async listen() {
      if (listeners !== undefined) return listeners.ports;
      await aedes.listen();
      try {
        listeners = await startListeners(
          aedes,
          {
            host,
            port: opts.port ?? 1883,
            wsPort: opts.wsPort,
            tls: opts.tls,
            tlsPort: opts.tls !== undefined ? (opts.tlsPort ?? 8883) : opts.tlsPort,
            wssPort: opts.wssPort,
            maxPacketBytes: opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES,
            onOversize: (reason) => {
              counters.oversize();
              logger.warn({ reason }, 'mqtt packet over the size limit: connection closed');
            },
          },
          logger,
        );
      } catch (err) {
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        throw err;
      }
      logger.info({ host, ...listeners.ports }, 'mqtt broker listening');
      return listeners.ports;
    },

    close() {
      closing ??= (async () => {
        // 1. no new connections; 2. let telemetry under way reach its PUBACK; 3. close the clients;
        // 4. drop whatever socket is left (e.g. never sent CONNECT).
        listeners?.stopAccepting();
        if (inflight.size > 0) {
          const grace = new Promise<void>((resolve) =>
            setTimeout(resolve, opts.closeGraceMs ?? 5000).unref(),
          );
          await Promise.race([Promise.allSettled([...inflight]), grace]);
          // the PUBACKs those hooks released are written corked and flushed on the next tick
          // (mqtt-packet); give them a turn of the event loop before aedes destroys the sockets
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await status.stop();
        if (!aedes.closed) await new Promise<void>((resolve) => aedes.close(() => resolve()));
        await listeners?.close();
      })();
      return closing;
    },

    stats() {
      const s = counters.stats;
      return {
        ...s,
        connectionsByType: { ...s.connectionsByType },
        devicesOnline: status.onlineCount(),
        connects: { ...s.connects },
        authFailures: { ...s.authFailures },
        aclDenials: { ...s.aclDenials },
        messagesIn: { ...s.messagesIn },
      };
    },
  };
}
