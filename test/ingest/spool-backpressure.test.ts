/**
 * The spool bounded under a store slower than intake, on real servers: the whole platform in-process
 * with a small SPOOL_MAX_BYTES, a real InfluxDB 1.x frozen with SIGSTOP while QoS 1 devices publish as
 * fast as their window of unacknowledged messages allows (real mqtt.js clients over TCP). What must hold:
 *
 *  - the spool's segment files never take more than the limit on disk (sampled from the filesystem,
 *    and the spool's own high-water mark);
 *  - acknowledgements are withheld while the spool is at its limit: a message published once /healthz
 *    says the spool is full gets its PUBACK only after InfluxDB is back and has taken a batch (no
 *    timing threshold: the order of events is the verdict);
 *  - nothing acknowledged is lost: every acknowledged fix is in InfluxDB once, in order;
 *  - the backlog drains after, and /healthz is ok again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { startInfluxd } from '../../testkit/servers/influxd.ts';
import { connectClient, endClient, eventually, startTestPlatform } from '../support/platform.ts';

const LIMIT = 1024 * 1024;
const DEVICES = 8;
const WINDOW = 10;

interface SpoolHealth {
  state: string;
  detail?: string;
  diskBytes: number;
  limitBytes: number;
  fill: number;
  waitingMessages: number;
  heldMessages: number;
  depthFixes: number;
}

async function spoolHealth(httpUrl: string): Promise<SpoolHealth> {
  const res = await fetch(`${httpUrl}/healthz`);
  return ((await res.json()) as { components: { spool: SpoolHealth } }).components.spool;
}

async function segmentBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.jsonl')) continue;
    total += (await fs.stat(path.join(dir, name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** A device publishing QoS 1 fixes back to back with at most WINDOW unacknowledged. */
class Publisher {
  readonly acked: number[] = [];
  private seq = 0;
  private inflight = 0;
  private running = true;
  private idle: (() => void) | undefined;

  constructor(
    readonly id: string,
    private readonly client: MqttClient,
    private readonly t0: number,
  ) {}

  start(): void {
    this.fill();
  }

  /** Stops publishing; resolves once every message sent has its PUBACK. */
  stop(): Promise<void> {
    this.running = false;
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private fill(): void {
    while (this.running && this.inflight < WINDOW) {
      const ts = this.t0 + ++this.seq * 1000;
      this.inflight++;
      const payload = JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 30, load: 'full' });
      this.client.publish(`devices/${this.id}/telemetry`, payload, { qos: 1 }, (err) => {
        this.inflight--;
        if (!err) this.acked.push(ts);
        if (this.running) this.fill();
        else if (this.inflight === 0) this.idle?.();
      });
    }
  }
}

