/**
 * What a device may publish and subscribe to: its own topics, $SYS, dead letters, last will, disabled devices (their world: test/support/broker/broker.ts).
 */
import test from 'ava';
import { collect, fixJson, fixture, suback } from '../support/broker/broker.ts';
import { closed, metricValue, SECRETS, until } from './fixture.ts';

// ---------------------------------------------------------------- ACL

test("publishing to another device's topic closes the connection, is counted and never reaches ingest", async (t) => {
  const f = await fixture(t);
  const svc = await f.connect('ingest', SECRETS.ingest);
  const watched = collect(svc);
  await svc.subscribeAsync('devices/#', { qos: 1 });
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const gone = closed(device);
  device.publish('devices/truck-2/telemetry', fixJson(), { qos: 1 });
  await gone;
  // marker: truck-2 itself publishes to that topic after the refusal; once the service has the marker,
  // a forwarded forgery (decided before the connection closed) would have reached it first
  const owner = await f.connect('truck-2', SECRETS['truck-2']);
  await owner.publishAsync('devices/truck-2/telemetry', fixJson(2), { qos: 1 });
  await until(() => watched.some((m) => m.text === fixJson(2)), 5000, 'the marker');
  t.deepEqual(
    f.calls.map((c) => [c.deviceId, c.payload]),
    [['truck-2', fixJson(2)]],
  );
  t.deepEqual(
    watched.filter((m) => m.topic === 'devices/truck-2/telemetry').map((m) => m.text),
    [fixJson(2)],
  );
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_acl_denials_total{action="publish"}'), 1);
});

test('$SYS publishes are refused for services too; services may publish elsewhere', async (t) => {
  const f = await fixture(t);
  const svc = await f.connect('ingest', SECRETS.ingest);
  await svc.publishAsync('devices/truck-1/commands/reboot', '{}', { qos: 1 });
  await svc.publishAsync('platform/alerts', '{}', { qos: 1 });
  t.true(svc.connected);
  const gone = closed(svc);
  svc.publish('$SYS/fake/heartbeat', 'x', { qos: 1 });
  await gone;
  t.is(f.broker.stats().aclDenials.publish, 1);
});

test('a device subscribes to its own commands only: other filters get 0x80', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const codes = await suback(device, {
    'devices/truck-1/commands/#': 1,
    'devices/truck-1/commands/+/ack': 1,
    'devices/truck-2/commands/#': 1,
    'devices/+/commands/#': 1,
    'devices/truck-1/telemetry': 1,
    '#': 0,
    'platform/deadletter': 0,
    'platform/#': 0,
    '$SYS/#': 0,
  });
  t.deepEqual(codes, {
    'devices/truck-1/commands/#': 1,
    'devices/truck-1/commands/+/ack': 1,
    'devices/truck-2/commands/#': 128,
    'devices/+/commands/#': 128,
    'devices/truck-1/telemetry': 128,
    '#': 128,
    'platform/deadletter': 128,
    'platform/#': 128,
    '$SYS/#': 128,
  });
  t.true(device.connected, 'a refused filter does not cost the connection');
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_acl_denials_total{action="subscribe"}'), 7);

  // the granted subscription works: a service sends a command
  const got = collect(device);
  const svc = await f.connect('ingest', SECRETS.ingest);
  await svc.publishAsync('devices/truck-1/commands/reboot', '{"at":"now"}', { qos: 1 });
  await svc.publishAsync('devices/truck-2/commands/reboot', '{"at":"now"}', { qos: 1 });
  // marker: a later command to truck-1 from the same publisher; a leaked one would arrive before it
  await svc.publishAsync('devices/truck-1/commands/marker', '{}', { qos: 1 });
  await until(() => got.length >= 2, 5000, 'the command and the marker');
  t.deepEqual(got, [
    { topic: 'devices/truck-1/commands/reboot', text: '{"at":"now"}', retain: false },
    { topic: 'devices/truck-1/commands/marker', text: '{}', retain: false },
  ]);
});

test('platform/deadletter: refused to a device, granted to a service, which receives broker.publish', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('cam-1', SECRETS['cam-1']);
  t.deepEqual(await suback(device, { 'platform/deadletter': 1 }), { 'platform/deadletter': 128 });
  t.true(device.connected);

  const svc = await f.connect('ingest', SECRETS.ingest);
  const got = collect(svc);
  t.deepEqual(await suback(svc, { 'platform/deadletter': 1 }), { 'platform/deadletter': 1 });
  await f.broker.publish('platform/deadletter', '{"reasons":["invalid_json"]}', { qos: 1 });
  await until(() => got.length === 1, 5000, 'dead letter');
  t.deepEqual(got[0], { topic: 'platform/deadletter', text: '{"reasons":["invalid_json"]}', retain: false });
  await t.throwsAsync(f.broker.publish('platform/#', 'x'), { message: /invalid topic/ });
});

test('a device disabled while connected cannot publish any more', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 });
  f.registry.setDeviceEnabled('truck-1', false);
  const gone = closed(device);
  device.publish('devices/truck-1/telemetry', fixJson(2), { qos: 1 });
  await gone;
  t.is(f.calls.length, 1);
});

test("a device's own last will on its status topic is allowed", async (t) => {
  const f = await fixture(t);
  const watcher = await f.connect('ingest', SECRETS.ingest);
  const seen = collect(watcher);
  await watcher.subscribeAsync('devices/cam-1/status', { qos: 1 });
  const device = await f.connect('cam-1', SECRETS['cam-1'], {
    will: { topic: 'devices/cam-1/status', payload: Buffer.from('{"state":"lost"}'), qos: 1, retain: true },
  });
  await until(() => seen.length === 1, 5000, 'online');
  device.stream.destroy();
  await until(() => seen.length === 3, 5000, 'will and offline');
  t.deepEqual(
    seen.map((m) => JSON.parse(m.text).state),
    ['online', 'lost', 'offline'],
  );
  t.is(f.broker.stats().aclDenials.publish, 0);
});
