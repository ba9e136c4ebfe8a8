/**
 * Ingest at the edge of the machine's limits, under real failing conditions (child processes with a
 * lowered `ulimit`, no mocks): a spool write that fails is never acknowledged and the spool carries on;
 * the store pump rides out EMFILE and catches up; a whole platform pushed into EMFILE by MQTT
 * connections survives, keeps acknowledging only what is durable, and stores every acknowledged fix
 * once connections drop.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedStore } from '../../store/embedded.ts';
import { seedCheapFleet } from '../../testkit/cheap-fleet.ts';
import { spawnPlatform } from '../../testkit/child-platform.ts';
import { eventually } from '../support/platform.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs a test/support script under `ulimit <flag> <value>` and parses the JSON line it prints. */
function runLimited<T>(ulimit: string, script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', `ulimit ${ulimit} && exec "$@"`, 'bash', process.execPath, '--import', 'tsx', script, ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as T);
        } catch {
          reject(new Error(`${script} printed no result:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

interface FsizeResult {
  acked: number[];
  refused: { ts: number; error: string }[];
  acceptedOnResend: number[];
  stored: number[];
  stats: { appendFailures: number; segments: number; failing: boolean; failed: boolean };
  failuresMetric: number;
}

test('a spool write past the file-size limit (EFBIG) is refused, never acknowledged, counted; the resend is stored and nothing acknowledged is lost', async (t) => {
  const dir = await tempDir(t, 'citywatch-fsize-');
  const { ids } = seedCheapFleet(dir, 1);
  // 64 KiB per file: the spool's first segment fills after ~220 messages of ~300 bytes
  const r = await runLimited<FsizeResult>('-f 64', 'test/support/spool-fsize-child.ts', [
    dir,
    ids[0]!,
    '400',
  ]);
  t.true(r.refused.length >= 1, 'the file-size limit was met');
  for (const { error } of r.refused) t.regex(error, /EFBIG|too large/);
  t.deepEqual(
    r.acceptedOnResend,
    r.refused.map((x) => x.ts),
    'each refused message was taken on its resend',
  );
  t.is(r.acked.length, 400, 'every message acknowledged in the end');
  t.deepEqual(r.stored, r.acked, 'the spool holds exactly the acknowledged fixes, once each, in order');
  t.is(r.stats.appendFailures, r.refused.length);
  t.is(r.failuresMetric, r.refused.length, 'citywatch_spool_append_failures_total');
  t.true(r.stats.segments >= 2, 'the full segment was sealed and a new one started');
  t.false(r.stats.failed, 'the spool is not shut');
  t.false(r.stats.failing);
});

interface PumpResult {
  exhausted: string;
  acked: number;
  starved: { spoolOk: boolean; spoolError?: string; spoolFailures: number };
  stillStarved: { spoolOk: boolean; spoolFailures: number };
  depthWhileStarved: number;
  drained: boolean;
  stored: number;
  after: { spoolOk: boolean };
}

test('the store pump meets EMFILE reading the spool, keeps retrying, and stores everything once descriptors are free', async (t) => {
  const dir = await tempDir(t, 'citywatch-pump-emfile-');
  const r = await runLimited<PumpResult>('-n 128', 'test/support/pump-emfile-child.ts', [dir, '500']);
  t.is(r.exhausted, 'EMFILE', 'the process really ran out of descriptors');
  t.is(r.acked, 500, 'appends need no new descriptor: all acknowledged while starved');
  t.false(r.starved.spoolOk);
  t.regex(r.starved.spoolError ?? '', /EMFILE/);
  t.false(r.stillStarved.spoolOk, 'still retrying while starved');
  t.true(r.stillStarved.spoolFailures >= r.starved.spoolFailures + 2, 'two more passes failed meanwhile');
  t.is(r.depthWhileStarved, 500);
  t.true(r.drained, 'the pump resumed on its own and drained the spool');
  t.is(r.stored, 500);
  t.true(r.after.spoolOk);
});

/** Connects a device; resolves undefined when the platform does not answer with CONNACK 0 in time. */
function tryConnect(url: string, id: string, secret: string): Promise<MqttClient | undefined> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      clientId: id,
      username: id,
      password: secret,
      reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    const fail = () => {
      clearTimeout(timer);
      client.end(true);
      resolve(undefined);
    };
    const timer = setTimeout(fail, 3500);
    client.once('connect', () => {
      clearTimeout(timer);
      client.off('close', fail);
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', fail);
  });
}

function publishAcked(client: MqttClient, topic: string, payload: string): Promise<boolean> {
  return new Promise((resolve) => client.publish(topic, payload, { qos: 1 }, (err) => resolve(!err)));
}

test('a platform pushed into EMFILE by MQTT connections (cap set above the limit) survives, acknowledges only durable fixes and stores every one of them once connections drop', async (t) => {
  const dataDir = await tempDir(t, 'citywatch-emfile-');
  const { ids, secret } = seedCheapFleet(dataDir, 260);
  const LIMIT = 200;
  const p = await spawnPlatform(
    {
      DATA_DIR: dataDir,
      SIMULATE: '0',
      ADMIN_TOKEN: 'emfile-admin-token-0123456789',
      // above what the descriptors allow: the cap does not protect this platform, EMFILE is met for real
      MQTT_MAX_CONNECTIONS: '1000',
      STORE_MAX_BACKOFF_MS: '300',
      LOG_LEVEL: 'warn',
    },
    30_000,
    { openFilesLimit: LIMIT },
  );
  const pid = p.child.pid!;
  t.teardown(() => {
    p.child.kill('SIGKILL');
  });
  const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
  const openFds = () => readdirSync(`/proc/${pid}/fd`).length;

  // Devices connect until the platform has no descriptor left for the next one.
  const clients: { id: string; client: MqttClient }[] = [];
  let refusedAt: string | undefined;
  for (const id of ids) {
    const client = await tryConnect(url, id, secret);
    if (client === undefined) {
      refusedAt = id;
      break;
    }
    clients.push({ id, client });
  }
  t.truthy(refusedAt, 'a device could not connect: the platform is out of descriptors');
  t.true(clients.length > 50, `${clients.length} devices connected first`);
  t.true(openFds() >= LIMIT - 2, `${openFds()} of ${LIMIT} descriptors open`);
  // more connection attempts wait in the listen backlog and take any descriptor that is freed
  const pressure: Socket[] = [];
  for (let i = 0; i < 10; i++)
    pressure.push(netConnect(p.ports.mqtt, '127.0.0.1').on('error', () => undefined));

  // Every connected device sends three fixes; what is acknowledged is durable in the spool.
  const t0 = Date.now() - 600_000;
  const acked = new Map<string, number[]>();
  await Promise.all(
    clients.map(async ({ id, client }) => {
      const mine: number[] = [];
      acked.set(id, mine);
      for (let k = 0; k < 3; k++) {
        const ts = t0 + k * 1000;
        const payload = JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 20 });
        if (await publishAcked(client, `devices/${id}/telemetry`, payload)) mine.push(ts);
      }
    }),
  );
  const total = [...acked.values()].reduce((n, a) => n + a.length, 0);
  t.is(
    total,
    clients.length * 3,
    'appends need no new descriptor: every fix acknowledged while at the limit',
  );
  // the store pump cannot open the spool to read it: it says so and retries
  const pumpStarved = () =>
    p
      .output()
      .split('\n')
      .some((line) => line.includes('store pump') && line.includes('EMFILE'));
  await eventually(() => (pumpStarved() ? true : undefined), 'the pump to meet EMFILE');
  t.is(p.child.exitCode, null, 'the platform is still running');

  // Connections drop: descriptors come back, and the pump catches up by itself.
  for (const s of pressure) s.destroy();
  await Promise.all(clients.map(({ client }) => new Promise<void>((r) => client.end(false, {}, () => r()))));
  const http = `http://127.0.0.1:${p.ports.http}`;
  const drained = await eventually(
    async () => {
      // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
      const body: any = await (await fetch(`${http}/healthz`, { signal: AbortSignal.timeout(2000) })).json();
      return body.components.spool.depthFixes === 0 && body.components.spool.state === 'ok'
        ? body
        : undefined;
    },
    'the spool to drain into the store',
    30_000,
  );
  t.is(drained.components.spool.appendFailures, 0);
  const again = await tryConnect(url, refusedAt!, secret);
  t.truthy(again, 'the device refused at the limit connects now');
  again?.end(true);

  p.child.kill('SIGTERM');
  t.is(await p.exited, 0, 'SIGTERM shuts down cleanly');
  const store = new EmbeddedStore({ dir: path.join(dataDir, 'store') });
  await store.open();
  t.teardown(() => store.close());
  let missing = 0;
  for (const [id, list] of acked) {
    const stored = new Set(
      (await store.track({ vehicle: `veh-${id}`, from: t0, to: t0 + 10_000 })).map((f) => f.ts),
    );
    for (const ts of list) if (!stored.has(ts)) missing++;
  }
  t.is(missing, 0, `${missing} of ${total} acknowledged fixes missing`);
});
