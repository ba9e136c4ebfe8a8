import { readFileSync } from 'node:fs';
import test from 'ava';
import { PLAN_RULE_THRESHOLDS, planThresholdsTable } from '../geofence/rules/plan-thresholds.ts';

/**
 * The README's table of the plans' rule thresholds is the one rendered from their zod schemas (issue 11,
 * "every threshold is declared once"): a threshold added to a rule module and not to the README fails here.
 */

test("the README holds the thresholds table rendered from the rules' schemas", (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const m = /<!-- plan-thresholds:begin -->\n([\s\S]*?)\n<!-- plan-thresholds:end -->/.exec(readme);
  t.truthy(m, 'the README has the plan-thresholds markers');
  t.is(m![1], planThresholdsTable(), 'paste the table printed here into the README');
  for (const key of Object.keys(PLAN_RULE_THRESHOLDS.shape)) t.true(m![1]!.includes(`\`${key}\``), key);
});
