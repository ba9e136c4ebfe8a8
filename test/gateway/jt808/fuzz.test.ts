import test from 'ava';
import { escapeFrame, xorCheck } from '../../../gateway/jt808/codec/frame.ts';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import { encodeLocation } from '../../../gateway/jt808/codec/msg-0200.ts';
import { encodeFrame } from '../../../gateway/jt808/codec/packet.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { createRng } from '../../../simulators/shared/rng.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { adminGet, startTestPlatform } from '../../support/platform.ts';

/**
 * 10,000 frames from a seeded generator thrown at the running gateway: random bytes, valid frames
 * mutated (bit flips, cuts, stray 0x7e/0x7d), and well-formed frames (right check code) of every message
 * id the gateway handles with random bodies, from an authenticated terminal so the body decoders run.
 * Nothing may crash; a valid terminal on the same server reports throughout and every report of it is
 * answered success.
 */

const FRAMES = 10_000;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const IDS = [
  MSG.LOCATION,
  MSG.LOCATION_BATCH,
  MSG.LOCATION_ANSWER,
  MSG.REGISTER,
  MSG.AUTHENTICATE,
  MSG.HEARTBEAT,
  MSG.DEREGISTER,
  MSG.TERMINAL_REPLY,
  0x0900,
  0x0102,
];

test('10,000 fuzzed frames: zero crashes, every refusal counted, a valid terminal unaffected', async (t) => {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ JT808_PORT: String(jt808Port) });
  t.teardown(() => tp.stop());
  const reg = tp.platform.registry;
  reg.upsertFirm({ id: 'firm-a', name: 'A' });
  reg.upsertVehicle({ id: 'veh-good', plate: '皖A00001', kind: 'muck_truck', firm: 'firm-a' });
  reg.upsertVehicle({ id: 'veh-fuzz', plate: '皖A00002', kind: 'muck_truck', firm: 'firm-a' });
  await reg.putDevice({
    id: 'good',
    secret: 'good-terminal-code-1',
    kind: 'muck_truck',
    vehicle: 'veh-good',
    firm: 'firm-a',
    jt808: { phone: '13900000001' },
  });
  await reg.putDevice({
    id: 'fuzz',
    secret: 'fuzz-terminal-code-1',
    kind: 'muck_truck',
    vehicle: 'veh-fuzz',
    firm: 'firm-a',
    // a terminal id, so the fuzzed registrations are refused and the fuzz terminal keeps its code
    jt808: { phone: '13900000002', terminalId: 'FUZZ-ID' },
  });
  const terminal = (phone: string) => new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone });
  const good = terminal('13900000001');
  await good.connect();
  t.teardown(() => good.destroy());
  t.is(await good.authenticate('good-terminal-code-1'), 0);

  const rng = createRng(808);
  const byte = () => Math.floor(rng.next() * 256);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, byte));
  const validLocation = () =>
    encodeLocation({ ts: NOW - Math.floor(rng.next() * 3_600_000), lat: 31.8, lon: 117.2, status: 2 });

  function fuzzFrame(): Buffer {
    const kind = rng.next();
    if (kind < 0.2) return bytes(1 + Math.floor(rng.next() * 64));
    const msgId = IDS[Math.floor(rng.next() * IDS.length)]!;
    const body =
      rng.next() < 0.5
        ? bytes(Math.floor(rng.next() * 120))
        : Buffer.concat([validLocation(), bytes(Math.floor(rng.next() * 8))]);
    const edition = rng.next() < 0.5 ? '2013' : '2019';
    const frame = encodeFrame({
      msgId,
      edition,
      phone: '13900000002',
      serial: Math.floor(rng.next() * 65536),
      body,
    });
    if (kind < 0.6) return frame; // well-formed, random body
    const mutated = Buffer.from(frame);
    const mutation = rng.next();
    if (mutation < 0.4) {
      for (let i = 0; i < 1 + Math.floor(rng.next() * 4); i++) {
        const at = 1 + Math.floor(rng.next() * (mutated.length - 2));
        mutated[at] = mutated[at]! ^ (1 << Math.floor(rng.next() * 8));
      }
      return mutated;
    }
    if (mutation < 0.7) return mutated.subarray(0, 1 + Math.floor(rng.next() * (mutated.length - 1)));
    // a well-checked frame whose header lies about the body length, or a stray escape
    const raw = Buffer.concat([Buffer.from([msgId >> 8, msgId & 0xff, byte(), byte()]), bytes(10), body]);
    const escaped = escapeFrame(Buffer.concat([raw, Buffer.of(xorCheck(raw))]));
    return Buffer.concat([
      Buffer.of(0x7e),
      escaped,
      rng.next() < 0.5 ? Buffer.of(0x7d, byte()) : Buffer.alloc(0),
      Buffer.of(0x7e),
    ]);
  }

  let fuzz = terminal('13900000002');
  let connections = 0;
  let goodReports = 0;
  for (let i = 0; i < FRAMES; i++) {
    if (!fuzz.connected) {
      fuzz = terminal('13900000002');
      await fuzz.connect();
      connections++;
      // authenticated, so well-formed frames reach the body decoders (a fuzzed 0x0003 gave its code up)
      if (!(await reg.verifyDevice('fuzz', 'fuzz-terminal-code-1')))
        await reg.setDeviceSecret('fuzz', 'fuzz-terminal-code-1');
      await fuzz.authenticate('fuzz-terminal-code-1').catch(() => undefined);
    }
    fuzz.write(fuzzFrame());
    if (i % 500 === 499) {
      // the valid terminal, mid-storm, on the same server
      t.is(
        await good.report({ ts: NOW - 10_000 + goodReports, lat: 31.82, lon: 117.23, status: 2, speed: 20 }),
        0,
      );
      goodReports++;
      // let the fuzz connection's bytes be read before the next burst (bounded by its socket)
      await new Promise((r) => setImmediate(r));
    }
  }
  fuzz.destroy();
  t.is(goodReports, FRAMES / 500);
  t.true(good.connected, 'the valid terminal was never disconnected');
  t.is(await good.heartbeat(), 0);
  const health = await adminGet(tp, '/healthz');
  t.is(health.status, 200);
  const text = await tp.platform.metrics.metrics();
  const refused = text
    .split('\n')
    .filter((l) => l.startsWith('citywatch_jt808_refused_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  t.true(refused > 1000, `refusals counted (${refused})`);
  t.log(`fuzz: ${connections} connection(s), ${refused} refusals counted`);
});
