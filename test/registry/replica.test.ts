/**
 * What a cluster node does with another node's registry changes (cluster/registry-sync.ts carries them):
 * ComplianceRegistry.applyVersion stores a version row as written elsewhere (once; a different row of
 * the same number is a conflict, refused), SqliteRegistry.applyRecord writes a whole record (the last
 * one applied is the state). Real SQLite files, no servers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { type ComplianceChange, ComplianceRegistry } from '../../registry/compliance.ts';
import { type ReplicatedTable, SqliteRegistry } from '../../registry/sqlite.ts';

const square = (lon: number, lat: number) => [
  [
    [
      [lon, lat],
      [lon + 0.01, lat],
      [lon + 0.01, lat + 0.01],
      [lon, lat + 0.01],
      [lon, lat],
    ],
  ],
];
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'citywatch-replica-'));
/** a version as it travels: JSON */
const carried = <T>(v: T): T => JSON.parse(JSON.stringify(v));

test('a compliance version from another node is stored once, heard as replicated, and a different one of the same number is a conflict', (t) => {
  let clock = 1_000;
  const a = new ComplianceRegistry({ dir: tmp(), now: () => clock });
  clock = 2_000;
  const b = new ComplianceRegistry({ dir: tmp(), now: () => clock });
  t.teardown(() => {
    a.close();
    b.close();
  });
  // both created the city thresholds v1 at their first start, at different times: the same version
  t.is(b.applyVersion(carried(a.record('thresholds', 'city')!)), 'same');

  const heard: ComplianceChange[] = [];
  b.onChange((c) => heard.push(c));
  a.put('zone', { id: 'zone-1', kind: 'restricted', name: 'z', polygons: square(117.2, 31.8) } as never, {
    actor: 'key-a',
  });
  const v1 = carried(a.record('zone', 'zone-1')!);
  t.is(b.applyVersion(v1), 'applied');
  t.deepEqual(b.record('zone', 'zone-1'), a.record('zone', 'zone-1'));
  t.deepEqual(heard, [{ kind: 'zone', id: 'zone-1', version: 1, deleted: false, replicated: true }]);
  t.is(b.snapshot().zones.length, 1, 'the engine sees it');
  t.is(b.applyVersion(v1), 'same', 'its own write coming back, or seen before');

  // both nodes write version 2 of the zone at once
  a.put('zone', { id: 'zone-1', kind: 'restricted', name: 'from a', polygons: square(117.2, 31.8) } as never);
  b.put('zone', { id: 'zone-1', kind: 'restricted', name: 'from b', polygons: square(117.2, 31.8) } as never);
  t.is(b.applyVersion(carried(a.record('zone', 'zone-1')!)), 'conflict');
  t.is(b.get('zone', 'zone-1')?.name, 'from b', 'nothing written: the node keeps its own');

  // an older version arriving after a newer one is stored in the history, the latest stays
  a.delete('zone', 'zone-1');
  const c = new ComplianceRegistry({ dir: tmp() });
  t.teardown(() => c.close());
  const history = a.history('zone', 'zone-1').map(carried);
  t.is(c.applyVersion(history[2]!), 'applied');
  t.is(c.applyVersion(history[0]!), 'applied');
  t.is(c.get('zone', 'zone-1'), undefined, 'v3, the deletion, is the latest');
  t.deepEqual(
    c.history('zone', 'zone-1').map((r) => r.version),
    [1, 3],
  );
});

