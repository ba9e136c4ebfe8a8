import net from 'node:net';
import test from 'ava';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import { encodeFrame } from '../../../gateway/jt808/codec/packet.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { eventually, startTestPlatform } from '../../support/platform.ts';

/** Connection handling of the running gateway: backpressure per connection and the idle timeout. */

const NOW = Math.floor(Date.now() / 1000) * 1000;

async function world(env: Record<string, string> = {}) {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ JT808_PORT: String(jt808Port), ...env });
  tp.platform.registry.upsertFirm({ id: 'firm-a', name: 'A' });
  tp.platform.registry.upsertVehicle({ id: 'veh-1', plate: '皖A00001', kind: 'muck_truck', firm: 'firm-a' });
  await tp.platform.registry.putDevice({
    id: 'good',
    secret: 'good-terminal-code-1',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '13900000001' },
  });
  const good = new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone: '13900000001' });
  await good.connect();
  t0 = Date.now();
  return { tp, jt808Port, good };
}
let t0 = 0;

const metric = async (tp: Awaited<ReturnType<typeof world>>['tp'], line: string): Promise<number> => {
  const found = (await tp.platform.metrics.metrics()).split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.split(' ').pop());
};

test('a terminal that does not read its replies stops being read; the others are answered meanwhile', async (t) => {
  const { tp, jt808Port, good } = await world();
  t.teardown(() => tp.stop());
  t.teardown(() => good.destroy());
  t.is(await good.authenticate('good-terminal-code-1'), 0);
  // a raw socket that writes heartbeats and never reads: its replies pile up at the gateway
  const slow = net.connect({ host: '127.0.0.1', port: jt808Port });
  await new Promise((r) => slow.once('connect', r));
  slow.pause();
  t.teardown(() => slow.destroy());
  const heartbeat = encodeFrame({
    msgId: MSG.HEARTBEAT,
    edition: '2013',
    phone: '13900000009',
    serial: 1,
    body: Buffer.alloc(0),
  });
  const burst = Buffer.concat(Array.from({ length: 20_000 }, () => heartbeat));
  let sent = 0;
  // keep writing until the gateway has stopped reading us (our own writes back up too)
  await eventually(
    async () => {
      if (slow.writableLength < 1_000_000) {
        slow.write(burst);
        sent += 20_000;
      }
      return (await metric(tp, 'citywatch_jt808_backpressure_pauses_total{cause="write"}')) > 0
        ? true
        : undefined;
    },
    'the gateway to pause the slow connection',
    60_000,
  );
  t.true(sent > 0);
  // the well-behaved terminal is served while the slow one is paused
  for (let i = 0; i < 5; i++) {
    t.is(await good.report({ ts: NOW - 10_000 + i * 1000, lat: 31.82, lon: 117.23, status: 2 }), 0);
  }
  t.true(good.connected);
});

test('a connection silent for JT808_IDLE_TIMEOUT_S is closed; one that sends heartbeats stays', async (t) => {
  const { tp, jt808Port, good } = await world({ JT808_IDLE_TIMEOUT_S: '10' });
  t.teardown(() => tp.stop());
  t.teardown(() => good.destroy());
  const silent = new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone: '13900000002' });
  await silent.connect();
  t.teardown(() => silent.destroy());
  // the live terminal heartbeats every 2 s (a fifth of the timeout) until the silent one is closed
  let closed = false;
  void silent.closed.then(() => {
    closed = true;
  });
  while (!closed) {
    t.is(await good.heartbeat(), 0);
    await new Promise((r) => setTimeout(r, 2000));
    t.true(Date.now() - t0 < 60_000, 'closed within a minute');
  }
  t.true(good.connected, 'the heartbeating terminal is still connected');
  t.is(await metric(tp, 'citywatch_jt808_connections_closed_total{cause="idle"}'), 1);
});
