/**
 * Issue 16, the registry between nodes (cluster/registry-sync.ts) on a real 3-node NATS cluster:
 *  - a change made on one node and cut off by a crash (kill -9) between the local write and its publish
 *    reaches the other nodes once the node is back: the device-registry outbox
 *    (registry/sqlite/outbox.ts) holds it through the crash; a compliance version is a durable row that
 *    the node offers again;
 *  - two nodes changing the same entity and the same record at once end, with a third node, with the
 *    same registry: the stream's order decides (the first version N of an entity, the last event of a
 *    record), and the node whose change lost counts it.
 * The verdicts rest on order, not speed: each step waits until every node has published what it had
 * and read the stream to its end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REGISTRY_STREAM } from '../../cluster/jetstream.ts';
import type { RegistryEvent } from '../../cluster/registry-sync.ts';
import type { ZoneInput } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { NATS_SERVER_BIN, type NatsCluster, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { type RegistryNode, startRegistryNode } from '../support/cluster/registry-node.ts';
import { CRASH_WRITES, seedDataDir } from '../support/cluster-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-registry-outbox');
const ROOT = path.resolve(import.meta.dirname, '../..');

const waitFor = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 180_000) => {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(ok)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** every node has published what it had and applied the stream to its end */
async function settled(nodes: RegistryNode[]): Promise<void> {
  await waitFor('every node settled', async () => {
    if (nodes.some((n) => n.sync.pendingChanges > 0)) return false;
    const last = (await nodes[0]!.conn.jsm.streams.info(REGISTRY_STREAM)).state.last_seq;
    return nodes.every((n) => n.sync.stats.seq === last && n.sync.pendingChanges === 0);
  });
}

/** the registry node of test/support/registry-node-child.ts, in a process of its own */
function spawnChild(nats: NatsCluster, dir: string, crash: boolean) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/registry-node-child.ts'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dir,
        CLUSTER_NATS_URLS: nats.urls.join(','),
        CRASH_AFTER_WRITES: crash ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
  process.once('exit', () => child.kill('SIGKILL'));
  return { child, exited, output: () => out };
}

const zone = (id: string, name: string): ZoneInput => ({
  id,
  kind: 'restricted',
  name,
  polygons: [
    [
      [
        [117.2, 31.8],
        [117.21, 31.8],
        [117.21, 31.81],
        [117.2, 31.8],
      ],
    ],
  ],
});

const world = (firm: string) => ({
  firms: [firm],
  vehicles: [{ id: `veh-${firm}`, plate: '皖A·O0001', kind: 'muck_truck' as const, firm }],
  devices: [
    {
      id: 'dev-o1',
      secret: 'secret-o1-long-enough',
      kind: 'muck_truck' as const,
      vehicle: `veh-${firm}`,
      firm,
    },
  ],
});

serial(
  'a change cut off by kill -9 between the local write and its publish reaches the other nodes',
  async (t) => {
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const dirs = await Promise.all([
      seedDataDir(world(CRASH_WRITES.firm)),
      seedDataDir(world(CRASH_WRITES.firm)),
    ]);
    t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
    // the other node seeds the stream: the device and the firm are named in it before the crash
    const other = await startRegistryNode(nats, dirs[0]!, 'other');
    t.teardown(() => other.close());
    await settled([other]);

    const crashing = spawnChild(nats, dirs[1]!, true);
    t.is(await crashing.exited, 'SIGKILL', crashing.output());
    t.regex(crashing.output(), /settled/, 'it had joined the cluster before the writes');
    // the writes are in its files, and not in the stream
    const files = new SqliteRegistry({ dir: path.join(dirs[1]!, 'registry') });
    t.false(files.device(CRASH_WRITES.device)?.enabled, 'the local write was made');
    files.close();
    await settled([other]);
    t.true(other.devices.device(CRASH_WRITES.device)?.enabled, 'nothing was published before the crash');

    // back up: what the crash cut off is published, and the other node applies it
    const again = spawnChild(nats, dirs[1]!, false);
    t.teardown(() => void again.child.kill('SIGKILL'));
    await waitFor('the node back and settled', () => /settled/.test(again.output()));
    await settled([other]);
    t.false(other.devices.device(CRASH_WRITES.device)?.enabled, 'the device disabled before the crash');
    t.is(other.devices.firm(CRASH_WRITES.firm)?.name, CRASH_WRITES.firmName);
    t.is(other.compliance.get('zone', CRASH_WRITES.zone)?.name, 'added before the crash');
    again.child.kill('SIGTERM');
    await again.exited;
    const after = new SqliteRegistry({ dir: path.join(dirs[1]!, 'registry') });
    t.false(after.device(CRASH_WRITES.device)?.enabled, 'the crashed node kept its change too');
    after.close();

    // a crash after the publish, before the row was deleted: at the restart the node finds its event in
    // the stream, deletes the row and publishes nothing again, so a later change of another node stands
    const dir = await seedDataDir(world(CRASH_WRITES.firm));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const files2 = new SqliteRegistry({ dir: path.join(dir, 'registry') });
    const box = files2.outbox(() => 0);
    files2.upsertFirm({ id: CRASH_WRITES.firm, name: 'published, then the crash' });
    const row = box.of('firm', CRASH_WRITES.firm)!;
    const event: RegistryEvent = {
      origin: 'the node before its crash',
      at: Date.now(),
      ob: { uid: box.uid, seq: row.seq, base: 0 },
      change: { t: 'firm', id: CRASH_WRITES.firm, record: files2.exportRecord('firm', CRASH_WRITES.firm) },
    };
    files2.close();
    await other.conn.js.publish('citywatch.registry.record.firm', JSON.stringify(event), {
      msgID: `${box.uid}/${row.seq}`,
    });
    other.devices.upsertFirm({ id: CRASH_WRITES.firm, name: 'changed later by the other node' });
    await settled([other]);
    const restarted = await startRegistryNode(nats, dir, 'restarted');
    t.teardown(() => restarted.close());
    await settled([other, restarted]);
    t.is(restarted.sync.stats.published, 0, 'its row was done: found in the stream');
    for (const n of [other, restarted])
      t.is(n.devices.firm(CRASH_WRITES.firm)?.name, 'changed later by the other node');
  },
);

