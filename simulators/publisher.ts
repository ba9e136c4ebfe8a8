import mqtt, { type MqttClient } from 'mqtt';
import { statusTopic } from '../ingest/payload.ts';
import type { NewDevice } from '../registry/types.ts';
import type { SimMessage } from './fleet-sim.ts';

/**
 * Puts a simulated fleet's messages on a broker: one MQTT connection per device (client id = user name
 * = device id, password = its secret, retained last will `{"state":"offline"}`), each message published
 * when the wall clock reaches its simulated instant: real = start + (ts - simStart) / speedup.
 *
 * `clock()` is the simulated instant up to which every published message has been acknowledged: with
 * QoS 1 on the platform's broker a PUBACK means the fix is durable and judged, so a platform that
 * judges silence (OFFLINE) can be ticked with this clock and never mistake a fix in flight for one that
 * was never sent.
 */

export interface PublishOptions {
  url: string;
  /** the devices of the run, with their secrets */
  devices: readonly NewDevice[];
  messages: Iterable<SimMessage>;
  /** simulated start, epoch ms */
  startTs: number;
  /** simulated seconds per real second */
  speedup: number;
  /** simulated end of the run: the clock reaches it once everything is acknowledged */
  endTs?: number;
  qos?: 0 | 1;
  /** give up on devices not connected after this long, ms (default 15000) */
  connectTimeoutMs?: number;
  /** how long to wait for outstanding acknowledgements at the end, ms (default 10000) */
  drainMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: PublishProgress) => void;
  log?: (line: string) => void;
}

export interface PublishProgress {
  simTime: string;
  published: number;
  acked: number;
  connected: number;
  devices: number;
}

export interface PublishSummary {
  devices: number;
  connected: number;
  published: number;
  acked: number;
  failed: number;
  /** messages of devices that were not connected when they were due (not sent) */
  notConnected: number;
  /** real seconds from the first publish to the end of the drain */
  realS: number;
  /** simulated instant the run reached, ISO-8601 */
  simEnd: string;
  /** why devices could not connect: the last error of each, counted by message (empty when all did) */
  connectErrors: Record<string, number>;
}

export interface Publisher {
  /** simulated ms up to which everything published is acknowledged */
  clock(): number;
  done: Promise<PublishSummary>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** a device's connection, or why there is none (the last error seen, or the timeout) */
type Connected = { client: MqttClient } | { error: string };

function connect(url: string, d: NewDevice, timeoutMs: number): Promise<Connected> {
  const client = mqtt.connect(url, {
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 1000,
    connectTimeout: timeoutMs,
    keepalive: 60,
    will: {
      topic: statusTopic(d.id),
      payload: Buffer.from(JSON.stringify({ state: 'offline' })),
      qos: 1,
      retain: true,
    },
  });
  return new Promise((resolve) => {
    let lastError: string | undefined;
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      if (!ok) client.end(true);
      resolve(
        ok ? { client } : { error: lastError ?? `no CONNACK within ${Math.round(timeoutMs / 1000)} s` },
      );
    };
    const onConnect = () => finish(true);
    client.on('connect', onConnect);
    client.on('error', (err) => {
      const code = (err as { code?: number | string }).code;
      lastError = typeof code === 'number' ? `CONNACK ${code}: ${err.message}` : err.message;
      // a refused login (bad credentials, wrong client id) does not heal by retrying: give up at once
      if (code === 2 || code === 4 || code === 5) finish(false);
    });
  });
}

export function startPublisher(o: PublishOptions): Publisher {
  if (!(o.speedup > 0)) throw new RangeError('speedup must be > 0');
  const qos = o.qos ?? 1;
  // published messages in order, with their simulated instants; `head` = oldest not yet acknowledged
  const sent: Array<{ ts: number; acked: boolean }> = [];
  let head = 0;
  let pace = o.startTs;
  const counts = { published: 0, acked: 0, failed: 0, notConnected: 0 };
  const connectErrors: Record<string, number> = {};
  const clients = new Map<string, MqttClient>();

  const clock = (): number => {
    while (head < sent.length && sent[head]!.acked) head++;
    return head < sent.length ? Math.min(pace, sent[head]!.ts - 1) : pace;
  };

  const done = (async (): Promise<PublishSummary> => {
    const results = await Promise.all(
      o.devices.map(async (d) => [d.id, await connect(o.url, d, o.connectTimeoutMs ?? 15_000)] as const),
    );
    for (const [id, c] of results) {
      if ('client' in c) clients.set(id, c.client);
      else {
        connectErrors[c.error] = (connectErrors[c.error] ?? 0) + 1;
        o.log?.(`${id}: could not connect to ${o.url} (${c.error}); its messages are not sent`);
      }
    }
    const realStart = performance.now();
    let lastProgress = realStart;
    let simTs = o.startTs;
    try {
      for (const m of o.messages) {
        if (o.signal?.aborted) break;
        simTs = m.ts;
        const due = realStart + (m.ts - o.startTs) / o.speedup;
        const wait = due - performance.now();
        // with no device connected there is nobody to pace for: count the messages not sent, at once
        if (wait > 2 && clients.size > 0) await sleep(wait);
        pace = Math.max(pace, m.ts);
        const client = clients.get(m.device);
        if (!client?.connected) {
          counts.notConnected++;
          continue;
        }
        counts.published++;
        if (qos === 0) {
          client.publish(m.topic, m.payload, { qos: 0 });
          continue;
        }
        const entry = { ts: m.ts, acked: false };
        sent.push(entry);
        client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
          entry.acked = true;
          if (err) counts.failed++;
          else counts.acked++;
        });
        if (o.onProgress && performance.now() - lastProgress > 2000) {
          lastProgress = performance.now();
          o.onProgress({
            simTime: new Date(m.ts).toISOString(),
            published: counts.published,
            acked: counts.acked,
            connected: [...clients.values()].filter((c) => c.connected).length,
            devices: o.devices.length,
          });
        }
      }
      const drainEnd = performance.now() + (o.drainMs ?? 10_000);
      while (qos === 1 && counts.acked + counts.failed < counts.published && performance.now() < drainEnd)
        await sleep(20);
      if (o.endTs !== undefined && !o.signal?.aborted) pace = Math.max(pace, o.endTs);
    } finally {
      await Promise.all(
        [...clients.values()].map((c) => Promise.race([c.endAsync(), sleep(2000)]).catch(() => undefined)),
      );
      for (const c of clients.values()) c.end(true);
    }
    return {
      devices: o.devices.length,
      connected: clients.size,
      ...counts,
      realS: Math.round((performance.now() - realStart) / 100) / 10,
      simEnd: new Date(simTs).toISOString(),
      connectErrors,
    };
  })();

  return { clock, done };
}
