import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { ModelMappingSchema, SHIPPED_MODEL } from '../../../registry/device-models.ts';
import { canonicalPhone, RegistryConflictError, SqliteRegistry } from '../../../registry/sqlite.ts';

async function registry() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-jt808-reg-'));
  const reg = new SqliteRegistry({ dir });
  reg.upsertFirm({ id: 'firm-a', name: 'A' });
  reg.upsertVehicle({ id: 'veh-1', plate: '皖A12345', kind: 'muck_truck', firm: 'firm-a' });
  reg.upsertVehicle({ id: 'veh-2', plate: '皖A12346', kind: 'muck_truck', firm: 'firm-a' });
  return { dir, reg };
}

test('a terminal phone binds one device; found with any leading zeros; kept across a reopen', async (t) => {
  const { dir, reg } = await registry();
  await reg.putDevice({
    id: 'term-1',
    secret: 'secret-secret-01',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '013912345678', terminalId: 'T0001', model: 'citywatch-muck-1' },
  });
  t.deepEqual(reg.device('term-1')?.jt808, {
    phone: '13912345678',
    terminalId: 'T0001',
    model: 'citywatch-muck-1',
  });
  t.is(reg.deviceByJt808Phone('00000000013912345678')?.id, 'term-1');
  t.is(reg.deviceByJt808Phone('13912345678')?.id, 'term-1');
  t.is(reg.deviceByJt808Phone('13912345679'), undefined);
  await reg.putDevice({
    id: 'term-2',
    secret: 'secret-secret-02',
    kind: 'muck_truck',
    vehicle: 'veh-2',
    firm: 'firm-a',
  });
  t.throws(() => reg.setJt808Binding('term-2', { phone: '13912345678' }), {
    instanceOf: RegistryConflictError,
  });
  t.throws(() => reg.setJt808Binding('term-2', { phone: '1391234567x' }), { message: /1-20 digits/ });
  reg.setJt808Binding('term-2', { phone: '13900000002' });
  // disabling keeps the binding; re-binding term-1 frees its old phone
  reg.setDeviceEnabled('term-2', false);
  t.is(reg.deviceByJt808Phone('13900000002')?.enabled, false);
  reg.setJt808Binding('term-1', { phone: '13900000001' });
  t.is(reg.deviceByJt808Phone('13912345678'), undefined);
  reg.putDeviceModel(SHIPPED_MODEL.id, SHIPPED_MODEL);
  reg.close();

  const again = new SqliteRegistry({ dir });
  t.deepEqual(again.device('term-1')?.jt808, { phone: '13900000001' });
  t.is(again.deviceByJt808Phone('013900000002')?.id, 'term-2');
  t.deepEqual(ModelMappingSchema.parse(again.deviceModel(SHIPPED_MODEL.id)), SHIPPED_MODEL);
  // deleting the device frees its phone
  again.deleteDevice('term-2');
  t.is(again.deviceByJt808Phone('13900000002'), undefined);
  again.setJt808Binding('term-1', null);
  t.is(again.device('term-1')?.jt808, undefined);
  again.close();
});

test('a device model in use cannot be deleted', async (t) => {
  const { reg } = await registry();
  reg.putDeviceModel('m1', SHIPPED_MODEL);
  await reg.putDevice({
    id: 'term-1',
    secret: 'secret-secret-01',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '1', model: 'm1' },
  });
  t.throws(() => reg.deleteDeviceModel('m1'), { instanceOf: RegistryConflictError });
  reg.setJt808Binding('term-1', { phone: '1' });
  t.true(reg.deleteDeviceModel('m1'));
  reg.close();
});

test('the model schema names the field at fault', (t) => {
  const r = ModelMappingSchema.safeParse({ id: 'x', cover: { item: 300, bit: 0, set: 'open' } });
  t.false(r.success);
  t.regex(JSON.stringify(r.error?.issues[0]?.path), /cover/);
  t.false(
    ModelMappingSchema.safeParse({ id: 'x', lift: { item: 1, status: true, bit: 0, set: 'up' } }).success,
  );
});

test('registration closings of one turn are written together, durable when they resolve; a reopening before the write is not undone by it', async (t) => {
  const { dir, reg } = await registry();
  for (const n of [1, 2, 3]) {
    await reg.putDevice({
      id: `term-${n}`,
      secret: `secret-secret-0${n}`,
      kind: 'muck_truck',
      vehicle: n === 1 ? 'veh-1' : 'veh-2',
      firm: 'firm-a',
      jt808: { phone: `1390000000${n}` },
    });
  }
  const inFile = () => {
    const db = new Database(path.join(dir, 'registry.db'), { readonly: true });
    try {
      return (
        db.prepare('SELECT device FROM jt808_registrations ORDER BY device').all() as { device: string }[]
      ).map((r) => r.device);
    } finally {
      db.close();
    }
  };
  const first = reg.closeJt808Registration('term-1', 1000);
  const second = reg.closeJt808Registration('term-2', 2000);
  const third = reg.closeJt808Registration('term-3', 3000);
  // refused at once (in memory), one write for the three
  t.is(reg.jt808RegistrationClosedAt('term-1'), 1000);
  t.is(first, second);
  t.is(second, third);
  t.deepEqual(inFile(), []);
  // term-3's secret changes before the write: its registration is open again and stays so
  await reg.setDeviceSecret('term-3', 'secret-secret-33');
  t.is(reg.jt808RegistrationClosedAt('term-3'), undefined);
  await Promise.all([first, second, third]);
  t.deepEqual(inFile(), ['term-1', 'term-2']);
  // a closing asked again waits for nothing; the first one counts
  await reg.closeJt808Registration('term-1', 5000);
  t.is(reg.jt808RegistrationClosedAt('term-1'), 1000);
  // a closing asked right before close() is written by it
  void reg.closeJt808Registration('term-3', 4000);
  reg.close();
  const again = new SqliteRegistry({ dir });
  t.is(again.jt808RegistrationClosedAt('term-1'), 1000);
  t.is(again.jt808RegistrationClosedAt('term-2'), 2000);
  t.is(again.jt808RegistrationClosedAt('term-3'), 4000);
  again.close();
});

test('canonicalPhone drops leading zeros only', (t) => {
  t.is(canonicalPhone('013912345678'), '13912345678');
  t.is(canonicalPhone('13912345678'), '13912345678');
  t.is(canonicalPhone('1390'), '1390');
  t.is(canonicalPhone('000'), '0');
  t.is(canonicalPhone(''), '0');
});