test('a device-registry record from another node is the state there: secret, enabled flag, deletion', async (t) => {
  const a = new SqliteRegistry({ dir: tmp() });
  const b = new SqliteRegistry({ dir: tmp() });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const local: string[] = [];
  a.onRecordChange((table, id) => local.push(`${table} ${id}`));
  b.onRecordChange((table, id) => local.push(`b ${table} ${id}`));
  const carry = (table: ReplicatedTable, id: string) =>
    b.applyRecord(table, id, carried(a.exportRecord(table, id)));

  a.upsertFirm({ id: 'firm-a', name: 'A 公司' });
  a.upsertVehicle({ id: 'veh-1', plate: '皖A·00001', kind: 'muck_truck', firm: 'firm-a', ratedLoadT: 18 });
  await a.putDevice({
    id: 'dev-1',
    secret: 'secret-one-long-enough',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '13900000001' },
  });
  t.true(carry('firm', 'firm-a'));
  t.true(carry('vehicle', 'veh-1'));
  t.true(carry('device', 'dev-1'));
  t.false(carry('device', 'dev-1'), 'the same record again writes nothing');
  t.deepEqual(b.vehicle('veh-1'), a.vehicle('veh-1'));
  t.deepEqual(b.device('dev-1'), a.device('dev-1'));
  t.is(b.deviceByJt808Phone('013900000001')?.id, 'dev-1');
  t.true(await b.verifyDevice('dev-1', 'secret-one-long-enough'));

  a.setDeviceEnabled('dev-1', false);
  t.true(carry('device', 'dev-1'));
  t.false(await b.verifyDevice('dev-1', 'secret-one-long-enough'), 'disabled there, refused here');

  a.setDeviceEnabled('dev-1', true);
  await a.setDeviceSecret('dev-1', 'secret-two-long-enough');
  t.true(carry('device', 'dev-1'));
  t.false(
    await b.verifyDevice('dev-1', 'secret-one-long-enough'),
    'the old secret, remembered before, stops',
  );
  t.true(await b.verifyDevice('dev-1', 'secret-two-long-enough'));

  // its JT/T 808 terminal authenticated through one edge: its registration is closed on every node
  await a.closeJt808Registration('dev-1', 1_234);
  t.true(carry('device', 'dev-1'));
  t.is(b.jt808RegistrationClosedAt('dev-1'), 1_234);

  a.deleteDevice('dev-1');
  t.true(carry('device', 'dev-1'));
  t.is(b.device('dev-1'), undefined);
  t.is(b.deviceByJt808Phone('13900000001'), undefined);

  // the file holds what the maps hold: a restart reads it back
  b.close();
  const again = new SqliteRegistry({ dir: path.dirname(b.path) });
  t.teardown(() => again.close());
  t.deepEqual(again.vehicle('veh-1'), a.vehicle('veh-1'));
  t.is(again.device('dev-1'), undefined);

  // local writes are told (they are published), applied ones are not (they came from the stream)
  t.deepEqual(local, [
    'firm firm-a',
    'vehicle veh-1',
    'device dev-1',
    'device dev-1',
    'device dev-1',
    'device dev-1',
    'device dev-1',
    'device dev-1',
  ]);
});

test('nodes sharing one DATA_DIR: a change another process stored in the file is taken into memory, once', async (t) => {
  // two processes of one machine on one folder (the benchmark's parts, the compose profile's shared volume)
  const dir = tmp();
  const writer = new ComplianceRegistry({ dir });
  const reader = new ComplianceRegistry({ dir });
  const source = new ComplianceRegistry({ dir: tmp() });
  t.teardown(() => {
    writer.close();
    reader.close();
    source.close();
  });
  source.put('zone', { id: 'zone-s', kind: 'restricted', name: 's', polygons: square(117.2, 31.8) } as never);
  const v1 = carried(source.record('zone', 'zone-s')!);
  const heard: ComplianceChange[] = [];
  reader.onChange((c) => heard.push(c));
  t.is(writer.applyVersion(v1), 'applied');
  t.is(reader.applyVersion(v1), 'applied', 'the row is in the file already; memory takes it');
  t.is(reader.get('zone', 'zone-s')?.name, 's');
  t.is(heard.length, 1);
  t.is(reader.applyVersion(v1), 'same');

  const devicesDir = tmp();
  const a = new SqliteRegistry({ dir: devicesDir });
  const b = new SqliteRegistry({ dir: devicesDir });
  const origin = new SqliteRegistry({ dir: tmp() });
  t.teardown(() => {
    a.close();
    b.close();
    origin.close();
  });
  await origin.putDevice({ id: 'dev-s', secret: 'secret-s-long-enough', kind: 'body_camera', firm: 'f' });
  t.true(a.applyRecord('device', 'dev-s', carried(origin.exportRecord('device', 'dev-s'))));
  t.true(b.applyRecord('device', 'dev-s', carried(origin.exportRecord('device', 'dev-s'))));
  t.true(await b.verifyDevice('dev-s', 'secret-s-long-enough'));
  origin.setDeviceEnabled('dev-s', false);
  t.true(a.applyRecord('device', 'dev-s', carried(origin.exportRecord('device', 'dev-s'))));
  t.true(b.applyRecord('device', 'dev-s', carried(origin.exportRecord('device', 'dev-s'))));
  t.false(await b.verifyDevice('dev-s', 'secret-s-long-enough'), 'disabled in memory too');
  t.false(b.applyRecord('device', 'dev-s', carried(origin.exportRecord('device', 'dev-s'))));
});

