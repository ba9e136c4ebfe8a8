import type { BrokerHandle } from '../broker/broker.ts';
import type { ExternalIngest } from '../ingest/external.ts';

/**
 * Where the platform's own MQTT messages go (dead letters, violation alerts): the embedded broker when
 * this process runs one, else the external broker ingest reads from, else nowhere. The parts that
 * publish are built before the broker listens, so they hold this port and the wiring fills it in.
 */
export class MqttOutlet {
  broker: BrokerHandle | undefined;
  external: ExternalIngest | undefined;

  /** QoS 0, never waited for: a dead letter must not slow ingest (README, "Rejections"). */
  deadLetter(topic: string, payload: Buffer | string): void {
    if (this.broker)
      void this.broker.publish(topic, payload, { qos: 0, retain: false }).catch(() => undefined);
    else this.external?.client.publish(topic, payload, { qos: 0 });
  }

  /** QoS 1: resolves once the broker has it (an alert is retried by its sender until then). */
  publish(topic: string, payload: Buffer | string): Promise<void> {
    if (this.broker) return this.broker.publish(topic, payload, { qos: 1, retain: false });
    const external = this.external;
    if (external)
      return new Promise<void>((resolve, reject) =>
        external.client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      );
    return Promise.resolve();
  }
}
