import mqemitter from 'mqemitter';
import { InterestSet } from './interest.ts';
import { asBuffer, type EdgeToHub, type InterestChange, type WirePacket } from './protocol.ts';

type Listener = (message: mqemitter.Message, done: () => void) => void;

export interface EdgeMqOptions {
  /** to the hub (process.send) */
  send: (message: EdgeToHub) => void;
  /** aedes's concurrency option (mqemitter's) */
  concurrency?: number;
  /** stores a retained publish of another edge in this edge's persistence (set once aedes listens) */
  storeRetained: (packet: WirePacket) => Promise<void>;
}

/**
 * The message bus of one edge's aedes (its `mq` option, the mqemitter interface): publishes reach this
 * edge's subscribers at once, and go to the hub only when another edge has a matching subscription or
 * the publish is retained. Without the interest check every telemetry message (tens of thousands a
 * second, which nobody but ingest wants) would cross to every edge.
 *
 * aedes clusters this way by design (its mqemitter-redis and mqemitter-mongodb buses): the `$SYS/+/new/
 * clients` announcements it publishes on every CONNECT reach the other edges too, which close an older
 * connection of the same client id there [MQTT-3.1.4-2] as they would in one process.
 */
export class EdgeMq {
  private readonly local: mqemitter.MQEmitter;
  /** the other edges' subscriptions (and the hub's own), as the hub reports them */
  private readonly remote = new InterestSet();
  private pending = new Map<string, number>();
  private flushQueued = false;

  constructor(private readonly opts: EdgeMqOptions) {
    this.local = mqemitter({ concurrency: opts.concurrency ?? 100, matchEmptyLevels: true });
  }

  get current(): number {
    return this.local.current;
  }

  on(topic: string, listener: Listener, callback?: () => void): this {
    this.local.on(topic, listener, callback);
    this.interest(topic, 1);
    return this;
  }

  removeListener(topic: string, listener: Listener, callback?: () => void): void {
    this.local.removeListener(topic, listener, callback);
    this.interest(topic, -1);
  }

  emit(message: mqemitter.Message, callback?: (error?: Error) => void): void {
    const packet = message as unknown as WirePacket;
    if (packet.retain || this.remote.matches(packet.topic))
      this.opts.send({ t: 'emit', packet: toWire(packet) });
    this.local.emit(message, callback);
  }

  close(callback: () => void): void {
    this.local.close(callback);
  }

  /** the hub's report of the other edges' subscriptions */
  remoteInterest(changes: readonly InterestChange[]): void {
    for (const c of changes) this.remote.change(c.filter, c.delta);
  }

  /** another edge's publish: to this edge's subscribers only (stored first when retained) */
  async relay(wire: WirePacket): Promise<void> {
    const packet = { ...wire, payload: asBuffer(wire.payload) };
    if (packet.retain) await this.opts.storeRetained(packet);
    this.local.emit(packet as unknown as mqemitter.Message);
  }

  // Subscriptions come and go in bursts (a fleet reconnecting): one message per turn of the event loop.
  private interest(filter: string, delta: number): void {
    this.pending.set(filter, (this.pending.get(filter) ?? 0) + delta);
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const changes: InterestChange[] = [];
      for (const [f, d] of this.pending) if (d !== 0) changes.push({ filter: f, delta: d });
      this.pending = new Map();
      if (changes.length > 0) this.opts.send({ t: 'interest', changes });
    });
  }
}

/** the delivery fields of an aedes packet (its class does not cross a process boundary) */
export function toWire(p: WirePacket): WirePacket {
  const wire: WirePacket = {
    cmd: 'publish',
    topic: p.topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    dup: p.dup,
  };
  if (p.brokerId !== undefined) wire.brokerId = p.brokerId;
  if (p.brokerCounter !== undefined) wire.brokerCounter = p.brokerCounter;
  if (p.messageId !== undefined) wire.messageId = p.messageId;
  if (p.clientId !== undefined) wire.clientId = p.clientId;
  return wire;
}
