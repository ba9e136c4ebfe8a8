import test from 'ava';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import { REGISTER_RESULT } from '../../../gateway/jt808/codec/msg-8100.ts';
import { encodeFrame } from '../../../gateway/jt808/codec/packet.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import {
  ADMIN_TOKEN,
  adminGet,
  eventually,
  startTestPlatform,
  type TestPlatform,
} from '../../support/platform.ts';

/**
 * The JT/T 808 gateway in the running platform, over real TCP sockets: binding through the device API,
 * registration, authentication, locations answered once durable, refusals, legacy terminals.
 */

// BCD times are whole seconds
const NOW = Math.floor(Date.now() / 1000) * 1000;

async function platform(env: Record<string, string> = {}): Promise<TestPlatform & { jt808Port: number }> {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ JT808_PORT: String(jt808Port), ...env });
  tp.platform.registry.upsertFirm({ id: 'firm-a', name: 'A' });
  for (const n of [1, 2, 3]) {
    tp.platform.registry.upsertVehicle({
      id: `veh-${n}`,
      plate: `皖A0000${n}`,
      kind: 'muck_truck',
      firm: 'firm-a',
    });
  }
  return { ...tp, jt808Port };
}

async function api(tp: TestPlatform, method: string, path: string, body?: unknown) {
  const res = await fetch(`${tp.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function terminal(
  tp: { jt808Port: number },
  phone: string,
  edition: '2013' | '2019' = '2013',
  terminalId = 'T0001',
) {
  return new Jt808Terminal({ host: '127.0.0.1', port: tp.jt808Port, phone, edition, terminalId });
}

const metric = async (tp: TestPlatform, name: string, labels = ''): Promise<number> => {
  const text = await (await tp.platform.metrics.metrics()).toString();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
};

test('bind through the API, register, authenticate, report: the position in the API with the decoded fields', async (t) => {
  const tp = await platform();
  t.teardown(() => tp.stop());
  const created = await api(tp, 'POST', '/api/v1/devices', {
    id: 'term-1',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    jt808: { phone: '013912345678', terminalId: 'T0001', model: 'citywatch-muck-1' },
  });
  t.is(created.status, 201);
  t.deepEqual((created.body.device as { jt808: unknown }).jt808, {
    phone: '13912345678',
    terminalId: 'T0001',
    model: 'citywatch-muck-1',
  });
  // another device cannot take the phone; an unknown model is named
  t.is(
    (
      await api(tp, 'POST', '/api/v1/devices', {
        id: 'term-x',
        kind: 'muck_truck',
        vehicle: 'veh-2',
        jt808: { phone: '13912345678' },
      })
    ).status,
    409,
  );
  const badModel = await api(tp, 'POST', '/api/v1/devices', {
    id: 'term-y',
    kind: 'muck_truck',
    vehicle: 'veh-2',
    jt808: { phone: '13900000002', model: 'nope' },
  });
  t.is(badModel.status, 400);
  t.regex(JSON.stringify(badModel.body), /jt808\/model/);

  // a 2019 terminal: its header carries the 10-byte phone of the same number
  const term = terminal(tp, '13912345678', '2019');
  await term.connect();
  t.teardown(() => term.destroy());
  const reg = await term.register();
  t.is(reg.result, REGISTER_RESULT.success);
  t.truthy(reg.authCode && reg.authCode.length >= 16);
  t.is(await term.authenticate('wrong-code-000000'), 1, 'a wrong code is a failure');
  t.is(await term.authenticate(reg.authCode!), 0);
  const ts = NOW - 5_000;
  const result = await term.report({
    ts,
    lat: 31.82,
    lon: 117.23,
    alt: 30,
    speed: 32.5,
    heading: 90,
    // ACC on, positioned, load full, door 1 open
    status: 0b1 | 0b10 | (3 << 8) | (1 << 13),
    alarm: (1 << 21) | (1 << 23),
    extras: [
      [0x01, Buffer.from('00003039', 'hex')],
      [0x30, Buffer.of(23)],
      [0x31, Buffer.of(11)],
      [0xe1, Buffer.of(0b01)],
      [0xe2, Buffer.from('06a4', 'hex')],
    ],
  });
  t.is(result, 0, 'answered success once durable');
  // the 0x8001 came after the spool append: the fix is durable already
  t.true(tp.platform.spool.stats().depthRecords + (await tp.platform.store.latest()).length >= 1);
  const pos = await eventually(async () => {
    const r = await adminGet(tp, '/api/v1/vehicles/veh-1/position');
    return r.status === 200 ? r.body : undefined;
  }, 'the position of veh-1');
  t.like(pos, {
    vehicle: 'veh-1',
    device: 'term-1',
    lat: 31.82,
    lon: 117.23,
    speed: 32.5,
    heading: 90,
    alt: 30,
    ign: true,
    valid: true,
    load: 'full',
    doors: 'open',
    cover: 'open',
    lift: 'down',
    weight: 17,
    sats: 11,
    rssi: 23,
    mileage: 1234.5,
    alarms: 'route,route_deviation',
    sos: false,
    ts: new Date(ts).toISOString(),
  });
  t.is(await metric(tp, 'citywatch_ingest_messages_total', '{transport="jt808"}'), 1);
});

test('unknown phone or terminal id: 0x8100 result 4; locations before authentication refused and counted', async (t) => {
  const tp = await platform();
  t.teardown(() => tp.stop());
  await tp.platform.registry.putDevice({
    id: 'term-2',
    secret: 'preset-auth-code-0002',
    kind: 'muck_truck',
    vehicle: 'veh-2',
    firm: 'firm-a',
    jt808: { phone: '13900000002', terminalId: 'T0002' },
  });
  const stranger = terminal(tp, '13999999999');
  await stranger.connect();
  t.teardown(() => stranger.destroy());
  t.deepEqual(await stranger.register(), { result: REGISTER_RESULT.noSuchTerminal });
  const wrongId = terminal(tp, '013900000002', '2013', 'OTHER');
  await wrongId.connect();
  t.teardown(() => wrongId.destroy());
  t.deepEqual(await wrongId.register(), { result: REGISTER_RESULT.noSuchTerminal });

  const term = terminal(tp, '013900000002', '2013', 'T0002');
  await term.connect();
  t.teardown(() => term.destroy());
  t.is(await term.report({ ts: NOW - 1000, lat: 31.8, lon: 117.2 }), 1, 'failure before authentication');
  t.is(await metric(tp, 'citywatch_jt808_refused_total', '{reason="not_authenticated"}'), 1);
  // the preset secret authenticates without a registration (a terminal that ships with its code)
  t.is(await term.authenticate('preset-auth-code-0002'), 0);
  t.is(await term.report({ ts: NOW - 1000, lat: 31.8, lon: 117.2, status: 2 }), 0);
  // a 0x0200 under another phone on this connection is refused
  const other = encodeFrame({
    msgId: MSG.LOCATION,
    edition: '2013',
    phone: '13999999999',
    serial: 99,
    body: Buffer.alloc(28),
  });
  term.write(other);
  await eventually(
    async () =>
      (await metric(tp, 'citywatch_jt808_refused_total', '{reason="not_authenticated"}')) === 2
        ? true
        : undefined,
    'the second refusal',
  );
  // a heartbeat is answered; deregistration gives the code up
  t.is(await term.heartbeat(), 0);
  t.is(await term.deregister(), 0);
  t.false(await tp.platform.registry.verifyDevice('term-2', 'preset-auth-code-0002'));
  t.is(await term.authenticate('preset-auth-code-0002'), 1);
});

test('a fix refused by ingest is answered "message error" and dead-lettered; a terminal connecting again takes over', async (t) => {
  const tp = await platform();
  t.teardown(() => tp.stop());
  await tp.platform.registry.putDevice({
    id: 'term-3',
    secret: 'preset-auth-code-0003',
    kind: 'muck_truck',
    vehicle: 'veh-3',
    firm: 'firm-a',
    jt808: { phone: '13900000003' },
  });
  const a = terminal(tp, '13900000003');
  await a.connect();
  t.is(await a.authenticate('preset-auth-code-0003'), 0);
  // ten days old: beyond the backfill horizon (MAX_FIX_AGE_DAYS 7)
  t.is(await a.report({ ts: NOW - 10 * 86_400_000, lat: 31.8, lon: 117.2, status: 2 }), 2);
  t.is(await metric(tp, 'citywatch_ingest_rejected_total', '{reason="ts_too_old"}'), 1);
  const b = terminal(tp, '13900000003');
  await b.connect();
  t.teardown(() => b.destroy());
  t.is(await b.authenticate('preset-auth-code-0003'), 0);
  await a.closed;
  t.false(a.connected, 'the older connection of the same device is closed');
  t.is(await b.report({ ts: NOW - 2000, lat: 31.8, lon: 117.2, status: 2 }), 0);
  // disabling the device through the API ends its connection
  t.is((await api(tp, 'PATCH', '/api/v1/devices/term-3', { enabled: false })).status, 200);
  await b.closed;
  t.pass();
});

test('legacy terminals (JT808_ALLOW_UNAUTHENTICATED=1) report by phone alone', async (t) => {
  const tp = await platform({ JT808_ALLOW_UNAUTHENTICATED: '1' });
  t.teardown(() => tp.stop());
  await tp.platform.registry.putDevice({
    id: 'term-1',
    secret: 'preset-auth-code-0001',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '13900000001' },
  });
  const term = terminal(tp, '13900000001');
  await term.connect();
  t.teardown(() => term.destroy());
  t.is(await term.report({ ts: NOW - 1000, lat: 31.8, lon: 117.2, status: 2 }), 0);
  const stranger = terminal(tp, '13999999999');
  await stranger.connect();
  t.teardown(() => stranger.destroy());
  t.is(
    await stranger.report({ ts: NOW - 1000, lat: 31.8, lon: 117.2, status: 2 }),
    1,
    'an unbound phone still is not',
  );
});

test('device models through the API: a vendor mapping of its own, bound by PATCH, changed by PUT, kept while used', async (t) => {
  const tp = await platform();
  t.teardown(() => tp.stop());
  // a vendor that puts the cover in status bit 22 (set = closed), the tipper in item 0xF0 bit 3 and the
  // weight as a DWORD of kilograms at byte 2 of item 0xF1
  const model = {
    id: 'vendor-x-2',
    description: 'vendor X, firmware 2',
    cover: { status: true, bit: 22, set: 'closed' },
    lift: { item: 0xf0, bit: 3, set: 'up' },
    weight: { item: 0xf1, offset: 2, bytes: 4, scale: 0.001 },
  };
  const created = await api(tp, 'POST', '/api/v1/device-models', model);
  t.is(created.status, 201);
  t.like(created.body, { ...model, crs: 'WGS84' });
  t.is((await api(tp, 'POST', '/api/v1/device-models', model)).status, 409);
  const bad = await api(tp, 'POST', '/api/v1/device-models', { id: 'bad', weight: { item: 0x1f1 } });
  t.is(bad.status, 400);
  t.regex(JSON.stringify(bad.body), /weight/);
  const list = await api(tp, 'GET', '/api/v1/device-models');
  t.deepEqual(
    (list.body.items as { id: string }[]).map((m) => m.id),
    ['citywatch-muck-1', 'vendor-x-2'],
    'the shipped model and the new one',
  );

  await tp.platform.registry.putDevice({
    id: 'term-1',
    secret: 'preset-auth-code-0001',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
  });
  const patched = await api(tp, 'PATCH', '/api/v1/devices/term-1', {
    jt808: { phone: '13900000001', model: 'vendor-x-2' },
  });
  t.is(patched.status, 200);
  t.deepEqual(patched.body.jt808, { phone: '13900000001', model: 'vendor-x-2' });
  const term = terminal(tp, '13900000001');
  await term.connect();
  t.teardown(() => term.destroy());
  t.is(await term.authenticate('preset-auth-code-0001'), 0);
  const report = (ts: number) =>
    term.report({
      ts,
      lat: 31.8,
      lon: 117.2,
      status: 0b10 | (1 << 22),
      extras: [
        [0xf0, Buffer.of(0b1000)],
        [0xf1, Buffer.from('0000000046cd', 'hex')],
      ],
    });
  t.is(await report(NOW - 20_000), 0);
  const position = async () => (await adminGet(tp, '/api/v1/vehicles/veh-1/position')).body;
  t.like(await eventually(position, 'the position'), { cover: 'closed', lift: 'up', weight: 18.125 });
  // the city corrects the model: bit 22 set means open
  const put = await api(tp, 'PUT', '/api/v1/device-models/vendor-x-2', {
    ...model,
    cover: { status: true, bit: 22, set: 'open' },
  });
  t.is(put.status, 200);
  t.is(await report(NOW - 10_000), 0);
  t.like(
    await eventually(async () => {
      const p = await position();
      return p.ts === new Date(NOW - 10_000).toISOString() ? p : undefined;
    }, 'the second position'),
    { cover: 'open' },
  );
  t.is((await api(tp, 'DELETE', '/api/v1/device-models/vendor-x-2')).status, 409, 'in use by term-1');
  t.is((await api(tp, 'PATCH', '/api/v1/devices/term-1', { jt808: null })).status, 200);
  t.is((await api(tp, 'DELETE', '/api/v1/device-models/vendor-x-2')).status, 200);
  // the PATCH that unbound it ended its connection
  await term.closed;
  t.false(term.connected);
});

test('registration closes once the terminal authenticates: another 0x0100 with its phone and terminal id gets result 3 until the secret is rotated', async (t) => {
  const tp = await platform();
  t.teardown(() => tp.stop());
  t.is(
    (
      await api(tp, 'POST', '/api/v1/devices', {
        id: 'term-r',
        kind: 'muck_truck',
        vehicle: 'veh-1',
        jt808: { phone: '13900000009', terminalId: 'T0009' },
      })
    ).status,
    201,
  );
  const genuine = terminal(tp, '13900000009', '2013', 'T0009');
  await genuine.connect();
  t.teardown(() => genuine.destroy());
  // an answer lost on the way: the terminal registers again before using its code, and may
  const lost = await genuine.register();
  t.is(lost.result, REGISTER_RESULT.success);
  const reg = await genuine.register();
  t.is(reg.result, REGISTER_RESULT.success);
  t.not(reg.authCode, lost.authCode);
  t.is(await genuine.authenticate(lost.authCode!), 1, 'the first code was replaced');
  t.is(await genuine.authenticate(reg.authCode!), 0);

  // someone who read the phone and terminal id off the truck cannot take its place
  const impostor = terminal(tp, '13900000009', '2013', 'T0009');
  await impostor.connect();
  t.teardown(() => impostor.destroy());
  t.deepEqual(await impostor.register(), { result: REGISTER_RESULT.terminalAlreadyRegistered });
  t.is(await metric(tp, 'citywatch_jt808_registrations_total', '{result="already_registered"}'), 1);
  t.true(await tp.platform.registry.verifyDevice('term-r', reg.authCode!), 'the genuine code still works');
  // the registry keeps it across a restart of its process: the closed registration is in the database
  t.not(tp.platform.registry.jt808RegistrationClosedAt('term-r'), undefined);

  // the operator rotates the secret (a terminal that lost its code): it may register again, once more
  const rotated = await api(tp, 'POST', '/api/v1/devices/term-r/rotate');
  t.is(rotated.status, 200);
  const again = terminal(tp, '13900000009', '2013', 'T0009');
  await again.connect();
  t.teardown(() => again.destroy());
  const second = await again.register();
  t.is(second.result, REGISTER_RESULT.success);
  t.is(await again.authenticate(second.authCode!), 0);
  t.deepEqual(await again.register(), { result: REGISTER_RESULT.terminalAlreadyRegistered });
});
