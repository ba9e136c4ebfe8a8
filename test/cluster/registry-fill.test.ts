/**
 * Issue 16, a node filling an empty DATA_DIR from the registry stream (cluster/registry-sync.ts, its
 * batches cluster/registry-batches.ts) on a real 3-node NATS cluster. A writer node publishes about
 * 3,000 registry events (firms, 2,000 vehicles, officers, devices, zones in two versions, deletions,
 * then changes made live), and:
 *  - a node in a process of its own, killed with kill -9 in the middle of its fill (at the commit of a
 *    batch, its DATA_DIR holding part of the registry), started again on the same DATA_DIR, ends with
 *    the writer's registry, record for record and version for version; its second fill applied the
 *    whole stream in batches of 400 events (its counter of transactions, not a clock: the batches wait
 *    for 400 events or the stream's end, so their number follows from the stream's length);
 *  - a node filling with the default batches, in the test's process, ends with the same registry, and
 *    applies a change made live afterwards in a transaction of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { REGISTRY_STREAM } from '../../cluster/jetstream.ts';
import { ComplianceRegistry, type ZoneInput } from '../../registry/compliance.ts';
import { REPLICATED_TABLES, SqliteRegistry } from '../../registry/sqlite.ts';
import { NATS_SERVER_BIN, type NatsCluster, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { startRegistryNode } from '../support/cluster/registry-node.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-registry-fill');
const ROOT = path.resolve(import.meta.dirname, '../..');
const BATCH_MAX = 400;
const KILL_AFTER_APPLIED = 1_000;

const waitFor = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 300_000) => {
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

/** the registry node of test/support/registry-node-child.ts, in a process of its own */
function spawnChild(nats: NatsCluster, dir: string, killAfter: number) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/registry-node-child.ts'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dir,
        CLUSTER_NATS_URLS: nats.urls.join(','),
        KILL_AFTER_APPLIED: String(killAfter),
        BATCH_MAX: String(BATCH_MAX),
        // a batch waits for BATCH_MAX events or the stream's end, never for a clock
        FILL_WAIT_MS: String(3_600_000),
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

const zone = (id: string, name: string, lon: number): ZoneInput => ({
  id,
  kind: 'restricted',
  name,
  polygons: [
    [
      [
        [lon, 31.8],
        [lon + 0.01, 31.8],
        [lon + 0.01, 31.81],
        [lon, 31.8],
      ],
    ],
  ],
});

/** the writer's DATA_DIR before it joins: a seed it offers to the stream at its start */
async function seed(dir: string): Promise<void> {
  const devices = new SqliteRegistry({ dir: path.join(dir, 'registry') });
  const compliance = new ComplianceRegistry({ dir: path.join(dir, 'compliance') });
  for (let f = 0; f < 20; f++) devices.upsertFirm({ id: `firm-${f}`, name: `公司 ${f}` });
  devices.importVehicles(
    Array.from({ length: 2_000 }, (_, i) => ({
      id: `veh-${i}`,
      plate: `皖A·${String(i).padStart(5, '0')}`,
      kind: 'muck_truck' as const,
      firm: `firm-${i % 20}`,
      ...(i % 3 === 0 ? { ratedLoadT: 18 } : {}),
    })),
  );
  for (let o = 0; o < 100; o++)
    devices.upsertOfficer({ id: `off-${o}`, name: `官员 ${o}`, firm: `firm-${o % 20}` });
  for (let d = 0; d < 3; d++)
    await devices.putDevice({
      id: `dev-${d}`,
      secret: `secret-${d}-long-enough`,
      kind: 'muck_truck',
      vehicle: `veh-${d}`,
      firm: 'firm-0',
      ...(d === 0 ? { jt808: { phone: '13900000001' } } : {}),
    });
  compliance.batch(() => {
    for (let z = 0; z < 600; z++) compliance.put('zone', zone(`zone-${z}`, `zone ${z}`, 117 + z / 1_000));
    for (let z = 0; z < 200; z++) compliance.put('zone', zone(`zone-${z}`, `zone ${z} v2`, 118 + z / 1_000));
    for (let z = 580; z < 600; z++) compliance.delete('zone', `zone-${z}`);
  });
  compliance.close();
  devices.close();
}

