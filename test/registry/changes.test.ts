import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { SqliteApiKeys } from '../../registry/api-keys.ts';
import { RegistryConflictError, SqliteRegistry } from '../../registry/sqlite.ts';

/** The registry changes behind the resource routes and the key store, across a reopen of their files. */

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-registry-changes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('device secret, fields and deletions persist; a vehicle carrying a device cannot be deleted', async (t) => {
  const dir = tempDir(t);
  let registry = new SqliteRegistry({ dir });
  registry.upsertFirm({ id: 'firm-a', name: '甲' });
  registry.upsertVehicle({ id: 'veh-1', plate: '皖A·1', kind: 'muck_truck', firm: 'firm-a' });
  registry.upsertOfficer({ id: 'off-1', name: '警员', firm: 'firm-a' });
  await registry.putDevice({
    id: 'dev-1',
    secret: 'first-secret',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
  });
  await registry.putDevice({ id: 'cam-1', secret: 'cam-secret', kind: 'body_camera', firm: 'firm-a' });
  t.true(await registry.verifyDevice('dev-1', 'first-secret'));

  registry.setDeviceEnabled('dev-1', false);
  await registry.setDeviceSecret('dev-1', 'second-secret');
  t.false(registry.device('dev-1')!.enabled, 'a new secret keeps the device disabled');
  registry.updateDevice('cam-1', { officer: 'off-1', reportIntervalS: 15 });
  t.throws(() => registry.deleteVehicle('veh-1'), { instanceOf: RegistryConflictError });
  t.deepEqual(registry.devicesOfUnit('veh-1'), ['dev-1']);
  registry.close();

  registry = new SqliteRegistry({ dir });
  t.teardown(() => registry.close());
  registry.setDeviceEnabled('dev-1', true);
  t.false(await registry.verifyDevice('dev-1', 'first-secret'));
  t.true(await registry.verifyDevice('dev-1', 'second-secret'));
  t.like(registry.device('cam-1'), { officer: 'off-1', reportIntervalS: 15 });
  registry.updateDevice('cam-1', { officer: null });
  t.is(registry.device('cam-1')!.officer, undefined);
  t.true(registry.deleteDevice('dev-1'));
  t.false(await registry.verifyDevice('dev-1', 'second-secret'));
  t.true(registry.deleteVehicle('veh-1'));
  t.true(registry.deleteOfficer('off-1'));
  t.false(registry.deleteOfficer('off-1'));
  t.is(registry.vehicle('veh-1'), undefined);
});

test('api keys: resolve by secret, disable, revoke for good; state survives a reopen', (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-11-22T00:00:00Z');
  let keys = new SqliteApiKeys({ dir, now: () => now });
  const { key, secret } = keys.create({
    name: 'erp',
    role: 'firm',
    firm: 'firm-a',
    createdBy: 'admin-token',
  });
  t.deepEqual(keys.resolve(secret), { keyId: key.id, role: 'firm', firm: 'firm-a', scopes: [] });
  t.is(keys.resolve(`${secret}x`), undefined);
  t.is(keys.resolve('not-a-key'), undefined);
  t.throws(() => keys.create({ name: 'x', role: 'firm', createdBy: 'admin-token' }), { message: /firm/ });

  keys.setEnabled(key.id, false);
  t.is(keys.resolve(secret), undefined);
  keys.close();
  keys = new SqliteApiKeys({ dir, now: () => now });
  t.teardown(() => keys.close());
  t.is(keys.resolve(secret), undefined, 'still disabled after a reopen');
  keys.setEnabled(key.id, true);
  now += 120_000;
  t.truthy(keys.resolve(secret));
  t.is(keys.get(key.id)!.lastUsedAt, new Date(now).toISOString());
  keys.revoke(key.id);
  t.is(keys.resolve(secret), undefined);
  t.throws(() => keys.setEnabled(key.id, true), { name: 'ApiKeyStateError' });
  t.is(keys.list().length, 1, 'a revoked key stays listed');
});
