/**
 * The InfluxDB v2 WRITE path (`/api/v2/write` through @influxdata/influxdb-client) against a real
 * VictoriaMetrics, which accepts InfluxDB line protocol there. VictoriaMetrics does not serve InfluxQL,
 * so the points are checked through its export API: every numeric and boolean field becomes a series
 * `fix_<field>` labelled with the tags (strings are not kept by VictoriaMetrics).
 * The v2 InfluxQL read path is covered in store-influx.test.ts.
 */
import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { InfluxStore } from '../../store/index.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { startVictoria, VICTORIA_BIN, type VictoriaServer } from '../../testkit/servers/victoria.ts';

// victoria-metrics missing fails these tests (startVictoria throws), unless CITYWATCH_SKIP_MISSING_SERVERS=1
const needs = testsNeeding(VICTORIA_BIN, 'store-influx-v2');
const vmTest = needs.test;
const vmSerial = needs.serial;

// VictoriaMetrics drops samples far outside "now", so the fixes are recent.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

const fix = (over: Partial<Fix> & Pick<Fix, 'vehicle' | 'ts'>): Fix => ({
  device: 'dev-1',
  kind: 'muck_truck',
  firm: 'firm-a',
  received: over.ts + 700,
  lat: 31.5,
  lon: 117.25,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  ...over,
});

let vm: VictoriaServer | undefined;
const server = (): VictoriaServer => {
  if (!vm) throw new Error('victoria-metrics not started');
  return vm;
};
const v2 = (): InfluxStore =>
  new InfluxStore({
    version: 2,
    url: server().url,
    token: 'tok',
    org: 'city',
    bucket: 'fleet',
    timeoutMs: 5_000,
  });

if (!needs.skipped) {
  test.before(async () => {
    vm = await startVictoria();
  });
  test.after.always(async () => {
    await vm?.destroy();
  });
}

interface Exported {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

async function exportSeries(vehicle: string): Promise<Exported[]> {
  await server().forceFlush();
  const url = new URL(`${server().url}/api/v1/export`);
  url.searchParams.set('match[]', `{__name__=~"fix_.+",vehicle="${vehicle}"}`);
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`export: HTTP ${res.status} ${body}`);
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Exported);
}

/** samples keyed `field@ts` -> value, polling until `expected` samples are visible (or 15 s pass) */
async function samples(vehicle: string, expected: number): Promise<Map<string, number>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const out = new Map<string, number>();
    for (const s of await exportSeries(vehicle)) {
      const field = s.metric.__name__!.replace(/^fix_/, '');
      for (let i = 0; i < s.timestamps.length; i++) out.set(`${field}@${s.timestamps[i]}`, s.values[i]!);
    }
    if (out.size >= expected || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, 200));
  }
}

vmTest('v2 writes arrive with their tags, numeric/boolean values and ms timestamps', async (t) => {
  const store = v2();
  t.is(store.name, 'influxdb-v2');
  await store.open();
  t.deepEqual(await store.health(), { ok: true });
  // (VictoriaMetrics keeps about 12 significant digits, so no 0.1 + 0.2 here; the contract suite checks
  // full float precision against influxd.)
  const fixes = [
    fix({ vehicle: 'vm-truck', ts: T0, speed: 37.5, sats: 14, ign: true, weight: 31.7 }),
    fix({ vehicle: 'vm-truck', ts: T0 + 1_001, speed: 0, sats: 3, ign: false, valid: false }),
    fix({ vehicle: 'vm-sweeper', ts: T0 + 5, kind: 'sanitation', firm: 'san co', binLifts: 17, brush: true }),
  ];
  await store.writeFixes(fixes);

  for (const vehicle of ['vm-truck', 'vm-sweeper']) {
    const mine = fixes.filter((f) => f.vehicle === vehicle);
    const expected = new Map<string, number>();
    for (const f of mine) {
      for (const [k, v] of Object.entries(f)) {
        if (k === 'ts' || k === 'vehicle') continue;
        if (typeof v === 'number') expected.set(`${k}@${f.ts}`, v);
        if (typeof v === 'boolean') expected.set(`${k}@${f.ts}`, v ? 1 : 0);
      }
    }
    const got = await samples(vehicle, expected.size);
    for (const [key, value] of expected) t.is(got.get(key), value, `${vehicle} ${key}`);
    t.true(
      [...got.keys()].some((k) => k.startsWith('present@')),
      'presence mask written',
    );
    const series = await exportSeries(vehicle);
    for (const s of series) {
      t.is(s.metric.vehicle, vehicle);
      t.is(s.metric.firm, mine[0]!.firm);
      t.is(s.metric.kind, mine[0]!.kind);
    }
  }
});

vmTest('a 5,000-fix batch split into several requests arrives complete', async (t) => {
  const store = new InfluxStore({
    version: 2,
    url: server().url,
    token: 'tok',
    org: 'city',
    bucket: 'fleet',
    maxLinesPerRequest: 2_000,
  });
  await store.open();
  const fixes = Array.from({ length: 5_000 }, (_, i) =>
    fix({ vehicle: 'vm-bulk', ts: T0 + i * 100, speed: i % 90 }),
  );
  await store.writeFixes(fixes);
  const got = await samples('vm-bulk', fixes.length * 6);
  const lats = [...got.keys()].filter((k) => k.startsWith('lat@'));
  t.is(lats.length, 5_000);
  t.is(got.get(`speed@${T0 + 4_999 * 100}`), 4_999 % 90);
});

vmSerial(
  'v2 write rejects promptly when the server is down and keeps nothing for a later retry',
  async (t) => {
    const store = v2();
    await store.open();
    const lost = fix({ vehicle: 'vm-down', ts: T0 });
    await server().stop();
    try {
      const started = Date.now();
      const err = await t.throwsAsync(store.writeFixes([lost]));
      t.true(Date.now() - started < 3_000, 'prompt');
      t.regex(
        err?.message ?? '',
        /^InfluxDB write failed: http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\)/,
      );
      const h = await store.health();
      t.false(h.ok);
    } finally {
      await server().restart();
    }
    // The client's own retry (minRetryDelay 5 s plus jitter, by default) must not resend the failed batch
    // behind our back. Timers of one process fire in the order they fall due, so once this 7 s timer has
    // fired any retry timer the client set earlier has fired too; the marker written after it and read
    // back (the positive event) is there, the failed fix is not.
    await new Promise((r) => setTimeout(r, 7_000));
    await store.writeFixes([fix({ vehicle: 'vm-down', ts: T0 + 1 })]);
    const got = await samples('vm-down', 1);
    t.true(got.has(`lat@${T0 + 1}`));
    t.false(got.has(`lat@${T0}`));
  },
);