/** a DATA_DIR's registry as JSON: every record of every table, every compliance version */
function registryOf(devices: SqliteRegistry, compliance: ComplianceRegistry) {
  const records = REPLICATED_TABLES.map((tbl) =>
    devices
      .recordIds(tbl)
      .sort()
      .map((id) => [tbl, id, devices.exportRecord(tbl, id)]),
  );
  // the city thresholds v1 each node creates at its first start: the same but for its time of writing
  const versions = [...compliance.allVersions()].map((v) =>
    v.kind === 'thresholds' && v.version === 1 ? { ...v, createdAt: '' } : v,
  );
  return JSON.parse(JSON.stringify({ records, versions }));
}

function registryIn(dir: string) {
  const devices = new SqliteRegistry({ dir: path.join(dir, 'registry') });
  const compliance = new ComplianceRegistry({ dir: path.join(dir, 'compliance') });
  try {
    return registryOf(devices, compliance);
  } finally {
    compliance.close();
    devices.close();
  }
}

/** rows of the device registry a (killed) node's file holds, read without opening it as a registry */
function recordRowsIn(dir: string): number {
  const db = new Database(path.join(dir, 'registry', 'registry.db'));
  try {
    return ['firms', 'vehicles', 'officers', 'devices'].reduce(
      (n, table) => n + (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n,
      0,
    );
  } finally {
    db.close();
  }
}

serial(
  'a node filling an empty DATA_DIR, killed with kill -9 in the middle, ends with the writer registry; the fill ran in batches',
  async (t) => {
    t.timeout(900_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const dirs = await Promise.all(
      [0, 1, 2].map(() => fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-registry-fill-'))),
    );
    t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
    const [writerDir, filledDir, otherDir] = dirs as [string, string, string];
    await seed(writerDir);
    const writer = await startRegistryNode(nats, writerDir, 'writer');
    t.teardown(() => writer.close());
    // changes made live, after the seed: records and a zone named twice in the stream
    writer.devices.setDeviceEnabled('dev-1', false);
    writer.devices.upsertFirm({ id: 'firm-3', name: '公司 3 renamed' });
    writer.compliance.put('zone', zone('zone-0', 'zone 0 v3', 119));
    await waitFor('the writer published everything', () => writer.sync.pendingChanges === 0);
    const events = (await writer.conn.jsm.streams.info(REGISTRY_STREAM)).state.last_seq;
    const recordsTotal = 20 + 2_000 + 100 + 3;
    t.true(events >= recordsTotal + 600 + 200 + 20 + 3, `${events} events in the stream`);
    await waitFor('the writer read its own events', () => writer.sync.stats.seq === events);
    const expected = registryOf(writer.devices, writer.compliance);

    // killed at the commit of the batch holding the 1,000th record applied: part of the registry there
    const killed = spawnChild(nats, filledDir, KILL_AFTER_APPLIED);
    t.is(await killed.exited, 'SIGKILL', killed.output());
    t.notRegex(killed.output(), /settled/, 'killed before it had read the stream to its end');
    const rowsAtKill = recordRowsIn(filledDir);
    t.true(
      rowsAtKill >= KILL_AFTER_APPLIED && rowsAtKill < recordsTotal,
      `${rowsAtKill} of ${recordsTotal} records in the killed node's file`,
    );

    const again = spawnChild(nats, filledDir, 0);
    await waitFor('the node back and filled', () => /settled/.test(again.output()));
    const stats = JSON.parse(/settled (\{.*\})/.exec(again.output())![1]!) as {
      seq: number;
      published: number;
      batches: number;
      applied: number;
    };
    again.child.kill('SIGTERM');
    t.is(await again.exited, null, again.output());
    t.is(stats.seq, events);
    t.is(stats.published, 0, 'it had nothing of its own to offer');
    // the whole stream again from its first event, BATCH_MAX at a time: one transaction per batch
    const batches = Math.ceil(events / BATCH_MAX);
    t.true(
      stats.batches >= batches && stats.batches <= batches + 2,
      `${stats.batches} transactions for ${events} events`,
    );
    t.deepEqual(registryIn(filledDir), expected);

    // the default batches, in this process
    const other = await startRegistryNode(nats, otherDir, 'other');
    t.teardown(() => other.close());
    t.is(other.sync.stats.seq, events);
    t.log(`default batches: ${other.sync.stats.batches} transactions for ${events} events`);
    t.deepEqual(registryOf(other.devices, other.compliance), expected);

    // live, a change alone is a batch of its own: applied as it comes
    const before = other.sync.stats.batches;
    writer.devices.upsertFirm({ id: 'firm-4', name: '公司 4 renamed' });
    await waitFor('the live change applied', () => other.devices.firm('firm-4')?.name === '公司 4 renamed');
    t.is(other.sync.stats.seq, events + 1);
    t.is(other.sync.stats.batches, before + 1);
  },
);
