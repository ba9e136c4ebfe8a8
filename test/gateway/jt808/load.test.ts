/**
 * `sim load --jt808`: a prepared fleet of 2,000 muck trucks (`--prepare`: each bound to phone 19 + its
 * number) reports as JT/T 808 terminals to the running platform, one connection each; every report is
 * answered success once durable and nothing is left unanswered.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Jt808LoadSummary } from '../../../simulators/load/jt808.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { runSim } from '../../../testkit/sim-cli.ts';
import { startTestPlatform } from '../../support/platform.ts';

test('sim load --jt808: 2,000 terminal connections, every report answered once durable', async (t) => {
  t.timeout(300_000);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-jt808-load-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const idsFile = path.join(dataDir, 'load-devices.json');
  const prepared = await runSim(['load', '--prepare', dataDir, '--vehicles', '2000', '--ids-out', idsFile]);
  t.is(prepared.status, 0, prepared.stderr);
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ DATA_DIR: dataDir, JT808_PORT: String(jt808Port) });
  t.teardown(() => tp.stop());
  t.is(tp.platform.registry.deviceByJt808Phone('19000002000')?.id, 'load-02000');
  const run = await runSim([
    'load',
    '--jt808',
    `127.0.0.1:${jt808Port}`,
    '--ids-file',
    idsFile,
    '--vehicles',
    '2000',
    '--interval',
    '5',
    '--duration',
    '5',
    '--warmup',
    '2',
    '--quiet',
  ]);
  t.is(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout.trim().split('\n').pop()!) as Jt808LoadSummary;
  t.like(summary, {
    transport: 'jt808',
    connections: 2000,
    connected: 2000,
    connectFailures: 0,
    refused: 0,
    unacked: 0,
    errors: 0,
  });
  t.true(summary.acked >= 2000, `every vehicle reported at least once (${summary.acked} answered)`);
  t.is(summary.sent, summary.acked);
  t.log(
    `${summary.connected} connections, ${summary.acked} reports answered, ${summary.missed} report times missed`,
  );
});