test('a store slower than intake: the spool stays under its limit, PUBACKs wait instead, nothing acknowledged is lost, the backlog drains', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const tp = await startTestPlatform({
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: 'bounded',
    SPOOL_MAX_BYTES: String(LIMIT),
    MAX_PAYLOAD_BYTES: '4096',
    SPOOL_MIN_FREE_BYTES: '0',
    STORE_BATCH_SIZE: '500',
  });
  t.teardown(() => tp.stop());
  const spoolDir = path.join(tp.dataDir, 'spool');
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-b', name: '限流测试运输公司' });
  const ids: string[] = [];
  for (let i = 0; i <= DEVICES; i++) {
    r.upsertVehicle({ id: `veh-b${i}`, plate: `皖A·B${1000 + i}`, kind: 'muck_truck', firm: 'firm-b' });
    await r.putDevice({
      id: `dev-b${i}`,
      secret: `secret-b${i}`,
      kind: 'muck_truck',
      vehicle: `veh-b${i}`,
      firm: 'firm-b',
    });
    ids.push(`dev-b${i}`);
  }
  await eventually(
    async () => ((await tp.platform.health()).components.store?.state === 'ok' ? true : undefined),
    'the store to open',
  );
  const connect = (id: string) =>
    connectClient(tp.mqttUrl, { username: id, password: id.replace('dev', 'secret'), clientId: id });

  // the disk, sampled from the filesystem throughout
  let maxOnDisk = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxOnDisk = Math.max(maxOnDisk, await segmentBytes(spoolDir));
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  t.teardown(() => {
    sampling = false;
  });

  const t0 = Date.now() - 6 * 3_600_000;
  const publishers: Publisher[] = [];
  const clients: MqttClient[] = [];
  for (const id of ids.slice(1)) {
    const client = await connect(id);
    clients.push(client);
    const p = new Publisher(id, client, t0);
    publishers.push(p);
    p.start();
  }
  await eventually(
    () => (publishers.every((p) => p.acked.length > 20) ? true : undefined),
    'every device acknowledged while the store keeps up',
  );

  // the store stops answering (SIGSTOP: connections are accepted, nothing is answered)
  influx.pause();
  const full = await eventually(
    async () => {
      const s = await spoolHealth(tp.httpUrl);
      return s.state === 'degraded' && /spool full/.test(s.detail ?? '') && s.waitingMessages > 0
        ? s
        : undefined;
    },
    '/healthz to report the spool full with messages waiting',
    90_000,
  );
  t.regex(full.detail ?? '', /SPOOL_MAX_BYTES.*acknowledgements are withheld/);
  t.is(full.limitBytes, LIMIT);
  t.true(full.diskBytes <= LIMIT, `${full.diskBytes} bytes on disk`);
  t.true(full.heldMessages > 0);

  // a message published now, while full: its PUBACK must wait for the store to take something
  const marker = await connect(ids[0]!);
  clients.push(marker);
  let markerAckedAt: number | undefined;
  let lastWriteWhenAcked: number | undefined;
  const markerTs = t0 + 10_000_000;
  const markerAck = new Promise<void>((resolve, reject) =>
    marker.publish(
      `devices/${ids[0]}/telemetry`,
      JSON.stringify({ ts: markerTs, lat: 31.8, lon: 117.2, speed: 0 }),
      { qos: 1 },
      (err) => {
        if (err) return reject(err);
        markerAckedAt = Date.now();
        lastWriteWhenAcked = tp.platform.pump.status().lastWriteAt;
        resolve();
      },
    ),
  );
  // the positive event that shows the marker has reached the platform and waits: one more waiting
  await eventually(
    async () => ((await spoolHealth(tp.httpUrl)).waitingMessages > full.waitingMessages ? true : undefined),
    'the marker waiting for admission',
    30_000,
  );
  t.is(markerAckedAt, undefined, 'no PUBACK while the spool is full');
  const ackedWhileFull = publishers.reduce((n, p) => n + p.acked.length, 0);

  const resumedAt = Date.now();
  influx.resume();
  await markerAck;
  t.true(
    lastWriteWhenAcked !== undefined && lastWriteWhenAcked >= resumedAt,
    'the PUBACK came after InfluxDB, resumed, had taken a batch',
  );
  t.true((markerAckedAt ?? 0) >= resumedAt);

  // load keeps flowing once the store is back, then stops; every message sent gets its PUBACK
  await eventually(
    () => (publishers.reduce((n, p) => n + p.acked.length, 0) > ackedWhileFull + 500 ? true : undefined),
    'acknowledgements flowing again',
    60_000,
  );
  await Promise.all(publishers.map((p) => p.stop()));

  // the backlog drains and health is ok again
  const drained = await eventually(
    async () => {
      const s = await spoolHealth(tp.httpUrl);
      return s.depthFixes === 0 && s.state === 'ok' ? s : undefined;
    },
    'the spool drained and ok',
    90_000,
  );
  t.is(drained.waitingMessages, 0);
  sampling = false;
  await sampler;
  t.true(maxOnDisk <= LIMIT, `at most ${maxOnDisk} bytes of segment files on disk (limit ${LIMIT})`);
  t.true(maxOnDisk > LIMIT * 0.8, 'the limit was reached, not just approached');
  t.true(tp.platform.spool.stats().peakDiskBytes <= LIMIT, 'the spool high-water mark');

  // nothing acknowledged is lost: every acknowledged fix in InfluxDB, once, in order
  let total = 0;
  for (const p of publishers) {
    const vehicle = p.id.replace('dev', 'veh');
    const stored = await tp.platform.store.track({ vehicle, from: t0, to: t0 + 100_000_000 });
    t.deepEqual(
      stored.map((f) => f.ts),
      [...p.acked].sort((a, b) => a - b),
      `${vehicle}: the acknowledged fixes, each once`,
    );
    total += p.acked.length;
  }
  const markerStored = await tp.platform.store.track({ vehicle: 'veh-b0', from: t0, to: markerTs + 1 });
  t.deepEqual(
    markerStored.map((f) => f.ts),
    [markerTs],
  );
  t.log(`${total} fixes acknowledged and stored; ${full.heldMessages} messages met a full spool`);
  await Promise.all(clients.map(endClient));
});