serial(
  'two nodes changing the same entity and record at once: every node ends with the same registry',
  async (t) => {
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const dirs = await Promise.all([1, 2, 3].map(() => seedDataDir(world('firm-c'))));
    t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
    const nodes: RegistryNode[] = [];
    for (const [i, dir] of dirs.entries()) nodes.push(await startRegistryNode(nats, dir, `node-${'abc'[i]}`));
    t.teardown(() => Promise.all(nodes.map((n) => n.close())).then(() => {}));
    const [a, b, c] = nodes as [RegistryNode, RegistryNode, RegistryNode];
    c.compliance.put('zone', zone('zone-c', 'v1 from c'));
    await settled(nodes);
    t.is(a.compliance.get('zone', 'zone-c')?.version, 1);

    // in one turn of the event loop: both write version 2 of the zone and the firm before either publishes
    a.compliance.put('zone', zone('zone-c', 'v2 from a'));
    b.compliance.put('zone', zone('zone-c', 'v2 from b'));
    a.devices.upsertFirm({ id: 'firm-c', name: 'from a' });
    b.devices.upsertFirm({ id: 'firm-c', name: 'from b' });
    await settled(nodes);

    // the stream's order: the first version 2 of the zone, the last event of the firm
    const events: RegistryEvent[] = [];
    const last = (await a.conn.jsm.streams.info(REGISTRY_STREAM)).state.last_seq;
    for (let seq = 1; seq <= last; seq++)
      events.push((await a.conn.jsm.streams.getMessage(REGISTRY_STREAM, { seq }))!.json<RegistryEvent>());
    const v2 = events
      .map((e) => e.change)
      .find((ch) => ch.t === 'compliance' && ch.version.id === 'zone-c' && ch.version.version === 2);
    const firmEvents = events.map((e) => e.change).filter((ch) => ch.t === 'firm' && ch.id === 'firm-c');
    const winnerZone = v2?.t === 'compliance' ? (v2.version.entity as { name?: string })?.name : undefined;
    const lastFirm = firmEvents.at(-1);
    const winnerFirm = lastFirm?.t === 'firm' ? (lastFirm.record?.name as string | undefined) : undefined;
    t.true(winnerZone === 'v2 from a' || winnerZone === 'v2 from b', String(winnerZone));
    t.true(winnerFirm === 'from a' || winnerFirm === 'from b', String(winnerFirm));

    const history = (n: RegistryNode) =>
      n.compliance
        .history('zone', 'zone-c')
        .map(({ version, entity, createdAt }) => ({ version, entity, createdAt }));
    for (const n of nodes) {
      t.deepEqual(history(n), history(c), 'the same versions on every node');
      t.is(n.compliance.get('zone', 'zone-c')?.name, winnerZone);
      t.is(n.devices.firm('firm-c')?.name, winnerFirm);
    }
    // the two losing changes (the zone's version 2 and the firm's name) were counted where they were made
    t.is(a.sync.stats.lost + b.sync.stats.lost, 2, JSON.stringify([a.sync.stats, b.sync.stats]));
    t.is(c.sync.stats.lost, 0);
    t.true(c.sync.stats.conflicts >= 1, 'the third node saw the firm written twice at once');
  },
);
