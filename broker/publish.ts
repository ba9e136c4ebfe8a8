import type { Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { deviceIdFromTelemetryTopic } from '../core/topics.ts';
import { LogThrottle } from '../ingest/log-throttle.ts';
import { statusTopic, telemetryTopic } from '../ingest/payload.ts';
import type { Registry } from '../registry/types.ts';
import { canPublish } from './acl.ts';
import { identityOf } from './identity.ts';
import type { BrokerCounters } from './metrics.ts';
import type { StatusTracker } from './status.ts';

export type TelemetryHook = (
  deviceId: string,
  topic: string,
  payload: Buffer,
  qos: 0 | 1 | 2,
) => Promise<void>;

type AuthorizePublishHandler = (
  client: Client | null,
  packet: PublishPacket,
  callback: (error?: Error | null) => void,
) => void;

export interface PublishDeps {
  registry: Pick<Registry, 'device'>;
  counters: BrokerCounters;
  status: StatusTracker;
  onTelemetry: TelemetryHook;
  logger: Logger;
  /** every telemetry hook under way, so close() can let them finish */
  inflight: Set<Promise<unknown>>;
  /** true once the broker is closing: new telemetry is refused (closes the connection, no PUBACK) */
  isClosing?: () => boolean;
}

/**
 * The aedes `authorizePublish` hook: ACL, then the telemetry durability hook.
 *
 * Durability contract. In aedes 1.2 the QoS 1 PUBACK is written as soon as this hook calls back
 * without error, before `published` runs (lib/handlers/publish.js: authorizePublish → enqueuePublish
 * → PUBACK → broker.publish). So a telemetry message is handed to `onTelemetry` here, and the callback
 * runs only once it resolves, i.e. once ingest has made the fixes durable: the PUBACK
 * [MQTT-4.3.2-2] therefore means "stored". If the hook rejects, the callback gets an error, aedes
 * closes the connection and no PUBACK is sent: the device keeps the message and sends it again on its
 * next connection [MQTT-4.4.0-1]. Invalid payloads are ingest's business (it dead-letters them and
 * resolves), the broker does not parse payloads.
 *
 * The hook is invoked synchronously in arrival order, so a device's messages reach ingest in the
 * order it sent them even though aedes handles the packets of one socket read concurrently.
 *
 * Refusals. MQTT 3.1.1 has no negative acknowledgement of a PUBLISH, so a refused one closes the
 * connection [MQTT-3.3.5-2]. Last wills (published by aedes after the client closed) pass the same
 * ACL; a device's will on its own status topic is dropped while another connection of that device is
 * live, so it cannot overwrite the newer online.
 *
 * Telemetry published by a service to `devices/{id}/telemetry` (a protocol gateway feeding the
 * embedded broker) goes through the same hook, so it is not forwarded unstored.
 */
export function createAuthorizePublish(deps: PublishDeps): AuthorizePublishHandler {
  const { registry, counters, status, onTelemetry, logger, inflight } = deps;
  const isClosing = deps.isClosing ?? (() => false);
  // a spool that cannot write fails every message of every device at once: a line per interval
  const failures = new LogThrottle();

  return (client, packet, callback) => {
    const topic = packet.topic;
    const identity = identityOf(client);
    // client === null: a will found in persistence whose client is gone (another broker instance);
    // its sender cannot be established any more, so it is not published.
    if (client === null || identity === undefined || !canPublish(identity, topic)) {
      counters.aclDenial('publish');
      logger.warn({ clientId: client?.id, topic }, 'mqtt publish refused by ACL, closing connection');
      callback(new Error(`not authorized to publish to ${topic}`));
      return;
    }
    const isWill = client.closed;

    let deviceId: string | undefined;
    if (identity.type === 'device') {
      deviceId = identity.device.id;
      // Disabled or removed since it connected: refuse, which closes the connection.
      if (registry.device(deviceId)?.enabled !== true) {
        counters.aclDenial('publish');
        logger.warn({ device: deviceId, topic }, 'mqtt publish from a device no longer enabled, closing');
        callback(new Error(`device ${deviceId} is disabled`));
        return;
      }
      if (isWill && topic === statusTopic(deviceId) && status.liveElsewhere(deviceId, client)) {
        callback(new Error('stale will: the device is connected again'));
        return;
      }
      if (topic !== telemetryTopic(deviceId)) deviceId = undefined;
    } else {
      deviceId = deviceIdFromTelemetryTopic(topic);
    }

    const qos = packet.qos;
    if (!isWill) counters.messageIn(qos);
    if (deviceId === undefined) {
      callback(null);
      return;
    }

    if (isClosing()) {
      // Not handed to ingest: close() is letting the hooks under way finish, and this one could not
      // reach its PUBACK before the sockets go. The device keeps it and sends it to the next broker.
      callback(new Error('broker shutting down'));
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    let pending: Promise<void>;
    try {
      pending = onTelemetry(deviceId, topic, payload, qos);
    } catch (err) {
      pending = Promise.reject(err);
    }
    const device = deviceId;
    const tracked = pending.then(
      () => callback(null),
      (err: unknown) => {
        counters.telemetryFailure();
        const n = failures.hit();
        if (n > 0) {
          logger.error(
            { device, clientId: client.id, topic, qos, err, failures: n },
            'telemetry not stored: closing the connection without PUBACK so the device sends it again',
          );
        }
        callback(err instanceof Error ? err : new Error(String(err)));
      },
    );
    inflight.add(tracked);
    tracked
      .catch((err: unknown) => logger.error({ device, err }, 'aedes publish callback threw'))
      .finally(() => inflight.delete(tracked));
  };
}
