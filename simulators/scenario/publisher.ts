import mqtt, { type MqttClient } from 'mqtt';
import { statusTopic } from '../../ingest/payload.ts';
import type { NewDevice } from '../../registry/types.ts';
import { payloadToLocation } from '../shared/jt808-fix.ts';
import { Jt808Terminal } from '../shared/jt808-terminal.ts';
import type { SimMessage } from './fleet-types.ts';

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
  /**
   * the platform's JT/T 808 gateway: muck-truck devices report there as JT/T 808 terminals (each bound
   * by its jt808 phone, authenticating with its secret), the others over MQTT at `url`
   */
  jt808?: { host: string; port: number };
  /** give up on devices not connected after this long, ms (default 15000) */
  connectTimeoutMs?: number;
  /** how long to wait for outstanding acknowledgements at the end, ms (default 10000) */
  drainMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: PublishProgress) => void;
  log?: (line: string) => void;
  /**
   * carries out an `action` message (a registry change through the platform API, e.g. a permit revoked
   * mid-trip) at its instant, before the messages after it are published; a failure is logged and
   * counted, not retried
   */
  act?: (m: SimMessage) => Promise<void>;
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
  /** registry changes made during the run (and those that failed) */
  actions: number;
  actionsFailed: number;
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

/** One device's way to the platform: an MQTT client or a JT/T 808 terminal. */
interface DeviceLink {
  readonly connected: boolean;
  /** sends one message; `done` once the platform acknowledged it (PUBACK, 0x8001), with an error if not */
  send(m: SimMessage, qos: 0 | 1, done: (err?: Error) => void): void;
  end(): Promise<void>;
}

function mqttLink(client: MqttClient): DeviceLink {
  return {
    get connected() {
      return client.connected;
    },
    send(m, qos, done) {
      if (qos === 0) {
        client.publish(m.topic, m.payload, { qos: 0 });
        done();
        return;
      }
      client.publish(m.topic, m.payload, { qos: 1 }, (err) => done(err ?? undefined));
    },
    async end() {
      await Promise.race([client.endAsync(), sleep(2000)]).catch(() => undefined);
      client.end(true);
    },
  };
}

/**
 * A muck truck as a JT/T 808 terminal: a fix becomes 0x0200, a batch 0x0704 (type 1 when the simulator
 * sends it late or it is a BLIND_AREA buffer: blind-area backfill), a malformed payload a frame with a wrong check code (refused
 * and dead-lettered, never answered: acknowledged here at once, as the MQTT path's dead letter is).
 */
async function jt808Link(
  gateway: { host: string; port: number },
  d: NewDevice,
  timeoutMs: number,
): Promise<{ link: DeviceLink } | { error: string }> {
  if (d.jt808 === undefined) return { error: 'not a JT/T 808 terminal (no jt808 binding)' };
  const term = new Jt808Terminal({ ...gateway, phone: d.jt808.phone, replyTimeoutMs: timeoutMs });
  try {
    await term.connect();
    const result = await term.authenticate(d.secret);
    if (result !== 0) {
      term.destroy();
      return { error: `0x0102 answered 0x8001 result ${result}` };
    }
  } catch (err) {
    term.destroy();
    return { error: (err as Error).message };
  }
  const link: DeviceLink = {
    get connected() {
      return term.connected;
    },
    send(m, _qos, done) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(m.payload);
      } catch {
        term.write(Buffer.from('7e02000000000000000000000000ff7e', 'hex'));
        done();
        return;
      }
      const answer = Array.isArray(parsed)
        ? term.batch(
            // a BLIND_AREA buffer is blind-area data (type 1) whether it goes out before or after the live fix
            m.kind === 'late' || m.kind === 'backfill' ? 1 : 0,
            parsed.map((p) => payloadToLocation(p as Record<string, unknown>)),
          )
        : term.report(payloadToLocation(parsed as Record<string, unknown>));
      answer.then(
        () => done(),
        (err: Error) => done(err),
      );
    },
    async end() {
      await Promise.race([term.close(), sleep(2000)]);
      term.destroy();
    },
  };
  return { link };
}

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
  const counts = { published: 0, acked: 0, failed: 0, notConnected: 0, actions: 0, actionsFailed: 0 };
  const connectErrors: Record<string, number> = {};
  const clients = new Map<string, DeviceLink>();

  const clock = (): number => {
    while (head < sent.length && sent[head]!.acked) head++;
    return head < sent.length ? Math.min(pace, sent[head]!.ts - 1) : pace;
  };

  const done = (async (): Promise<PublishSummary> => {
    const timeoutMs = o.connectTimeoutMs ?? 15_000;
    const results = await Promise.all(
      o.devices.map(async (d) => {
        if (o.jt808 !== undefined && d.kind === 'muck_truck') {
          return [d.id, await jt808Link(o.jt808, d, timeoutMs)] as const;
        }
        const c = await connect(o.url, d, timeoutMs);
        return [d.id, 'client' in c ? { link: mqttLink(c.client) } : c] as const;
      }),
    );
    for (const [id, c] of results) {
      if ('link' in c) clients.set(id, c.link);
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
        if (m.kind === 'action') {
          try {
            if (o.act === undefined) throw new Error('no way to carry out actions (give the API)');
            await o.act(m);
            counts.actions++;
          } catch (err) {
            counts.actionsFailed++;
            o.log?.(`${m.device}: ${m.payload} failed: ${(err as Error).message}`);
          }
          continue;
        }
        const client = clients.get(m.device);
        if (!client?.connected) {
          counts.notConnected++;
          continue;
        }
        counts.published++;
        if (qos === 0) {
          client.send(m, 0, () => undefined);
          continue;
        }
        const entry = { ts: m.ts, acked: false };
        sent.push(entry);
        client.send(m, 1, (err) => {
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
      await Promise.all([...clients.values()].map((c) => c.end()));
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
