import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ModelMappingSchema, SHIPPED_MODEL } from '../registry/device-models.ts';
import { RegistryConflictError, SqliteRegistry } from '../registry/sqlite.ts';

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
