import type { Client } from 'aedes';
import type { Logger } from 'pino';
import { type DeviceStatus, statusTopic } from '../ingest/payload.ts';

export type RetainedPublisher = (topic: string, payload: Buffer) => Promise<void>;

/**
 * Retained `devices/{id}/status` = `{"state":"online"|"offline","ts":"<ISO UTC>"}`.
 *
 * online  when a device's connection is ready (CONNACK sent);
 * offline when it goes away, whatever the reason (DISCONNECT, socket destroyed, keepalive timeout
 *         [MQTT-3.1.2-24], takeover by a new connection with the same client id [MQTT-3.1.4-2]).
 *
 * A device may hold more than one connection for a moment (it reconnected before the broker noticed
 * the old socket died). So the tracker counts live connections per device and announces offline only
 * when the last one is gone, and the publishes of one device run one after another, each re-checking
 * the live set when its turn comes: a stale offline never overwrites a newer online.
 */
export class StatusTracker {
  private readonly live = new Map<string, Set<Client>>();
  private readonly tails = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly publish: RetainedPublisher,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  online(deviceId: string, client: Client): void {
    let set = this.live.get(deviceId);
    if (set === undefined) {
      set = new Set();
      this.live.set(deviceId, set);
    }
    set.add(client);
    const ts = this.now().toISOString();
    // skip when this connection is already gone again: its offline is queued right behind
    this.enqueue(deviceId, () => (set.has(client) ? { state: 'online', ts } : undefined));
  }

  offline(deviceId: string, client: Client): void {
    const set = this.live.get(deviceId);
    if (set === undefined || !set.delete(client)) return;
    if (set.size === 0) this.live.delete(deviceId);
    const ts = this.now().toISOString();
    this.enqueue(deviceId, () => (this.isLive(deviceId) ? undefined : { state: 'offline', ts }));
  }

  isLive(deviceId: string): boolean {
    return (this.live.get(deviceId)?.size ?? 0) > 0;
  }

  /** true when another connection than `client` of this device is live (its will must not say offline) */
  liveElsewhere(deviceId: string, client: Client): boolean {
    const set = this.live.get(deviceId);
    if (set === undefined) return false;
    return set.size > (set.has(client) ? 1 : 0);
  }

  onlineCount(): number {
    return this.live.size;
  }

  /** Stops publishing (the broker is closing) and waits for what is under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.tails.values()]);
  }

  /** Resolves once every publish queued so far has run. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }

  private enqueue(deviceId: string, build: () => DeviceStatus | undefined): void {
    const prev = this.tails.get(deviceId) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (this.stopped) return;
      const status = build();
      if (status === undefined) return;
      try {
        await this.publish(statusTopic(deviceId), Buffer.from(JSON.stringify(status)));
      } catch (err) {
        this.logger.warn({ device: deviceId, err }, 'could not publish device status');
      }
    });
    this.tails.set(deviceId, next);
    void next.then(() => {
      if (this.tails.get(deviceId) === next) this.tails.delete(deviceId);
    });
  }
}
