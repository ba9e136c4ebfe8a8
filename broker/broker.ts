import { Aedes, type AedesOptions, type Client } from 'aedes';
import { type Logger, pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { LogThrottle } from '../ingest/log-throttle.ts';
import type { Registry } from '../registry/types.ts';
import { createAuthorizeSubscribe } from './acl.ts';
import { createAuthenticate } from './auth.ts';
import { ConnectionCap, gateOnCapacity, socketMargin } from './capacity.ts';
import { ConnectionLogSummary } from './connection-log.ts';
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
  /**
   * Most MQTT connections at once (capacity.ts): over it a CONNECT gets CONNACK 3 (server unavailable),
   * and sockets beyond it plus a margin are closed at accept. Uncapped when omitted.
   */
  maxConnections?: number;
  /**
   * close(): how long telemetry hooks under way may take to reach their PUBACK, and then again how long
   * aedes may take to close the clients before their sockets are destroyed, ms (default 5000)
   */
  closeGraceMs?: number;
  /** how often connections are summed up in one info line (connection-log.ts), ms; default 60,000 */
  connectionLogIntervalMs?: number;
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
 *   capacity.ts  the connection cap (CONNACK 3)
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
  /** set when close() starts: new telemetry is refused and per-connection logging stops */
  let shuttingDown = false;
  const cap = new ConnectionCap<Client>(opts.maxConnections ?? Number.POSITIVE_INFINITY);
  counters.stats.maxConnections = Number.isFinite(cap.max) ? cap.max : 0;
  const socketDrops = new LogThrottle();

  const aedes = new Aedes({
    ...opts.aedes,
    authenticate: gateOnCapacity(createAuthenticate({ registry: opts.registry, counters, logger }), {
      cap,
      counters,
      logger,
    }),
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
    isClosing: () => shuttingDown,
  });

  // Connections at info level: one line a minute when they changed (connection-log.ts); each one at debug.
  const connectionLog = new ConnectionLogSummary(
    ({ connected, joined, left, intervalS }) =>
      logger.info(
        { connected, joined, left },
        `mqtt connections: ${connected} connected (+${joined} -${left} in ${intervalS} s)`,
      ),
    () => counters.stats.connections,
    opts.connectionLogIntervalMs,
  );

  // Connections that got a CONNACK 0, so the gauge and the status see each exactly once.
  const ready = new WeakSet<Client>();
  aedes.on('clientReady', (client) => {
    const identity = identityOf(client);
    if (identity === undefined) return;
    ready.add(client);
    counters.connected(identity.type);
    connectionLog.joinedOne();
    logger.debug(
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
    // closing thousands of clients at shutdown is one summary line, not a line each
    if (!shuttingDown) {
      connectionLog.leftOne();
      logger.debug({ clientId: client.id, type: identity.type }, 'mqtt client disconnected');
    }
    if (identity.type === 'device') status.offline(identity.device.id, client);
  });
  aedes.on('keepaliveTimeout', (client) => logger.debug({ clientId: client.id }, 'mqtt keepalive timeout'));
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
            ...(Number.isFinite(cap.max) ? { maxSockets: cap.max + socketMargin(cap.max) } : {}),
            onSocketDropped: () => {
              counters.connectionRefused('socket_limit');
              const n = socketDrops.hit();
              if (n > 0) {
                logger.warn(
                  { dropped: n, maxSockets: cap.max + socketMargin(cap.max) },
                  'mqtt socket limit reached: new sockets closed at accept',
                );
              }
            },
          },
          logger,
        );
      } catch (err) {
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        throw err;
      }
      logger.info({ host, ...listeners.ports }, 'mqtt broker listening');
      connectionLog.start();
      return listeners.ports;
    },

    close() {
      closing ??= (async () => {
        // Everything here is bounded by closeGraceMs (twice at most): SIGTERM under load must end in
        // seconds. 1. No new connections, and no new telemetry: a PUBLISH arriving now closes its
        // connection without PUBACK (publish.ts), so the clients stop feeding ingest while the broker
        // winds down, and the device sends it again to the next broker.
        shuttingDown = true;
        connectionLog.flush();
        connectionLog.stop();
        const t0 = performance.now();
        const clients = counters.stats.connections;
        listeners?.stopAccepting();
        const graceMs = opts.closeGraceMs ?? 5000;
        // 2. Telemetry under way reaches its PUBACK, within the grace.
        let deadline = Date.now() + graceMs;
        if (inflight.size > 0) {
          await within(Promise.allSettled([...inflight]), deadline);
          // the PUBACKs those hooks released are written corked and flushed on the next tick
          // (mqtt-packet); give them a turn of the event loop before aedes destroys the sockets
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        // 3. Status publishes under way finish (stop() queues no more); they cannot outlast the grace:
        // a retained publish waits on slow subscribers' sockets (aedes drainTimeout, 60 s).
        await within(status.stop(), deadline);
        // 4. aedes closes its clients (all together), within a second grace; then 5. whatever socket is
        // left is destroyed (never sent CONNECT, or a client aedes did not finish closing in time).
        deadline = Date.now() + graceMs;
        let aedesClosed: boolean | undefined = aedes.closed;
        if (!aedesClosed) {
          aedesClosed = await within(
            new Promise<boolean>((resolve) => aedes.close(() => resolve(true))),
            deadline,
          );
        }
        await listeners?.close();
        logger.info(
          {
            clients,
            ms: Math.round(performance.now() - t0),
            ...(aedesClosed ? {} : { aedesTimedOut: true }),
          },
          'mqtt broker closed',
        );
      })();
      return closing;
    },

    stats() {
      const s = counters.stats;
      return {
        ...s,
        admittedConnections: cap.count,
        connectionsRefused: { ...s.connectionsRefused },
        connectionsByType: { ...s.connectionsByType },
        devicesOnline: status.onlineCount(),
        connects: { ...s.connects },
        authFailures: { ...s.authFailures },
        authThrottled: { ...s.authThrottled },
        aclDenials: { ...s.aclDenials },
        messagesIn: { ...s.messagesIn },
      };
    },
  };
}

/** Resolves with the promise's value, or with undefined once `deadline` (epoch ms) has passed. */
function within<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
