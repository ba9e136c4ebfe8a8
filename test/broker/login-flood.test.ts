/**
 * Issue 10, defect 2: scrypt (device secrets) and the spool's fdatasync shared libuv's thread pool, so
 * wrong-password CONNECTs queued hashing in front of the fdatasync every PUBACK waits for (300 of them
 * pushed a healthy device's PUBACK p50 from 3 ms to 3.9 s). Now hashing takes a bounded share of the
 * pool (registry/hash-gate.ts), wrong secrets are remembered, and failed logins are throttled per device
 * id and per source address (broker/login-throttle.ts), with CONNACK 3.
 *
 * Verdicts by order and counts, never by latency: the healthy device's publishes must all be
 * acknowledged before the flood's CONNACKs are done; throttled CONNECTs are counted.
 */
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { ADDRESS_THROTTLE, DEVICE_THROTTLE, LoginThrottle } from '../../broker/login-throttle.ts';
import { BoundedConcurrency, HashingBusyError } from '../../registry/hash-gate.ts';
import { hashSecret } from '../../registry/secrets.ts';
import { rawConnect } from '../../simulators/load/raw-connect.ts';
import {
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform.ts';

const SECRET = 'login-flood-test-secret-0123';

async function platformWithDevices(t: { teardown(fn: () => Promise<void>): void }, ids: string[]) {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-a', name: 'A' });
  const secretHash = await hashSecret(SECRET);
  for (const id of ids)
    r.upsertVehicle({ id: `veh-${id}`, plate: `皖A·${id}`, kind: 'muck_truck', firm: 'firm-a' });
  r.importDevices(
    ids.map((id) => ({ id, kind: 'muck_truck' as const, vehicle: `veh-${id}`, firm: 'firm-a', secretHash })),
  );
  return tp;
}

const metric = async (tp: TestPlatform, name: string): Promise<number> => {
  const text = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
};

const connackOf = (tp: TestPlatform, username: string, password: string, localAddress: string, n = 0) =>
  rawConnect({
    port: tp.platform.ports.mqtt!,
    localAddress,
    clientId: `${username}-${localAddress}-${n}`,
    username,
    password,
  });

test('a healthy device gets all its PUBACKs while a wrong-password flood is still being answered', async (t) => {
  const FLOOD = 150;
  const floodIds = Array.from({ length: FLOOD }, (_, i) => `flood-${i}`);
  const tp = await platformWithDevices(t, ['healthy', ...floodIds]);
  const healthy: MqttClient = await connectClient(tp.mqttUrl, {
    username: 'healthy',
    password: SECRET,
    clientId: 'healthy',
  });
  t.teardown(() => endClient(healthy));
  const ts0 = Date.now() - 600_000;
  await publishQos1(healthy, 'devices/healthy/telemetry', JSON.stringify({ ts: ts0, lat: 31.8, lon: 117.2 }));

  // the flood: one CONNECT per known device id with a wrong password, 15 per source address (under both
  // throttles, so every one of them costs a scrypt run)
  const log: string[] = [];
  let sent = 0;
  const allSent = new Promise<void>((resolve) => {
    const flood = floodIds.map((id, i) =>
      rawConnect({
        port: tp.platform.ports.mqtt!,
        localAddress: `127.0.5.${1 + Math.floor(i / 15)}`,
        clientId: id,
        username: id,
        password: 'wrong-password',
        onSent: () => {
          if (++sent === FLOOD) resolve();
        },
      }).then((code) => log.push(`connack ${code}`)),
    );
    void Promise.all(flood);
  });
  await allSent;
  // wait until the broker has the flood's CONNECTs (they count against the address throttle on arrival)
  await eventually(
    async () => ((await metric(tp, 'citywatch_mqtt_secret_checks_waiting')) >= FLOOD / 2 ? true : undefined),
    'the flood queued for secret checks',
  );
  const N = 10;
  for (let i = 1; i <= N; i++) {
    await publishQos1(
      healthy,
      'devices/healthy/telemetry',
      JSON.stringify({ ts: ts0 + i * 1000, lat: 31.8, lon: 117.2 }),
    );
    log.push('puback');
  }
  await eventually(
    () => (log.filter((e) => e.startsWith('connack')).length === FLOOD ? true : undefined),
    'every CONNACK',
    120_000,
  );

  const lastPuback = log.lastIndexOf('puback');
  const connacksBefore = log.slice(0, lastPuback).filter((e) => e.startsWith('connack')).length;
  t.log(`all ${N} PUBACKs came after ${connacksBefore} of the flood's ${FLOOD} CONNACKs`);
  t.true(connacksBefore < FLOOD / 2, `the PUBACKs waited for ${connacksBefore} CONNACKs`);
  t.deepEqual(
    log.filter((e) => e.startsWith('connack')),
    Array.from({ length: FLOOD }, () => 'connack 4'),
  );
  t.is(await metric(tp, 'citywatch_mqtt_auth_failures_total{reason="bad_secret"}'), FLOOD);
});

test('failed logins are throttled per device id and per source address (CONNACK 3, counted); a remembered secret passes; a fleet behind one address is no flood', async (t) => {
  const FREE = ADDRESS_THROTTLE.free;
  const ids = Array.from({ length: FREE + 5 }, (_, i) => `dev-${i}`);
  const tp = await platformWithDevices(t, ['victim', ...ids]);
  // a whole fleet behind one address (a NAT) logging in at once: every one gets in
  const fleet = await Promise.all(ids.map((id) => connackOf(tp, id, SECRET, '127.0.9.1')));
  t.deepEqual(
    fleet,
    ids.map(() => 0),
  );

  // the victim logs in once (its secret is then remembered), from its own address
  t.is(await connackOf(tp, 'victim', SECRET, '127.0.6.1'), 0);
  // per device id: wrong passwords for the victim, each from another address
  const perDevice: (number | string)[] = [];
  for (let i = 0; i < DEVICE_THROTTLE.free + 3; i++)
    perDevice.push(await connackOf(tp, 'victim', `guess-${i}`, `127.0.7.${i + 1}`));
  t.deepEqual(perDevice, [...Array(DEVICE_THROTTLE.free).fill(4), 3, 3, 3]);
  // ... and the victim itself still gets in (its secret is remembered: no scrypt, no throttle)
  t.is(await connackOf(tp, 'victim', SECRET, '127.0.6.1', 1), 0);

  // per address: FREE new wrong secrets from one address (a burst, all checked), then it is blocked
  const burst = await Promise.all(ids.slice(0, FREE).map((id) => connackOf(tp, id, 'guess', '127.0.8.1')));
  t.deepEqual(
    burst,
    ids.slice(0, FREE).map(() => 4),
  );
  const after: (number | string)[] = [];
  for (const id of ids.slice(FREE)) after.push(await connackOf(tp, id, 'guess-2', '127.0.8.1'));
  t.deepEqual(after, [3, 3, 3, 3, 3]);
  // unknown user names from a blocked address are throttled too; from another address they are not
  t.is(await connackOf(tp, 'nobody', 'x', '127.0.8.1'), 3);
  t.is(await connackOf(tp, 'nobody', 'x', '127.0.8.2'), 4);
  // a device with its right, remembered secret gets in from the blocked address
  t.is(await connackOf(tp, 'victim', SECRET, '127.0.8.1', 2), 0);

  // a terminal retrying its stale password (remembered: no scrypt) does not block its address
  for (let i = 0; i < FREE + 5; i++) t.is(await connackOf(tp, 'dev-0', 'stale', '127.0.10.1', i), 4);
  t.is(await connackOf(tp, 'nobody', 'x', '127.0.10.1'), 4, 'its address is not blocked');

  t.is(await metric(tp, 'citywatch_mqtt_auth_throttled_total{by="device"}'), 3);
  t.is(await metric(tp, 'citywatch_mqtt_auth_throttled_total{by="address"}'), 6);
  t.is(await metric(tp, 'citywatch_mqtt_auth_failures_total{reason="throttled"}'), 9);
});

test('a wrong secret tried again costs no second scrypt run; a new secret forgets it', async (t) => {
  const tp = await platformWithDevices(t, ['dev-1']);
  const registry = tp.platform.registry;
  const before = registry.secretChecksRun;
  t.false(await registry.verifyDevice('dev-1', 'stale-password'));
  t.false(await registry.verifyDevice('dev-1', 'stale-password'));
  t.is(registry.rememberedDeviceVerdict('dev-1', 'stale-password'), false);
  t.is(registry.rememberedDeviceVerdict('dev-1', 'another'), undefined);
  t.is(registry.secretChecksRun - before, 1);
  await registry.setDeviceSecret('dev-1', 'stale-password');
  t.is(registry.rememberedDeviceVerdict('dev-1', 'stale-password'), undefined);
  t.true(await registry.verifyDevice('dev-1', 'stale-password'));
});

test('login throttle: free failures, doubling blocks up to the maximum, one attempt at a time after a block, forgotten later', (t) => {
  let now = 0;
  const th = new LoginThrottle({
    free: 2,
    baseBlockMs: 1000,
    maxBlockMs: 4000,
    forgetMs: 60_000,
    maxKeys: 3,
    now: () => now,
  });
  const attempt = (key: string, ok = false) => {
    const v = th.check(key);
    if (!v.allowed) return v.retryAfterMs;
    th.begin(key);
    th.end(key, ok);
    return 'checked';
  };
  t.is(attempt('a'), 'checked');
  t.is(attempt('a'), 'checked');
  t.is(attempt('a'), 1000, 'blocked 1 s after the second failure');
  now = 1000;
  t.is(attempt('a'), 'checked');
  t.is(attempt('a'), 2000);
  now = 3000;
  t.is(attempt('a'), 'checked');
  now = 7000;
  t.is(attempt('a'), 'checked', 'blocked 4 s (the maximum)');
  t.is(attempt('a'), 4000);
  // while a check is under way after a block, a second attempt waits
  now = 20_000;
  t.true(th.check('a').allowed);
  th.begin('a');
  t.false(th.check('a').allowed);
  th.end('a', true);
  t.true(th.check('a').allowed, 'a success forgets the failures');
  t.is(th.size, 0);
  // forgotten after forgetMs without failures
  attempt('b');
  attempt('b');
  t.false(th.check('b').allowed);
  now += 60_000;
  t.true(th.check('b').allowed);
  // bounded: the oldest key goes first
  for (const k of ['c', 'd', 'e', 'f']) th.fail(k);
  t.is(th.size, 3);
});

test('hash gate: at most `concurrency` jobs at once, a bounded queue, the rest refused at once', async (t) => {
  const gate = new BoundedConcurrency(2, 3);
  let running = 0;
  let peak = 0;
  const releases: (() => void)[] = [];
  const job = () =>
    new Promise<void>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      releases.push(() => {
        running--;
        resolve();
      });
    });
  const accepted = Array.from({ length: 5 }, () => gate.run(job));
  await t.throwsAsync(gate.run(job), { instanceOf: HashingBusyError });
  t.deepEqual(gate.stats, { running: 2, waiting: 3 });
  while (releases.length > 0 || gate.stats.running > 0) {
    releases.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(accepted);
  t.is(peak, 2);
  t.deepEqual(gate.stats, { running: 0, waiting: 0 });
});
