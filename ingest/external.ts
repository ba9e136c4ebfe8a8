import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { IngestCore } from './core.ts';
import { TELEMETRY_TOPIC_FILTER } from './payload.ts';

export interface ExternalIngestOptions {
  /** e.g. mqtt://mosquitto:1883 or mqtts://broker:8883 */
  url: string;
  username?: string;
  password?: string;
  /** fixed, so the broker keeps our persistent session (clean=false) across reconnects */
  clientId?: string;
  /** CA certificate (PEM) for mqtts:// with a private CA */
  ca?: Buffer;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5 */
  protocolVersion?: 4 | 5;
  core: IngestCore;
  logger?: Logger;
}

export interface ExternalIngest {
  client: MqttClient;
  stop(): Promise<void>;
}

/**
 * Ingest as an MQTT client of an external broker (Mosquitto, EMQX, ...). Same core, same validation,
 * same results as the in-process path. Durability: the QoS 1 PUBACK to the broker is sent only after
 * the core has made the fixes durable (mqtt.js sends it when `handleMessage`'s callback runs), and the
 * persistent session (clean=false, fixed client id, QoS 1 subscription) makes the broker hold messages
 * while we are away [MQTT-3.1.2-4, MQTT-3.1.2-5].
 *
 * mqtt.js hands incoming packets over one at a time, so this path cannot group-commit across messages
 * the way the embedded path does; batch payloads (JSON arrays) recover the throughput. The same
 * one-at-a-time is the backpressure of this path: while the spool is near or at its limit `accept`
 * waits (backpressure.ts), mqtt.js reads no next packet until `handleMessage` calls back, and the
 * broker keeps the rest in our persistent session.
 */
export async function startExternalIngest(opts: ExternalIngestOptions): Promise<ExternalIngest> {
  const clientOptions: IClientOptions = {
    clientId: opts.clientId ?? 'citywatch-ingest',
    clean: false,
    protocolVersion: opts.protocolVersion ?? 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    keepalive: 30,
  };
  if (opts.protocolVersion === 5) clientOptions.properties = { sessionExpiryInterval: 0xffffffff };
  if (opts.username !== undefined) clientOptions.username = opts.username;
  if (opts.password !== undefined) clientOptions.password = opts.password;
  if (opts.ca !== undefined) clientOptions.ca = opts.ca;

  const client = mqtt.connect(opts.url, clientOptions);
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    opts.core.accept(packet.topic, payload, 'external').then(
      () => callback(),
      (err: Error) => {
        // Not durable: withhold the PUBACK and drop the connection so the broker redelivers.
        opts.logger?.error({ err }, 'external ingest could not make a message durable; reconnecting');
        client.stream.destroy();
        callback(err);
      },
    );
  };
  client.on('error', (err) => opts.logger?.warn({ err: err.message }, 'external broker error'));
  client.on('connect', (connack) => {
    opts.logger?.info(
      { url: opts.url, sessionPresent: connack.sessionPresent },
      'connected to external broker',
    );
    // Subscribing again on every connect is harmless and covers a broker that lost our session.
    client.subscribe(TELEMETRY_TOPIC_FILTER, { qos: 1 }, (err) => {
      if (err) opts.logger?.error({ err }, 'subscribe to telemetry failed');
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onConnect = () => {
      client.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      client.off('connect', onConnect);
      client.end(true);
      reject(new Error(`cannot connect to external broker ${opts.url}: ${err.message}`));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });

  return {
    client,
    stop: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  };
}
