/**
 * kill -9 of the platform under load, then a restart: no fix whose QoS 1 PUBACK reached its device is
 * lost. The platform runs as a real child process with the embedded store.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { spawnPlatform } from '../../testkit/child-platform.ts';
import { connectClient, eventually } from '../support/platform.ts';

const DEVICES = 20;
const ADMIN_TOKEN = 'durability-admin-token-123456';

test('kill -9 under load loses no acknowledged QoS 1 fix', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-kill9-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
  registry.upsertFirm({ id: 'firm-k', name: 'kill firm' });
  for (let i = 0; i < DEVICES; i++) {
    registry.upsertVehicle({ id: `kv-${i}`, plate: `皖A·K${i}`, kind: 'muck_truck', firm: 'firm-k' });
    await registry.putDevice({
      id: `kd-${i}`,
      secret: `ks-${i}`,
      kind: 'muck_truck',
      vehicle: `kv-${i}`,
      firm: 'firm-k',
    });
  }
  registry.close();
  const env = { DATA_DIR: dataDir, SIMULATE: '0', ADMIN_TOKEN };

  const first = await spawnPlatform(env);
  const acked = new Map<string, Set<number>>();
  const clients: MqttClient[] = [];
  let running = true;
  const t0 = Date.now() - 3_600_000;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const client = await connectClient(`mqtt://127.0.0.1:${first.ports.mqtt}`, {
      username: `kd-${i}`,
      password: `ks-${i}`,
      clientId: `kd-${i}`,
    });
    client.on('error', () => undefined);
    clients.push(client);
    const mine = new Set<number>();
    acked.set(`kv-${i}`, mine);
    let next = 0;
    // A window of 8 publishes in flight per device.
    loops.push(
      ...Array.from({ length: 8 }, async () => {
        while (running) {
          const ts = t0 + next++ * 100;
          const payload = JSON.stringify({ ts, lat: 31.8, lon: 117.2, speed: 20, load: 'full' });
          const ok = await new Promise<boolean>((resolve) =>
            client.publish(`devices/kd-${i}/telemetry`, payload, { qos: 1 }, (err) => resolve(!err)),
          );
          if (ok) mine.add(ts);
          else return;
        }
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 2000));
  first.child.kill('SIGKILL');
  await first.exited;
  running = false;
  for (const c of clients) c.end(true);
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
  const total = [...acked.values()].reduce((s, set) => s + set.size, 0);
  t.true(total > 500, `${total} fixes acknowledged before the kill`);

  const second = await spawnPlatform(env);
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${second.ports.http}/healthz`);
      const body = (await res.json()) as { components: { spool: { depthFixes: number } } };
      return body.components.spool.depthFixes === 0 ? true : undefined;
    },
    'the spool to drain into the store after the restart',
    30_000,
  );
  second.child.kill('SIGTERM');
  t.is(await second.exited, 0, 'SIGTERM shuts down cleanly');

  const store = new EmbeddedStore({ dir: path.join(dataDir, 'store') });
  await store.open();
  t.teardown(() => store.close());
  let missing = 0;
  for (const [vehicle, set] of acked) {
    const stored = new Set((await store.track({ vehicle, from: t0, to: Date.now() })).map((f) => f.ts));
    for (const ts of set) if (!stored.has(ts)) missing++;
  }
  t.is(missing, 0, `${missing} of ${total} acknowledged fixes missing after kill -9`);
});