test("the cluster's choice between two versions of one number replaces the one held, which is kept aside", (t) => {
  const dir = tmp();
  const a = new ComplianceRegistry({ dir: tmp() });
  const b = new ComplianceRegistry({ dir });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const zone = (name: string) => ({ id: 'zone-1', kind: 'restricted', name, polygons: square(117.2, 31.8) });
  a.put('zone', zone('from a') as never);
  b.put('zone', zone('from b') as never);
  const heard: ComplianceChange[] = [];
  b.onChange((c) => heard.push(c));
  const winner = carried(a.record('zone', 'zone-1')!);
  t.is(b.applyVersion(winner), 'conflict');
  t.is(b.applyVersion(winner, { replace: true }), 'applied');
  t.deepEqual(b.record('zone', 'zone-1'), a.record('zone', 'zone-1'), 'the version held is the cluster’s');
  t.deepEqual(heard, [{ kind: 'zone', id: 'zone-1', version: 1, deleted: false, replicated: true }]);
  t.is(b.snapshot().zones[0]?.name, 'from a', 'the engine sees it');
  t.is(b.applyVersion(winner), 'same');
  // the file holds it (a restart reads it back), and the version it replaced in entity_versions_lost;
  // any other delete is still refused
  b.close();
  const again = new ComplianceRegistry({ dir });
  t.teardown(() => again.close());
  t.is(again.get('zone', 'zone-1')?.name, 'from a');
  const db = new Database(path.join(dir, 'compliance.db'));
  t.teardown(() => db.close());
  const lost = db.prepare('SELECT kind, id, version, body FROM entity_versions_lost').all() as {
    body: string;
  }[];
  t.is(lost.length, 1);
  t.is(JSON.parse(lost[0]!.body).name, 'from b');
  t.throws(() => db.prepare("DELETE FROM entity_versions WHERE kind = 'zone'").run(), {
    any: true,
    message: /immutable/,
  });
});

test("a cluster node's outbox: a write made here leaves its row in the write's transaction, an applied one none", async (t) => {
  const dir = tmp();
  const a = new SqliteRegistry({ dir });
  const other = new SqliteRegistry({ dir: tmp() });
  t.teardown(() => {
    a.close();
    other.close();
  });
  a.upsertFirm({ id: 'firm-x', name: 'before' }); // before the outbox: a seed, offered by the sync
  let base = 5;
  const box = a.outbox(() => base);
  const rows = () => box.next(0, 100).map(({ tbl, id, base }) => `${tbl} ${id} @${base}`);
  t.deepEqual(rows(), []);
  a.upsertFirm({ id: 'firm-x', name: 'X' });
  base = 9;
  a.upsertFirm({ id: 'firm-x', name: 'X again' });
  t.deepEqual(rows(), ['firm firm-x @5'], 'one row a record, with the stream sequence of its first change');
  await a.putDevice({
    id: 'dev-x',
    secret: 'secret-x-long-enough',
    kind: 'muck_truck',
    vehicle: 'v',
    firm: 'firm-x',
  });
  t.deepEqual(rows(), ['firm firm-x @5', 'device dev-x @9']);
  const published = box.of('device', 'dev-x')!.seq;
  t.true(box.done(published));
  t.false(box.done(published), 'a row already gone');
  // the JT/T 808 closing written at the next turn is a change of the device record
  await a.closeJt808Registration('dev-x', 1_234);
  t.deepEqual(rows(), ['firm firm-x @5', 'device dev-x @9']);

  // a record from another node, even one changed here before: applied, no row
  other.upsertVehicle({ id: 'veh-y', plate: '皖A·00009', kind: 'muck_truck', firm: 'firm-x' });
  t.true(a.applyRecord('vehicle', 'veh-y', carried(other.exportRecord('vehicle', 'veh-y'))));
  t.true(a.applyRecord('device', 'dev-x', null));
  t.deepEqual(rows(), ['firm firm-x @5', 'device dev-x @9'], 'the rows of changes made here stay');
  t.throws(() => a.setDeviceEnabled('missing', false));
  t.deepEqual(rows(), ['firm firm-x @5', 'device dev-x @9'], 'a write refused leaves none');

  // durable: the file keeps the rows and its uid through a restart
  const uid = box.uid;
  a.close();
  const again = new SqliteRegistry({ dir });
  t.teardown(() => again.close());
  const box2 = again.outbox(() => 0);
  t.is(box2.uid, uid);
  t.deepEqual(
    box2.next(0, 100).map(({ tbl, id }) => `${tbl} ${id}`),
    ['firm firm-x', 'device dev-x'],
  );
});

