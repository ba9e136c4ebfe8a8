/**
 * Issue 15's "Done when" for the sanitation and body-camera rules: `sim evaluate` on hefei-sanitation
 * (9 sweepers on sweep plans, 5 collection trucks with 3 points each, 15 officers with body cameras on duty
 * in their grids, two units per rule breaking it) against the real platform: provisioned through the API
 * (plans included), 2 simulated hours at 60x over MQTT (real aedes, real TCP, each device with its own
 * secret) with 15 m GNSS noise, drift, dropouts, duplicates, reordering and malformed payloads; scored
 * against the ground truth of simulators/scenario/oracle/plans.ts. Asserted: precision >= 0.99 and recall >= 0.98
 * for every new type, and every new type present in the truth.
 *
 * Independent of the machine's load: the platform judges silence on the fleet's clock
 * (COMPLIANCE_CLOCK=fleet), so the verdicts rest on the fixes' own times; an OFFLINE needs 10 min of
 * simulated silence (10 s of wall time at 60x), and the rules with windows (collection, coverage, duty)
 * are decided by the fixes' timestamps or by that clock's ticks, never by how fast the run went.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PLAN_VIOLATION_CODES } from '../../geofence/model.ts';
import { readTruth } from '../../simulators/scenario/truth.ts';
import {
  type EvaluateResult,
  evaluateArgs,
  evaluateProgress,
  publishingOf,
  runSim,
} from '../../testkit/sim-cli.ts';
import { ADMIN_TOKEN, adminGet, startTestPlatform } from '../support/platform.ts';

const SCENARIO = 'simulators/scenarios/hefei-sanitation.json';

test.serial(
  'sim evaluate: hefei-sanitation at 60x with 15 m noise and faults, every sanitation and camera type at precision >= 0.99 and recall >= 0.98',
  async (t) => {
    t.timeout(480_000);
    const tp = await startTestPlatform({ COMPLIANCE_CLOCK: 'fleet' });
    t.teardown(() => tp.stop());
    const dir = await mkdtemp(join(tmpdir(), 'sim-sanitation-'));
    const truthFile = join(dir, 'truth.jsonl');
    const run = await runSim(
      evaluateArgs(tp, ADMIN_TOKEN, { scenario: SCENARIO, duration: '2h', speedup: 60, truth: truthFile }),
    );
    t.log(evaluateProgress(run.stderr));
    t.is(run.status, 0, run.stderr);
    const sent = publishingOf(run.stderr);
    t.truthy(sent, 'the run reports its publishing');
    t.is(sent![1], '29');
    t.is(sent![2], '29');
    t.is(sent![3], sent![4]);

    const result = JSON.parse(run.stdout) as EvaluateResult;
    for (const m of result.missed) t.log(`missed: ${JSON.stringify(m)}`);
    for (const f of result.falseAlarms) t.log(`false alarm: ${JSON.stringify(f)}`);
    t.log(
      result.byType.map((s) => `${s.type}: ${s.truths} truths, TP ${s.tp} FP ${s.fp} FN ${s.fn}`).join('\n'),
    );
    const present = new Set(result.byType.filter((s) => s.truths > 0).map((s) => s.type));
    // every new type is in the run, OFFLINE of a sweeper and of a camera on duty among them
    for (const code of [...PLAN_VIOLATION_CODES, 'OFFLINE'])
      t.true(present.has(code), `${code} is in the ground truth`);
    for (const s of result.byType) {
      t.true((s.precision ?? 1) >= 0.99, `${s.type}: precision ${s.precision} (${s.fp} false alarms)`);
      t.true((s.recall ?? 1) >= 0.98, `${s.type}: recall ${s.recall} (${s.fn} missed)`);
    }
    const truth = await readTruth(truthFile);
    t.is(truth.truths.length, result.total.truths);
    const offline = truth.truths.filter((x) => x.type === 'OFFLINE').map((x) => x.vehicle);
    t.true(
      offline.some((v) => v.startsWith('cam-')) && offline.some((v) => v.startsWith('veh-')),
      offline.join(),
    );

    // the plans were provisioned through the API and the violations name them
    const plans = await adminGet(tp, '/api/v1/duty-plans?limit=100');
    t.is(plans.status, 200);
    t.is((plans.body.features as unknown[]).length, 15);
    const missed = await adminGet(tp, '/api/v1/violations?code=MISSED_COLLECTION&limit=10');
    t.is(missed.status, 200);
    for (const v of missed.body.items as Array<{ refs: Array<{ kind: string }> }>)
      t.true(v.refs.some((r) => r.kind === 'collection_point'));
  },
);
