/**
 * The ground-truth oracle must be written independently of the engine it scores (issue 18 item 6): if it
 * imported geofence/ (its window and date helpers, once), an engine bug would be scored as correct. This
 * test reads simulators/scenario/oracle/*.ts and every file they import (transitively, relative imports), and fails
 * on any import that resolves into geofence/, types included. It also checks the oracle's own local-time
 * code on cases written out by hand from the domain brief, and that its list of violation types is the
 * engine's.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'ava';
import { PLAN_VIOLATION_CODES, VIOLATION_CODES } from '../../geofence/model.ts';
import {
  coveredOnDates,
  inLocalWindows,
  localCalendar,
  parseLocalWindow,
  windowStartDate,
} from '../../simulators/scenario/oracle/time.ts';
import { TRUTH_TYPES } from '../../simulators/scenario/oracle/truths.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SIM = join(ROOT, 'simulators');
const ORACLE = join(SIM, 'scenario', 'oracle');

/** Module specifiers of a TypeScript source: import/export ... from '...', import('...'). */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"]([^'"]+)['"]/g))
    out.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Every project file reached from `start` by relative imports, with the chain that reached it. */
async function reach(start: string): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>([[start, [relative(ROOT, start)]]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const source = await readFile(file, 'utf8');
    for (const spec of specifiers(source)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (seen.has(target)) continue;
      seen.set(target, [...seen.get(file)!, relative(ROOT, target)]);
      // files outside simulators/ are not followed (core/fix.ts and the like are reported if they are geofence/)
      if (target.startsWith(SIM)) queue.push(target);
    }
  }
  return seen;
}

test('the oracle and everything it imports import nothing from geofence/ (types included)', async (t) => {
  const oracles = (await readdir(ORACLE)).filter((f) => f.endsWith('.ts')).map((f) => join(ORACLE, f));
  t.true(oracles.length >= 2, `oracle files: ${oracles.map((f) => relative(ROOT, f)).join(', ')}`);
  const offending: string[] = [];
  let files = 0;
  for (const o of oracles) {
    for (const [file, chain] of await reach(o)) {
      files++;
      if (relative(ROOT, file).startsWith('geofence')) offending.push(chain.join(' -> '));
    }
  }
  t.deepEqual(offending, []);
  t.true(files > oracles.length, 'the scan followed the imports');
});

test('the scan finds a geofence/ import when there is one (it cannot pass empty)', (t) => {
  const sample = `import type { Permit } from '../geofence/model.ts';\nimport { x } from './y.ts';\nexport { z } from "../geofence/calendar.ts";\nconst m = await import('../geofence/engine.ts');`;
  t.deepEqual(specifiers(sample), [
    '../geofence/model.ts',
    './y.ts',
    '../geofence/calendar.ts',
    '../geofence/engine.ts',
  ]);
});

test("the oracle's violation types are the engine's", (t) => {
  // every code, the plans' (issue 15: sanitation, body cameras; simulators/scenario/oracle/plans.ts) included
  t.deepEqual([...TRUTH_TYPES].sort(), [...VIOLATION_CODES].sort());
  t.true(PLAN_VIOLATION_CODES.every((c) => (TRUTH_TYPES as readonly string[]).includes(c)));
});

test('the scan covers the plans oracle and the simulator files it imports', async (t) => {
  const reached = [...(await reach(join(ORACLE, 'plans.ts'))).keys()].map((f) => relative(ROOT, f));
  t.true(reached.includes('simulators/scenario/oracle/time.ts'), reached.join(', '));
  t.true(reached.includes('simulators/scenario/oracle/truths.ts'), reached.join(', '));
});

// China Standard Time by hand: 2026-11-10T14:00Z is 22:00 local on the 10th; 2026-11-10T22:30Z is 06:30
// local on the 11th; 2026-11-30T17:00Z is 01:00 local on 1 December.
const at = (iso: string) => Date.parse(iso);

test('oracle local time: windows crossing midnight belong to the date they start; 00:00-24:00 is all day', (t) => {
  t.deepEqual(localCalendar(at('2026-11-10T14:00:00Z')), { date: '2026-11-10', minute: 22 * 60 });
  const night = [parseLocalWindow('22:00-06:00')];
  t.is(windowStartDate(night, at('2026-11-10T14:00:00Z')), '2026-11-10', '22:00 starts the window');
  t.is(windowStartDate(night, at('2026-11-10T21:59:59Z')), '2026-11-10', '05:59:59 next morning');
  t.is(windowStartDate(night, at('2026-11-10T22:00:00Z')), undefined, '06:00 is the end, outside');
  t.is(windowStartDate(night, at('2026-11-10T13:59:59Z')), undefined, '21:59:59');
  t.true(inLocalWindows([parseLocalWindow('00:00-24:00')], at('2026-11-10T15:59:59Z')));
  t.false(inLocalWindows([], at('2026-11-10T15:59:59Z')));
  // a permit valid 11-01..11-30 with 22:00-06:00 covers 01:00 on 12-01, not 03:00 on 11-01
  t.true(coveredOnDates(night, '2026-11-01', '2026-11-30', at('2026-11-30T17:00:00Z')));
  t.false(coveredOnDates(night, '2026-11-01', '2026-11-30', at('2026-10-31T19:00:00Z')));
  t.true(coveredOnDates(night, '2026-11-01', '2026-11-30', at('2026-11-01T14:30:00Z')));
});
