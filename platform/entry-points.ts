import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { type BrokerHandle, createBroker } from '../broker/broker.ts';
import { createBrokerCluster } from '../broker/cluster/hub.ts';
import { defaultMaxConnections, readOpenFilesLimit } from '../broker/open-files.ts';
import type { ComplianceService } from '../compliance/service.ts';
import { DEAD_LETTER_TOPIC } from '../core/topics.ts';
import { Jt808Server } from '../gateway/jt808/server.ts';
import type { IngestCore } from '../ingest/core.ts';
import { type ExternalIngest, startExternalIngest } from '../ingest/external.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import type { Config } from './config.ts';
import { wireJt808Triggers } from './jt808.ts';
import type { MqttOutlet } from './mqtt-outlet.ts';

/** The ports the platform listens on (0 in the settings: a free port, reported here). */
export interface PlatformPorts {
  mqtt?: number;
  ws?: number;
  mqtts?: number;
  wss?: number;
  /** JT/T 808 gateway (JT808_PORT) */
  jt808?: number;
  http?: number;
}

/** The ways fixes come in: the embedded MQTT broker, the JT/T 808 gateway, an external broker. */
export interface EntryPoints {
  ports: PlatformPorts;
  broker: BrokerHandle | undefined;
  jt808: Jt808Server | undefined;
  external: ExternalIngest | undefined;
}

export interface EntryPointDeps {
  registry: SqliteRegistry;
  compliance: ComplianceRegistry;
  core: IngestCore;
  complianceService: ComplianceService;
  /** filled in here: the broker (or the external one) the platform's own messages go to */
  outlet: MqttOutlet;
  /** the TLS files' contents, when TLS_CERT_FILE is set */
  tls: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
  metrics: MetricsRegistry;
  logger: Logger;
}

export async function startEntryPoints(config: Config, deps: EntryPointDeps): Promise<EntryPoints> {
  const { env } = config;
  const { registry, compliance, core, complianceService, outlet, tls, metrics, logger } = deps;
  const ports: PlatformPorts = {};
  let broker: BrokerHandle | undefined;
  let jt808: Jt808Server | undefined;
  let external: ExternalIngest | undefined;
  if (env.PARTS.includes('broker')) {
    broker = createMqttBroker(config, { registry, core, metrics, logger });
    outlet.broker = broker;
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
      deadLetter: (payload) => outlet.deadLetter(DEAD_LETTER_TOPIC, payload),
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
    outlet.external = external;
  }
  return { ports, broker, jt808, external };
}

/** The embedded broker, in this process or spread over MQTT_PROCESSES edge processes. */
function createMqttBroker(
  config: Config,
  deps: Pick<EntryPointDeps, 'registry' | 'core' | 'metrics' | 'logger'>,
): BrokerHandle {
  const { env } = config;
  const { registry, core, metrics, logger } = deps;
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
  return env.MQTT_PROCESSES > 1
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
}
