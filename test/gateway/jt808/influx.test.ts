/**
 * End to end over a real TCP socket into a platform storing in a real influxd: a 2019 terminal
 * registers, authenticates and reports (one 0x0200 and a blind-area 0x0704); the positions are in the
 * API and the points in InfluxDB with the decoded fields.
 */
import test from 'ava';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { type InfluxdServer, startInfluxd } from '../../../testkit/servers/influxd.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { adminGet, eventually, startTestPlatform } from '../../support/platform.ts';

let influx: InfluxdServer;
test.before(async () => {
  influx = await startInfluxd();
});
test.after.always(() => influx?.destroy());

const NOW = Math.floor(Date.now() / 1000) * 1000;

async function influxQuery(q: string): Promise<{ columns: string[]; values: unknown[][] } | undefined> {
  const res = await fetch(`${influx.url}/query?db=cw_jt808&epoch=ms&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { results: { series?: { columns: string[]; values: unknown[][] }[] }[] };
  return body.results[0]?.series?.[0];
}

test('register, authenticate, report over TCP: the fixes in the API and in InfluxDB with the decoded fields', async (t) => {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({
    JT808_PORT: String(jt808Port),
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: 'cw_jt808',
  });
  t.teardown(() => tp.stop());
  const reg = tp.platform.registry;
  reg.upsertFirm({ id: 'firm-a', name: 'A' });
  reg.upsertVehicle({ id: 'veh-1', plate: '皖A00001', kind: 'muck_truck', firm: 'firm-a' });
  await reg.putDevice({
    id: 'term-1',
    secret: 'initial-secret-00001',
    kind: 'muck_truck',
    vehicle: 'veh-1',
    firm: 'firm-a',
    jt808: { phone: '13912345678', terminalId: 'CW-0001', model: 'citywatch-muck-1' },
  });
  const term = new Jt808Terminal({
    host: '127.0.0.1',
    port: jt808Port,
    phone: '13912345678',
    edition: '2019',
    terminalId: 'CW-0001',
  });
  await term.connect();
  t.teardown(() => term.destroy());
  const { result, authCode } = await term.register();
  t.is(result, 0);
  t.is(await term.authenticate(authCode!), 0);
  // blind-area backfill first (two fixes from a coverage gap), then the live fix
  t.is(
    await term.batch(1, [
      {
        ts: NOW - 120_000,
        lat: 31.8,
        lon: 117.2,
        status: 0b11,
        speed: 30,
        heading: 10,
        extras: [[0x31, Buffer.of(7)]],
      },
      { ts: NOW - 110_000, lat: 31.801, lon: 117.2, status: 0b11, speed: 31, heading: 10 },
    ]),
    0,
  );
  t.is(
    await term.report({
      ts: NOW - 10_000,
      lat: 31.82,
      lon: 117.23,
      alt: 30,
      speed: 42.5,
      heading: 270,
      status: 0b11 | (1 << 8),
      alarm: (1 << 1) | (1 << 20),
      extras: [
        [0x01, Buffer.from('00000457', 'hex')],
        [0x02, Buffer.from('01f4', 'hex')],
        [0x30, Buffer.of(19)],
        [0x31, Buffer.of(12)],
        [0xe1, Buffer.of(0b11)],
        [0xe2, Buffer.from('0384', 'hex')],
      ],
    }),
    0,
  );
  const pos = await eventually(async () => {
    const r = await adminGet(tp, '/api/v1/vehicles/veh-1/position');
    return r.status === 200 ? r.body : undefined;
  }, 'the position');
  t.like(pos, { lat: 31.82, lon: 117.23, speed: 42.5, load: 'half', cover: 'open', lift: 'up', weight: 9 });

  const series = await eventually(async () => {
    const s = await influxQuery('SELECT * FROM fix ORDER BY time');
    return s !== undefined && s.values.length === 3 ? s : undefined;
  }, 'three points in InfluxDB');
  const rows = series.values.map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
  t.like(rows[0], { time: NOW - 120_000, vehicle: 'veh-1', device: 'term-1', lat: 31.8, sats: 7, speed: 30 });
  t.like(rows[2], {
    time: NOW - 10_000,
    lat: 31.82,
    lon: 117.23,
    alt: 30,
    speed: 42.5,
    heading: 270,
    ign: true,
    valid: true,
    load: 'half',
    cover: 'open',
    lift: 'up',
    weight: 9,
    mileage: 111.1,
    fuel: 50,
    rssi: 19,
    sats: 12,
    alarms: 'overspeed,area',
    sos: false,
    late: false,
  });
});
