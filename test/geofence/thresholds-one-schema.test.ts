import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import test from 'ava';
import { DEFAULT_THRESHOLDS, THRESHOLDS, thresholdsTable } from '../../geofence/thresholds/index.ts';

/**
 * Issue 11, "every threshold is declared once": each rule declares its thresholds as a zod schema in its
 * own module, and the engine's defaults, the registry's validation, the API (so the OpenAPI document),
 * the scenario file and the README table are all derived from those declarations.
 */

const run = promisify(execFile);

test('a threshold added to one rule schema reaches the engine, the registry, the API, OpenAPI, the scenario schema and the README table', async (t) => {
  // A loader hook adds `fakeRuleDelayMs` to OFF_ROUTE's schema (geofence/thresholds/off-route.ts) as the module
  // loads; nothing else is told about it.
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './test/support/fake-threshold-register.mjs',
      'test/support/fake-threshold-child.ts',
    ],
    { cwd: new URL('../../', import.meta.url).pathname, timeout: 120_000 },
  );
  const seen = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  t.is(seen.engineDefault, 4321, 'the engine defaults hold it');
  t.is(seen.openapi?.description, 'FAKE_RULE: a threshold a test added', 'the OpenAPI document lists it');
  t.is(seen.openapi?.minimum, 0);
  t.is(seen.scenario?.description, 'FAKE_RULE: a threshold a test added', 'the scenario schema takes it');
  t.is(
    seen.readmeRow,
    '| `fakeRuleDelayMs` | 4321 | FAKE_RULE: a threshold a test added |',
    'the README table has a row',
  );
  t.deepEqual(seen.put, { status: 200, value: 1234 }, 'PUT /thresholds accepts it');
  t.is(seen.refused.status, 400, 'and validates it with its own schema');
  t.regex(seen.refused.detail, /fakeRuleDelayMs/);
});

test('without the hook no such threshold exists (the hook, not a leftover, put it there)', (t) => {
  t.false('fakeRuleDelayMs' in THRESHOLDS.shape);
  t.false(thresholdsTable().includes('fakeRuleDelayMs'));
});

test("the README holds the thresholds table rendered from the rules' schemas", (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const m = /<!-- thresholds:begin -->\n([\s\S]*?)\n<!-- thresholds:end -->/.exec(readme);
  t.truthy(m, 'the README has the thresholds markers');
  t.is(m![1], thresholdsTable(), 'paste the table printed here into the README');
  for (const key of Object.keys(DEFAULT_THRESHOLDS)) t.true(m![1]!.includes(`\`${key}\``), key);
});

test('every threshold has a description', (t) => {
  for (const [key, schema] of Object.entries(THRESHOLDS.shape)) {
    t.truthy(schema.description, `${key} has a description`);
  }
});
