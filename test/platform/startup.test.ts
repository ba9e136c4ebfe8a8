/**
 * What a newcomer meets first: `npm start`'s process with no configuration beyond free ports shows a
 * live demo fleet through the API; bad configuration stops start-up naming the variable; the compose
 * file validates with Debian's docker-compose.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { spawnPlatform } from '../../testkit/child-platform.ts';
import { selfSignedCert } from '../../testkit/servers/tls.ts';
import { connectClient, endClient, eventually, publishQos1, startTestPlatform } from '../support/platform.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

async function startupFailure(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['--import', 'tsx', 'platform/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 30_000,
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

test('the default start runs the demo fleet and the API returns its positions; SIGTERM exits cleanly', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-start-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  // Only the ports (0 = free) and the data folder differ from a bare `npm start`.
  const p = await spawnPlatform({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => p.child.kill('SIGKILL'));
  const out = p.output();
  t.regex(out, /demo fleet\s+on/);
  t.regex(out, /store\s+embedded/);
  const token = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
  t.true(out.includes(token), 'the generated admin token is printed');

  const items = await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/positions`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { items: Array<{ kind: string; vehicle: string }> };
      const kinds = new Set(body.items.map((i) => i.kind));
      return body.items.length >= 9 && kinds.size === 3 ? body.items : undefined;
    },
    'positions of all 9 demo units (trucks, sweepers, body cameras)',
    30_000,
  );
  t.true(items.length >= 9);
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
});

test('a bad setting stops start-up with a message naming the variable', async (t) => {
  const bad = await startupFailure({ HTTP_PORT: 'eighty', SIMULATE: 'maybe' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /HTTP_PORT/);
  t.regex(bad.stderr, /SIMULATE/);
  const influx = await startupFailure({ INFLUX_URL: 'http://127.0.0.1:1' });
  t.is(influx.code, 2);
  t.regex(influx.stderr, /INFLUX_DATABASE: required with InfluxDB 1\.x/);
  const tls = await startupFailure({ TLS_CERT_FILE: '/tmp/cert.pem' });
  t.regex(tls.stderr, /TLS_KEY_FILE/);
});

test('docker-compose.yml validates with docker-compose config (the secrets from .env.example)', async (t) => {
  const { stdout } = await run('docker-compose', ['--env-file', '.env.example', 'config'], { cwd: ROOT });
  t.regex(stdout, /influxdb:2/);
  t.regex(stdout, /DOCKER_INFLUXDB_INIT_BUCKET/);
  t.regex(stdout, /simulator:/);
  t.regex(stdout, /PARTS: broker,ingest,api/);
  // the cluster profile: three NATS nodes, two edges, two workers
  const cluster = await run(
    'docker-compose',
    ['--env-file', '.env.example', '--profile', 'cluster', 'config'],
    {
      cwd: ROOT,
    },
  );
  for (const service of ['nats-1', 'nats-2', 'nats-3', 'edge-1', 'edge-2', 'worker-1', 'worker-2'])
    t.regex(cluster.stdout, new RegExp(`^  ${service}:`, 'm'));
  t.regex(cluster.stdout, /PARTS: worker/);
  t.regex(
    cluster.stdout,
    /CLUSTER_NATS_URLS: nats:\/\/nats-1:4222,nats:\/\/nats-2:4222,nats:\/\/nats-3:4222/,
  );
});

test('with certificate files configured, MQTTS, WSS and HTTPS serve with that certificate', async (t) => {
  const tls = await selfSignedCert();
  t.teardown(() => fs.rm(tls.dir, { recursive: true, force: true }));
  const tp = await startTestPlatform({
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    MQTTS_PORT: '0',
    MQTT_WSS_PORT: '0',
  });
  t.teardown(() => tp.stop());
  const { ports } = tp.platform;
  t.truthy(ports.mqtts);
  t.truthy(ports.wss);
  await tp.platform.registry.putDevice({
    id: 'cam-tls',
    secret: 'secret-tls',
    kind: 'body_camera',
    firm: 'dept',
  });
  for (const url of [`mqtts://127.0.0.1:${ports.mqtts}`, `wss://127.0.0.1:${ports.wss}/mqtt`]) {
    const client = await connectClient(url, {
      username: 'cam-tls',
      password: 'secret-tls',
      clientId: 'cam-tls',
      ca: tls.cert,
    });
    await publishQos1(
      client,
      'devices/cam-tls/telemetry',
      JSON.stringify({ ts: Date.now(), lat: 31.8, lon: 117.2, recording: true }),
    );
    await endClient(client);
  }
  const health = await new Promise<number>((resolve, reject) => {
    https
      .get(`https://127.0.0.1:${ports.http}/healthz`, { ca: tls.cert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
  t.is(health, 200);
  const pos = await eventually(() => tp.platform.store.latestOf('cam-tls'), 'the camera fix in the store');
  t.is(pos.recording, true);
});
