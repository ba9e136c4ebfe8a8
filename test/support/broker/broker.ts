/**
 * The world and helpers of the broker tests (test/broker/broker*.test.ts).
 */

import type { MqttClient } from 'mqtt';
import { type Fixture, SECRETS, sleep, startFixture, until } from '../../broker/fixture.ts';

export const fixture = async (t: { teardown: (fn: () => Promise<void>) => void }): Promise<Fixture> => {
  const f = await startFixture();
  t.teardown(() => f.close());
  return f;
};

export const fixJson = (ts = 1_700_000_000_000) => JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 32 });

/** Collects messages of a client as (topic, text, retain). */
export function collect(client: MqttClient) {
  const messages: { topic: string; text: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain }),
  );
  return messages;
}

/**
 * SUBACK return codes per filter, in order. mqtt.js turns any 0x80 into an error carrying the SUBACK,
 * so the codes are read from the packet either way.
 */
export function suback(
  client: MqttClient,
  filters: Record<string, 0 | 1 | 2>,
): Promise<Record<string, number>> {
  const topics = Object.keys(filters);
  const subs = Object.fromEntries(topics.map((topic) => [topic, { qos: filters[topic] ?? 0 }]));
  return new Promise((resolve, reject) => {
    client.subscribe(subs, (err, granted) => {
      const codes = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted;
      if (err && codes === undefined) return reject(err);
      const list = codes ?? (granted ?? []).map((g) => g.qos);
      resolve(Object.fromEntries(topics.map((topic, i) => [topic, list[i] ?? -1])));
    });
  });
}

// ---------------------------------------------------------------- status

export type Status = { state: string; ts: string };

/** The broker's retained packets on a topic, read from its persistence (the stream's end says "no more"). */
export async function retainedPackets(f: Fixture, topic: string): Promise<unknown[]> {
  const out: unknown[] = [];
  // aedes' types leave out its persistence; aedes-persistence streams the retained packets matching a topic
  const { persistence } = f.broker.aedes as unknown as {
    persistence: { createRetainedStream(pattern: string): AsyncIterable<unknown> };
  };
  for await (const packet of persistence.createRetainedStream(topic)) out.push(packet);
  return out;
}

/**
 * The retained status a new subscriber gets on SUBSCRIBE: undefined when the broker retains none;
 * otherwise waits for the retained delivery (a positive event) and checks its retain flag.
 */
export async function retainedStatus(f: Fixture, id: string): Promise<Status | undefined> {
  const topic = `devices/${id}/status`;
  if ((await retainedPackets(f, topic)).length === 0) return undefined;
  const probe = await f.connect('ingest', SECRETS.ingest, { clientId: `probe-${Math.random()}` });
  const got = collect(probe);
  await probe.subscribeAsync(topic, { qos: 1 });
  await until(() => got.length > 0, 5000, `the retained status of ${id}`);
  await probe.endAsync();
  const first = got[0]!;
  if (!first.retain) throw new Error('status delivered on subscribe must carry the retain flag');
  return JSON.parse(first.text) as Status;
}

/**
 * Polls the retained status until it is `state`: the status publish runs a moment after the connection
 * event the test waited for. Fails (after 5 s) when it never gets there.
 */
export async function retainedStatusIs(f: Fixture, id: string, state: string): Promise<Status> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const status = await retainedStatus(f, id);
    if (status?.state === state) return status;
    if (Date.now() > deadline) throw new Error(`retained status of ${id}: ${status?.state}, not ${state}`);
    await sleep(20);
  }
}

/** an offline status stamped at or after `sinceMs` has arrived (a stale one carries an earlier ts) */
export function offlineSince(seen: { text: string }[], sinceMs: number): boolean {
  return seen.some((m) => {
    const s = JSON.parse(m.text) as Status;
    return s.state === 'offline' && Date.parse(s.ts) >= sinceMs;
  });
}

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A raw MQTT 3.1.1 CONNECT (clean session, username + password), built by hand. */
export function rawConnect(clientId: string, username: string, password: string, keepaliveS: number): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return Buffer.concat([len, b]);
  };
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(keepaliveS);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0b1100_0010]), // level 4 (3.1.1); username, password, clean session
    keepalive,
    str(clientId),
    str(username),
    str(password),
  ]);
  if (body.length > 127) throw new Error('keep it short');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}
