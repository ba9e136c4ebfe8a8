import { connect } from 'node:net';
import test from 'ava';
import { PacketSizeTracker } from '../../broker/packet-limit.ts';
import { connectClient, endClient, eventually, publishQos1, startTestPlatform } from '../support/platform.ts';

/** MQTT variable byte integer [MQTT-2.2.3] */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

test('the tracker follows packet boundaries across chunks and flags the first oversized header', (t) => {
  const small = Buffer.from([0x30, ...varint(3), 1, 2, 3]);
  const tracker = new PacketSizeTracker(1000);
  // many packets in one chunk, then a header split across chunks
  t.is(tracker.feed(Buffer.concat([small, small, small])), undefined);
  const big = Buffer.from([0x30, ...varint(200_000)]);
  t.is(tracker.feed(big.subarray(0, 2)), undefined);
  t.regex(tracker.feed(big.subarray(2)) ?? '', /declares 200000 bytes, limit 1000/);
  const body = new PacketSizeTracker(1000);
  t.is(body.feed(Buffer.from([0x30, ...varint(999)])), undefined);
  t.is(body.feed(Buffer.alloc(999)), undefined);
  t.is(body.feed(small), undefined, 'back at a packet boundary after a body split over chunks');
  t.regex(new PacketSizeTracker(1000).feed(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff])) ?? '', /malformed/);
});

test('a client declaring a huge packet is cut off before the body arrives; others keep publishing', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const r = tp.platform.registry;
  await r.putDevice({ id: 'cam-ok', secret: 'secret-ok', kind: 'body_camera', firm: 'dept' });
  const closed = await new Promise<boolean>((resolve) => {
    const socket = connect(tp.platform.ports.mqtt!, '127.0.0.1', () => {
      // An unauthenticated CONNECT that claims 200 MB.
      socket.write(Buffer.from([0x10, ...varint(200_000_000), 0, 4]));
    });
    socket.on('close', () => resolve(true));
    socket.on('error', () => undefined);
    setTimeout(() => resolve(false), 5000).unref();
  });
  t.true(closed);
  const metrics = await eventually(async () => {
    const text = await (await fetch(`${tp.httpUrl}/metrics`)).text();
    return /citywatch_mqtt_oversize_packets_total 1\b/.test(text) ? text : undefined;
  }, 'the oversize counter');
  t.truthy(metrics);
  const device = await connectClient(tp.mqttUrl, {
    username: 'cam-ok',
    password: 'secret-ok',
    clientId: 'cam-ok',
  });
  await publishQos1(
    device,
    'devices/cam-ok/telemetry',
    JSON.stringify({ ts: Date.now(), lat: 31.8, lon: 117.2 }),
  );
  await endClient(device);
  const stored = await eventually(() => tp.platform.store.latestOf('cam-ok'), 'the fix stored');
  t.is(stored.device, 'cam-ok');
});