test('records applied in one batch: one transaction; a batch that fails as a whole leaves file and memory as before', async (t) => {
  const dirA = tmp();
  const dirB = tmp();
  const a = new SqliteRegistry({ dir: dirA });
  let b = new SqliteRegistry({ dir: dirB });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const carry = (table: ReplicatedTable, id: string) =>
    b.applyRecord(table, id, carried(a.exportRecord(table, id)));
  a.upsertFirm({ id: 'firm-a', name: 'A 公司' });
  a.upsertVehicle({ id: 'veh-1', plate: '皖A·00001', kind: 'muck_truck', firm: 'firm-a', ratedLoadT: 18 });
  await a.putDevice({
    id: 'dev-1',
    secret: 'secret-one-long-enough',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
  });
  t.true(
    b.applyBatch(() => carry('firm', 'firm-a') && carry('vehicle', 'veh-1') && carry('device', 'dev-1')),
  );
  b.close();
  b = new SqliteRegistry({ dir: dirB });
  t.deepEqual(b.vehicle('veh-1'), a.vehicle('veh-1'), 'the batch committed');
  t.true(await b.verifyDevice('dev-1', 'secret-one-long-enough'));

  // changes of every kind of record, then the batch fails: none stays, in the file or in memory
  a.upsertFirm({ id: 'firm-a', name: 'A 公司 renamed' });
  a.upsertVehicle({ id: 'veh-1', plate: '皖A·00001', kind: 'muck_truck', firm: 'firm-a', ratedLoadT: 25 });
  a.upsertVehicle({ id: 'veh-2', plate: '皖A·00002', kind: 'muck_truck', firm: 'firm-a' });
  a.upsertOfficer({ id: 'off-1', name: '王', firm: 'firm-a' });
  a.putDeviceModel('model-1', { fields: {} });
  await a.setDeviceSecret('dev-1', 'secret-two-long-enough');
  const before = (['firm', 'vehicle', 'officer', 'device_model', 'device'] as const).map((tbl) =>
    b.recordIds(tbl).map((id) => [tbl, id, b.exportRecord(tbl, id)]),
  );
  const error = t.throws(() =>
    b.applyBatch(() => {
      for (const [tbl, id] of [
        ['firm', 'firm-a'],
        ['vehicle', 'veh-1'],
        ['vehicle', 'veh-2'],
        ['officer', 'off-1'],
        ['device_model', 'model-1'],
        ['device', 'dev-1'],
      ] as const)
        t.true(carry(tbl, id));
      t.is(b.firm('firm-a')?.name, 'A 公司 renamed', 'applied inside the batch');
      throw new Error('the commit failed');
    }),
  );
  t.is(error?.message, 'the commit failed');
  const after = (['firm', 'vehicle', 'officer', 'device_model', 'device'] as const).map((tbl) =>
    b.recordIds(tbl).map((id) => [tbl, id, b.exportRecord(tbl, id)]),
  );
  t.deepEqual(after, before);
  t.is(b.firm('firm-a')?.name, 'A 公司');
  t.is(b.vehicle('veh-1')?.ratedLoadT, 18);
  t.is(b.vehicle('veh-2'), undefined);
  t.is(b.officer('off-1'), undefined);
  t.is(b.deviceModel('model-1'), undefined);
  t.true(await b.verifyDevice('dev-1', 'secret-one-long-enough'), 'the secret held before the batch');
  t.false(await b.verifyDevice('dev-1', 'secret-two-long-enough'));
  // the same records carried again afterwards: written, as nothing of them was kept
  t.true(b.applyBatch(() => carry('firm', 'firm-a') && carry('vehicle', 'veh-2')));
  t.is(b.firm('firm-a')?.name, 'A 公司 renamed');
});
