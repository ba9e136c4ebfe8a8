/**
 * The compliance engine judges JT/T 808 reports as it judges MQTT ones: the simulator's hefei-basic
 * scenario is run twice with the same seed and start, once over MQTT and once with its muck trucks as
 * JT/T 808 terminals (`sim evaluate --jt808`, real TCP to the gateway), each on a fresh platform; both
 * runs must score the same and the muck trucks' violations must be the same (vehicle, code, and start
 * within a second: JT/T 808 times are whole seconds).
 *
 * OFFLINE is left out of the comparison and the score: it is judged on the fleet clock, which follows the
 * wall clock between fixes, so on a loaded machine a run whose platform falls behind gets OFFLINEs that
 * depend on that machine's pace, not on the transport (the MQTT run alone showed them under the full
 * suite's load).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseStart } from '../../../simulators/cli/common.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { runSim } from '../../../testkit/sim-cli.ts';
import { ADMIN_TOKEN, adminGet, startTestPlatform } from '../../support/platform.ts';

const MIN = 60_000;
const SCENARIO = 'simulators/scenarios/hefei-basic.json';
const SPEEDUP = 120;
const DURATION = '60m';

interface Violation {
  vehicle: string;
  code: string;
  startTs: number;
}

async function evaluate(start: string, jt808: boolean) {
  const jt808Port = await freePort();
  const tp = await startTestPlatform({ COMPLIANCE_CLOCK: 'fleet', JT808_PORT: String(jt808Port) });
  try {
    const dir = await mkdtemp(join(tmpdir(), 'jt808-parity-'));
    const run = await runSim([
      'evaluate',
      '--scenario',
      SCENARIO,
      '--api',
      tp.httpUrl,
      '--token',
      ADMIN_TOKEN,
      '--url',
      tp.mqttUrl,
      ...(jt808 ? ['--jt808', `127.0.0.1:${jt808Port}`] : []),
      '--duration',
      DURATION,
      '--start',
      start,
      '--speedup',
      String(SPEEDUP),
      '--truth',
      join(dir, 'truth.jsonl'),
      '--exclude',
      'OFFLINE',
      '--json',
    ]);
    const violations = await adminGet(tp, '/api/v1/violations?limit=500');
    const trucks = new Set(
      tp.platform.registry
        .devices()
        .filter((d) => d.kind === 'muck_truck')
        .map((d) => d.unit),
    );
    const jt808Messages = Number(
      (await tp.platform.metrics.metrics())
        .split('\n')
        .find((l) => l.startsWith('citywatch_ingest_messages_total{transport="jt808"}'))
        ?.split(' ')
        .pop() ?? 0,
    );
    return {
      run,
      jt808Messages,
      violations: (violations.body.items as Violation[])
        .filter((v) => trucks.has(v.vehicle) && v.code !== 'OFFLINE')
        .map((v) => ({ vehicle: v.vehicle, code: v.code, startTs: v.startTs }))
        .sort(
          (a, b) =>
            a.vehicle.localeCompare(b.vehicle) || a.code.localeCompare(b.code) || a.startTs - b.startTs,
        ),
    };
  } finally {
    await tp.stop();
  }
}

test.serial('hefei-basic over JT/T 808 raises the muck trucks’ violations it raises over MQTT', async (t) => {
  t.timeout(400_000);
  const start = new Date(parseStart('auto', 60 * MIN, SPEEDUP)).toISOString();
  const mqtt = await evaluate(start, false);
  const jt808 = await evaluate(start, true);
  t.is(mqtt.run.status, 0, mqtt.run.stderr);
  t.is(jt808.run.status, 0, jt808.run.stderr);
  t.is(mqtt.jt808Messages, 0);
  t.true(jt808.jt808Messages > 100, `the trucks reported over JT/T 808 (${jt808.jt808Messages} messages)`);
  const sent = /(\d+)\/(\d+) devices connected, (\d+) published, (\d+) acknowledged/.exec(jt808.run.stderr);
  t.truthy(sent);
  t.is(sent![1], sent![2], 'every device connected, the trucks through the gateway');
  t.is(sent![3], sent![4], 'every message acknowledged');
  t.true(mqtt.violations.length > 0, 'the scenario raises violations on the trucks');
  t.deepEqual(
    jt808.violations.map((v) => `${v.vehicle} ${v.code}`),
    mqtt.violations.map((v) => `${v.vehicle} ${v.code}`),
  );
  for (let i = 0; i < mqtt.violations.length; i++) {
    const a = mqtt.violations[i]!;
    const b = jt808.violations[i]!;
    t.true(
      Math.abs(a.startTs - b.startTs) <= 1000,
      `${a.vehicle} ${a.code}: starts ${a.startTs} / ${b.startTs}`,
    );
  }
  const score = (out: string) => {
    const { truths, tp, fp, fn } = (JSON.parse(out) as { total: Record<string, number> }).total;
    return { truths, tp, fp, fn };
  };
  t.deepEqual(score(jt808.run.stdout), score(mqtt.run.stdout), 'the same score against the ground truth');
  t.log(`violations on trucks: ${mqtt.violations.length}; ${jt808.jt808Messages} JT/T 808 messages`);
});
