import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { FollowerRegistry } from '../../broker/cluster/follower-registry.ts';
import { hashSecret, SqliteRegistry, verifySecret } from '../../registry/index.ts';

async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const SECRET = 'Tr0ub4dor&3-渣土车-secret';

test('hashSecret: self-describing scrypt string, random salt, verifies', async (t) => {
  const a = await hashSecret(SECRET);
  const b = await hashSecret(SECRET);
  t.regex(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
  const [, , , , salt, hash] = a.split('$');
  t.is(Buffer.from(salt ?? '', 'base64').length, 16);
  t.is(Buffer.from(hash ?? '', 'base64').length, 32);
  t.not(a, b, 'a fresh salt each time');
  t.false(a.includes(SECRET));
  t.true(await verifySecret(SECRET, a));
  t.true(await verifySecret(SECRET, b));
  t.false(await verifySecret(`${SECRET}x`, a));
  t.false(await verifySecret('', a));
  await t.throwsAsync(hashSecret(''));
});

test('verifySecret: malformed or hostile stored values verify false without throwing', async (t) => {
  const good = await hashSecret('s');
  const parts = good.split('$');
  for (const bad of [
    '',
    'plain',
    good.replace('scrypt', 'bcrypt'),
    ['scrypt', '16383', ...parts.slice(2)].join('$'), // N not a power of two
    ['scrypt', String(1 << 24), ...parts.slice(2)].join('$'), // N too large (memory)
    ['scrypt', '16384', '8', '1', parts[4], ''].join('$'),
    `${good}$extra`,
  ]) {
    t.false(await verifySecret('s', bad), bad);
  }
});

test('secrets are stored only as scrypt hashes: the plain secret is in no database file', async (t) => {
  const dir = await tempDir(t);
  const reg = new SqliteRegistry({ dir });
  await reg.putDevice({ id: 'truck-7', secret: SECRET, kind: 'body_camera', firm: 'f' });
  await reg.putServiceCredential('ingest', `${SECRET}-svc`);

  const files = (await readdir(dir)).filter((name) => name.startsWith('registry.db'));
  t.true(files.includes('registry.db'));
  const bytes = Buffer.concat(await Promise.all(files.map((name) => readFile(join(dir, name)))));
  t.true(bytes.includes('truck-7'), 'the rows are in the files read (main db or WAL)');
  t.false(bytes.includes(SECRET), 'plain device secret absent');
  t.false(bytes.includes(Buffer.from(SECRET, 'utf16le')));

  const db = new Database(join(dir, 'registry.db'), { readonly: true });
  const row = db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get('truck-7') as {
    secret_hash: string;
  };
  const svc = db.prepare('SELECT secret_hash FROM service_credentials').get() as { secret_hash: string };
  t.regex(row.secret_hash, /^scrypt\$16384\$8\$1\$/);
  t.regex(svc.secret_hash, /^scrypt\$16384\$8\$1\$/);
  t.is((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
  db.close();
  reg.close();
});

test('verifyDevice / verifyService: true only for an enabled device (or service) with its secret', async (t) => {
  const reg = new SqliteRegistry({ dir: await tempDir(t) });
  t.teardown(() => reg.close());
  await reg.putDevice({ id: 'cam-1', secret: SECRET, kind: 'body_camera', firm: 'dept-1', officer: 'off-9' });
  await reg.putServiceCredential('alerts', 'alerts-secret');

  t.true(await reg.verifyDevice('cam-1', SECRET));
  t.false(await reg.verifyDevice('cam-1', 'wrong'));
  t.false(await reg.verifyDevice('cam-1', ''));
  t.false(await reg.verifyDevice('nope', SECRET));
  t.false(await reg.verifyDevice('alerts', 'alerts-secret'), 'a service is not a device');

  reg.setDeviceEnabled('cam-1', false);
  t.false(await reg.verifyDevice('cam-1', SECRET), 'disabled devices fail, even from the cache');
  reg.setDeviceEnabled('cam-1', true);
  t.true(await reg.verifyDevice('cam-1', SECRET));

  t.true(reg.isService('alerts'));
  t.false(reg.isService('cam-1'));
  t.true(await reg.verifyService('alerts', 'alerts-secret'));
  t.false(await reg.verifyService('alerts', 'wrong'));
  t.false(await reg.verifyService('cam-1', SECRET));
  t.throws(() => reg.setDeviceEnabled('nope', false), { message: /unknown device/ });
});

test('verification cache: repeat checks skip scrypt; a secret change or disabling invalidates it', async (t) => {
  const reg = new SqliteRegistry({ dir: await tempDir(t) });
  t.teardown(() => reg.close());
  await reg.putDevice({
    id: 'truck-1',
    secret: 'old-secret',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'f',
  });
  t.is(reg.verificationCacheSize(), 0);

  t.true(await reg.verifyDevice('truck-1', 'old-secret'));
  t.is(reg.verificationCacheSize(), 1);
  t.false(await reg.verifyDevice('truck-1', 'wrong'), 'the cache does not let another secret through');
  t.is(reg.verificationCacheSize(), 1, 'failures are not cached');

  // a cached check costs a HMAC, not a scrypt
  const runs = reg.secretChecksRun;
  for (let i = 0; i < 200; i++) t.true(await reg.verifyDevice('truck-1', 'old-secret'));
  t.is(reg.secretChecksRun, runs, '200 cached checks ran no scrypt');

  await reg.putDevice({
    id: 'truck-1',
    secret: 'new-secret',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'f',
  });
  t.is(reg.verificationCacheSize(), 0, 'secret change drops the cached entry');
  t.false(await reg.verifyDevice('truck-1', 'old-secret'), 'old secret no longer accepted');
  t.true(await reg.verifyDevice('truck-1', 'new-secret'));

  reg.setDeviceEnabled('truck-1', false);
  t.is(reg.verificationCacheSize(), 0, 'disabling drops it too');
  reg.setDeviceEnabled('truck-1', true);
  t.true(await reg.verifyDevice('truck-1', 'new-secret'));

  await reg.putServiceCredential('svc', 'a');
  t.true(await reg.verifyService('svc', 'a'));
  await reg.putServiceCredential('svc', 'b');
  t.false(await reg.verifyService('svc', 'a'));
  t.true(await reg.verifyService('svc', 'b'));
});

test('one shared secret hash (a load fleet): one scrypt for the whole fleet, none for a wrong secret let through', async (t) => {
  const reg = new SqliteRegistry({ dir: await tempDir(t) });
  t.teardown(() => reg.close());
  const secretHash = await hashSecret(SECRET);
  reg.importDevices(
    Array.from({ length: 50 }, (_, i) => ({
      id: `load-${i}`,
      kind: 'body_camera' as const,
      firm: 'f',
      secretHash,
    })),
  );
  for (let i = 0; i < 50; i++) t.true(await reg.verifyDevice(`load-${i}`, SECRET));
  t.is(reg.secretChecksRun, 1, 'the hash was checked once');
  t.false(await reg.verifyDevice('load-7', `${SECRET}x`), 'another secret still fails');
  t.is(reg.secretChecksRun, 2, 'and it cost a real check');
});

test('importVehicles: all checked before anything is written, then one transaction; reopened, they are there', async (t) => {
  const dir = await tempDir(t);
  const reg = new SqliteRegistry({ dir });
  const fleet = Array.from({ length: 20 }, (_, i) => ({
    id: `veh-${i}`,
    plate: `皖A·${i}`,
    kind: 'muck_truck' as const,
    firm: 'f',
    ...(i % 2 === 0 ? { ratedLoadT: 18 } : {}),
  }));
  const bad = [...fleet.slice(0, 5), { id: 'veh-bad', plate: '', kind: 'muck_truck' as const, firm: 'f' }];
  t.throws(() => reg.importVehicles(bad), { message: /vehicle plate/ });
  t.is(reg.vehicle('veh-0'), undefined, 'nothing written when one is refused');
  t.is(reg.importVehicles(fleet), 20);
  t.is(reg.vehicle('veh-4')?.ratedLoadT, 18);
  reg.close();
  const again = new SqliteRegistry({ dir });
  t.teardown(() => again.close());
  t.deepEqual(
    again
      .vehicles()
      .map((v) => v.id)
      .sort(),
    fleet.map((v) => v.id).sort(),
  );
  t.is(again.vehicle('veh-3')?.ratedLoadT, undefined);
});

test('a follower (an MQTT edge process) reads through what the writer created, changed or deleted', async (t) => {
  const dir = await tempDir(t);
  const writer = new SqliteRegistry({ dir });
  const follower = new FollowerRegistry({ dir });
  t.teardown(() => {
    follower.close();
    writer.close();
  });
  const device = { id: 'cam-9', secret: 'first-secret', kind: 'body_camera' as const, firm: 'f' };
  await writer.putDevice(device);
  t.is(follower.device('cam-9')?.id, 'cam-9', 'created after the follower opened: read on the miss');
  t.true(await follower.verifyDevice('cam-9', 'first-secret'));

  await writer.putDevice({ ...device, secret: 'second-secret' });
  t.true(await follower.verifyDevice('cam-9', 'first-secret'), 'a known device is not re-read by itself');
  follower.refreshDevice('cam-9'); // what the platform's dropSessions message makes the edge do
  t.false(await follower.verifyDevice('cam-9', 'first-secret'), 'the rotated secret no longer verifies');
  t.true(await follower.verifyDevice('cam-9', 'second-secret'));

  writer.setDeviceEnabled('cam-9', false);
  t.is(follower.refreshDevice('cam-9')?.enabled, false);
  t.false(await follower.verifyDevice('cam-9', 'second-secret'), 'disabled');

  writer.deleteDevice('cam-9');
  t.is(follower.refreshDevice('cam-9'), undefined);
  t.is(follower.device('cam-9'), undefined);
  t.false(await follower.verifyDevice('nobody', 'x'), 'an unknown user is refused');

  await writer.putServiceCredential('svc', 'service-secret-1');
  t.true(follower.isService('svc'));
  t.true(await follower.verifyService('svc', 'service-secret-1'));
});

test('everything survives close and reopen', async (t) => {
  const dir = await tempDir(t);
  const reg = new SqliteRegistry({ dir });
  reg.upsertFirm({ id: 'firm-1', name: '合肥渣土运输有限公司' });
  reg.upsertFirm({ id: 'dept-1', name: '城管执法大队' });
  reg.upsertVehicle({ id: 'veh-1', plate: '皖A·12345', kind: 'muck_truck', firm: 'firm-1', ratedLoadT: 31 });
  reg.upsertVehicle({ id: 'veh-2', plate: '皖A·67890', kind: 'sanitation', firm: 'firm-1' });
  reg.upsertOfficer({ id: 'off-9', name: '张三', firm: 'dept-1' });
  await reg.putDevice({
    id: 'term-1',
    secret: 's1',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-1',
    reportIntervalS: 10,
  });
  await reg.putDevice({ id: 'cam-1', secret: 's2', kind: 'body_camera', firm: 'dept-1', officer: 'off-9' });
  reg.setDeviceEnabled('cam-1', false);
  await reg.putServiceCredential('ingest', 's3');
  reg.upsertFirm({ id: 'firm-1', name: '合肥渣土运输有限公司（更名）' });
  reg.close();

  const again = new SqliteRegistry({ dir });
  t.teardown(() => again.close());
  t.deepEqual(again.firm('firm-1'), { id: 'firm-1', name: '合肥渣土运输有限公司（更名）' });
  t.is(again.firms().length, 2);
  t.deepEqual(again.vehicle('veh-1'), {
    id: 'veh-1',
    plate: '皖A·12345',
    kind: 'muck_truck',
    firm: 'firm-1',
    ratedLoadT: 31,
  });
  t.deepEqual(again.vehicle('veh-2'), {
    id: 'veh-2',
    plate: '皖A·67890',
    kind: 'sanitation',
    firm: 'firm-1',
  });
  t.deepEqual(again.officer('off-9'), { id: 'off-9', name: '张三', firm: 'dept-1' });
  t.deepEqual(again.device('term-1'), {
    id: 'term-1',
    kind: 'muck_truck',
    unit: 'veh-1',
    firm: 'firm-1',
    reportIntervalS: 10,
    enabled: true,
  });
  t.deepEqual(again.device('cam-1'), {
    id: 'cam-1',
    kind: 'body_camera',
    unit: 'cam-1',
    firm: 'dept-1',
    officer: 'off-9',
    reportIntervalS: 30,
    enabled: false,
  });
  t.is(again.devices().length, 2);
  t.is(again.vehicles().length, 2);
  t.is(again.officers().length, 1);
  t.true(await again.verifyDevice('term-1', 's1'));
  t.false(await again.verifyDevice('cam-1', 's2'), 'still disabled');
  t.true(again.isService('ingest'));
  t.true(await again.verifyService('ingest', 's3'));
});

test('lookups are served from memory and cannot be mutated from outside', async (t) => {
  const reg = new SqliteRegistry({ dir: await tempDir(t) });
  t.teardown(() => reg.close());
  const returned = await reg.putDevice({
    id: 'term-1',
    secret: 's',
    kind: 'sanitation',
    vehicle: 'veh-5',
    firm: 'f',
  });
  t.is(returned.unit, 'veh-5');
  const d = reg.device('term-1');
  t.truthy(d);
  t.throws(() => {
    (d as { enabled: boolean }).enabled = false;
  });
  t.is(reg.device('term-1')?.enabled, true);
  returned.enabled = false; // the returned copy is the caller's
  t.is(reg.device('term-1')?.enabled, true);
  t.is(reg.device('term-1'), reg.device('term-1'), 'same object on every call: no per-message copy');
});

test('invalid input is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  const reg = new SqliteRegistry({ dir });
  t.teardown(() => reg.close());
  const base = { secret: 's', kind: 'body_camera' as const, firm: 'f' };
  for (const id of ['', 'a/b', 'a+b', 'a#b', '$sys', 'x'.repeat(65)]) {
    await t.throwsAsync(reg.putDevice({ ...base, id }), { message: /device id/ }, JSON.stringify(id));
  }
  await t.throwsAsync(reg.putDevice({ ...base, id: 'ok', secret: '' }));
  await t.throwsAsync(reg.putDevice({ id: 'ok', secret: 's', kind: 'muck_truck', firm: 'f' }), {
    message: /vehicle/,
  });
  await t.throwsAsync(reg.putDevice({ ...base, id: 'ok', vehicle: 'veh-1' }), { message: /body camera/ });
  reg.upsertVehicle({ id: 'veh-1', plate: 'P', kind: 'sanitation', firm: 'f' });
  await t.throwsAsync(
    reg.putDevice({ id: 'ok', secret: 's', kind: 'muck_truck', vehicle: 'veh-1', firm: 'f' }),
    {
      message: /does not match/,
    },
  );
  await t.throwsAsync(reg.putDevice({ ...base, id: 'ok', reportIntervalS: 0 }));
  t.throws(() => reg.upsertVehicle({ id: 'v', plate: 'P', kind: 'body_camera' as never, firm: 'f' }));
  t.throws(() => reg.upsertFirm({ id: '', name: 'x' }));
  t.deepEqual(reg.devices(), []);
  t.is(reg.vehicles().length, 1);
});
