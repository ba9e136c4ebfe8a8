/**
 * The store pump between the spool and a real InfluxDB: batches in flight are committed in order, and a
 * fix the store can never take is quarantined instead of blocking everything behind it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Registry } from 'prom-client';
import type { Fix } from '../../core/fix.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { StorePump } from '../../ingest/pump.ts';
import { Spool } from '../../ingest/spool.ts';
import { createStore } from '../../store/index.ts';
import { startInfluxd } from '../../testkit/servers/influxd.ts';
import { eventually } from '../support/platform.ts';

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const fix = (vehicle: string, i: number, over: Partial<Fix> = {}): Fix => ({
  vehicle,
  device: `d-${vehicle}`,
  kind: 'muck_truck',
  firm: 'firm-p',
  ts: T0 + i * 1000,
  received: T0 + i * 1000 + 300,
  lat: 31.8,
  lon: 117.2,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  ...over,
});

test('a permanently refused fix is quarantined; every other fix is stored and the spool drains', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pump-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const store = createStore({ kind: 'influxdb', version: 1, url: influx.url, database: 'pump' });
  await store.open();
  const spool = new Spool({ dir: path.join(dir, 'spool') });
  await spool.open();
  const metricsRegistry = new Registry();
  const metrics = createIngestMetrics(metricsRegistry);
  const quarantineFile = path.join(dir, 'quarantine.jsonl');
  const stored: number[] = [];
  const pump = new StorePump({
    spool,
    store,
    metrics,
    batchSize: 100,
    quarantineFile,
    onStored: (fixes) => stored.push(fixes.length),
  });

  const records: string[] = [];
  for (let i = 0; i < 1000; i++) {
    // A newline in a tag value cannot be written in line protocol: a permanent refusal.
    const f = i === 437 ? fix('v-bad', i, { firm: 'line\nbreak' }) : fix(`v-${i % 10}`, i);
    records.push(JSON.stringify(f));
  }
  await spool.append(records);
  pump.start();
  await eventually(() => (spool.stats().depthRecords === 0 ? true : undefined), 'the spool to drain');
  await pump.stop();

  let total = 0;
  for (let v = 0; v < 10; v++) total += await store.count(`v-${v}`, T0, T0 + 2_000_000);
  t.is(total, 999);
  const quarantined = (await fs.readFile(quarantineFile, 'utf8')).trim().split('\n');
  t.is(quarantined.length, 1);
  t.is((JSON.parse(quarantined[0]!) as { fix: Fix }).fix.ts, T0 + 437_000);
  t.regex(await metricsRegistry.metrics(), /citywatch_store_fixes_quarantined_total 1\b/);
  t.is(
    stored.reduce((a, b) => a + b, 0),
    1000,
    'onStored saw every batch once, the quarantined fix included',
  );
  await spool.close();
  await store.close();
});
