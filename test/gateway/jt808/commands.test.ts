import test from 'ava';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import { decode8103 } from '../../../gateway/jt808/codec/msg-8103.ts';
import { decode8300 } from '../../../gateway/jt808/codec/msg-8300.ts';
import { decode8604 } from '../../../gateway/jt808/codec/msg-8604.ts';
import { decode8606 } from '../../../gateway/jt808/codec/msg-8606.ts';
import { dwordId } from '../../../gateway/jt808/permit-push.ts';
import { payloadToLocation } from '../../../simulators/shared/jt808-fix.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { offRouteHaulFixes, seedHaulWorld } from '../../support/haul-world.ts';
import { ADMIN_TOKEN, eventually, startTestPlatform, type TestPlatform } from '../../support/platform.ts';

/** Commands down to JT/T 808 terminals through the API, and the ones the platform sends on its own. */

const WORLD = {
  firm: 'firm-h',
  firmName: '合肥运输',
  vehicle: 'veh-h',
  plate: '皖A·H0001',
  device: 'dev-h',
  secret: 'haul-terminal-code-1',
  origin: { id: 'site-o', name: '工地' },
  disposal: { id: 'site-d', name: '消纳场' },
  route: { id: 'route-h', name: '核准路线' },
  permit: 'permit-h',
};

async function world(env: Record<string, string> = {}) {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ JT808_PORT: String(jt808Port), ...env });
  await seedHaulWorld(tp.platform, WORLD);
  tp.platform.registry.setJt808Binding(WORLD.device, { phone: '13912340001' });
  return { tp, jt808Port };
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
  // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
  return { status: res.status, body: (await res.json()) as any };
}

const command = (tp: TestPlatform, id: string) =>
  eventually(async () => {
    const r = await api(tp, 'GET', `/api/v1/devices/${WORLD.device}/commands/${id}`);
    return r.body.state !== 'sent' ? r.body : undefined;
  }, `the outcome of ${id}`);

test('location query, report interval and text through the API; outcomes from the terminal or a timeout', async (t) => {
  const { tp, jt808Port } = await world({ JT808_COMMAND_TIMEOUT_S: '2' });
  t.teardown(() => tp.stop());
  const offline = await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, {
    type: 'location_query',
  });
  t.is(offline.status, 202);
  t.is(offline.body.state, 'not_connected');

  const term = new Jt808Terminal({
    host: '127.0.0.1',
    port: jt808Port,
    phone: '13912340001',
    edition: '2019',
  });
  await term.connect();
  t.teardown(() => term.destroy());
  t.is(await term.authenticate(WORLD.secret), 0);
  const ts = Math.floor(Date.now() / 1000) * 1000 - 5000;
  t.is(await term.report({ ts, lat: 31.82, lon: 117.25, speed: 30, status: 2 }), 0);

  const query = await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, { type: 'location_query' });
  t.like(query.body, { state: 'sent', msgId: '0x8201', type: 'location_query', source: 'api' });
  t.like(await command(tp, query.body.id), {
    state: 'acknowledged',
    location: { lat: 31.82, lon: 117.25, speed: 30, ts: new Date(ts).toISOString() },
  });

  const interval = await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, {
    type: 'report_interval',
    seconds: 15,
  });
  t.like(await command(tp, interval.body.id), { state: 'acknowledged', msgId: '0x8103' });
  const params = term.commands.find((c) => c.msgId === MSG.SET_PARAMETERS)!;
  t.deepEqual(decode8103(params.body), [{ id: 0x0029, value: Buffer.from('0000000f', 'hex') }]);

  const text = await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, {
    type: 'text',
    text: '请减速慢行',
  });
  t.like(await command(tp, text.body.id), { state: 'acknowledged' });
  const sent = term.commands.find((c) => c.msgId === MSG.TEXT)!;
  t.deepEqual(decode8300(sent.body, '2019'), { flags: 0b1100, textType: 1, text: '请减速慢行' });

  // a terminal that stops answering: the command times out
  term.autoAnswer = false;
  const lost = await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, { type: 'location_query' });
  t.like(await command(tp, lost.body.id), { state: 'timeout' });
  const list = await api(tp, 'GET', `/api/v1/devices/${WORLD.device}/commands`);
  t.deepEqual(
    list.body.items.map((c: { type: string; state: string }) => `${c.type} ${c.state}`),
    [
      'location_query timeout',
      'text acknowledged',
      'report_interval acknowledged',
      'location_query acknowledged',
      'location_query not_connected',
    ],
  );
  // not a terminal, or text GBK cannot hold
  t.is(
    (await api(tp, 'POST', `/api/v1/devices/${WORLD.device}/commands`, { type: 'text', text: '😀' })).status,
    400,
  );
  t.is((await api(tp, 'POST', `/api/v1/devices/nope/commands`, { type: 'location_query' })).status, 404);
});

test('a violation of a listed type opens: the driver gets the text; an approved permit’s route and sites go to the terminal', async (t) => {
  const { tp, jt808Port } = await world({
    JT808_VIOLATION_TEXTS: JSON.stringify({ OFF_ROUTE: '您已偏离核准路线' }),
  });
  t.teardown(() => tp.stop());
  const term = new Jt808Terminal({ host: '127.0.0.1', port: jt808Port, phone: '13912340001' });
  await term.connect();
  t.teardown(() => term.destroy());
  t.is(await term.authenticate(WORLD.secret), 0);

  // the permit is amended while it is active: its route and both sites are pushed
  const permit = tp.platform.compliance.get('permit', WORLD.permit)!;
  const { version: _v, ...rest } = permit;
  tp.platform.compliance.put('permit', { ...rest, cargo: '建筑渣土' });
  await eventually(() => (term.commands.length >= 3 ? true : undefined), 'the route and two areas');
  const route = decode8606(term.commands.find((c) => c.msgId === MSG.SET_ROUTE)!.body, '2013');
  t.is(route.id, dwordId(WORLD.route.id));
  t.deepEqual(
    route.points.map((p) => [p.lon, p.lat, p.width]),
    [
      [117.2, 31.82, 50],
      [117.3, 31.82, 50],
    ],
  );
  const areas = term.commands
    .filter((c) => c.msgId === MSG.SET_POLYGON)
    .map((c) => decode8604(c.body, '2013'));
  t.deepEqual(areas.map((a) => a.id).sort(), [dwordId(WORLD.origin.id), dwordId(WORLD.disposal.id)].sort());
  t.is(areas[0]!.vertices.length, 4);
  const pushed = await eventually(async () => {
    const r = await api(tp, 'GET', `/api/v1/devices/${WORLD.device}/commands`);
    const items = r.body.items as { state: string; source: string }[];
    return items.length === 3 && items.every((i) => i.state === 'acknowledged') ? items : undefined;
  }, 'the three pushes acknowledged');
  t.true(pushed.every((i) => i.source === `permit:${WORLD.permit}`));

  // the truck itself reports its detour over JT/T 808
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 4 * 60_000;
  for (const fix of offRouteHaulFixes(t0)) t.is(await term.report(payloadToLocation(fix)), 0);
  const text = await eventually(() => term.commands.find((c) => c.msgId === MSG.TEXT), 'the violation text');
  t.deepEqual(decode8300(text.body, '2013'), { flags: 0b1100, text: '您已偏离核准路线' });
});
