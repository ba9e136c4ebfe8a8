import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { buildEvidence, verifyEvidence } from '../../../geofence/evidence.ts';
import { PLAN_VIOLATION_CODES, VIOLATION_CODES } from '../../../geofence/model.ts';
import { redelivered, swapped, withJitter, withNoise } from '../../support/rules/matrix/perturb.ts';
import {
  completedTrips,
  evidenceHashes,
  lifecycleProblems,
  phases,
  run,
  summary,
} from '../../support/rules/matrix/run.ts';
import { scenarios } from '../../support/rules/matrix/scenarios.ts';
import { WORLD } from '../../support/rules/matrix/world.ts';
import { type Item, isFix } from '../../support/rules/track-kit.ts';

/*
 * Properties that hold for EVERY rule, written once and run over a table: the clean compliant trip plus
 * one triggering track per rule (test/support/rules/matrix/scenarios.ts), each through the real engine with
 * ALL_RULES, the real compiled world and the trip tracker.
 */

const SCENARIOS = scenarios();

/** the fixes of a scenario's items */
const fixesOf = (items: readonly Item[]): Fix[] => items.filter(isFix);

/** applies a fix transform to the fixes of the items, leaving ticks in place */
function mapFixes(items: readonly Item[], f: (fixes: Fix[]) => Fix[]): Item[] {
  const mapped = f(fixesOf(items));
  let i = 0;
  return items.map((item) => (isFix(item) ? mapped[i++]! : item));
}

/** the state without the late-fix counter (which only says how many were skipped) */
const stateSansCounter = (r: ReturnType<typeof run>) => JSON.stringify({ ...r.state, skippedLate: 0 });

test("the table covers every 两点一线 violation code (the plans' rules: rules-sanitation, rules-camera)", (t) => {
  const covered = new Set(SCENARIOS.map((s) => s.code).filter((c) => c !== null));
  const trucks = VIOLATION_CODES.filter((c) => !(PLAN_VIOLATION_CODES as readonly string[]).includes(c));
  t.deepEqual([...covered].sort(), [...trucks].sort());
});

for (const s of SCENARIOS) {
  test(`baseline ${s.name}: exactly the expected events, lifecycle sound, only its own code`, (t) => {
    const r = run(s.items);
    t.deepEqual(phases(r.events), s.expect);
    t.deepEqual(lifecycleProblems(r.events), []);
    t.true(r.events.every((e) => e.violation.vehicle === s.vehicle && e.violation.firm === 'F1'));
    t.is(r.state.skippedLate, 0);
  });

  test(`redelivery ${s.name}: duplicates and late copies never change events, trips or state`, (t) => {
    const clean = run(s.items);
    for (const seed of [1, 2, 3]) {
      const delivery = redelivered(s.items, seed);
      const extra = fixesOf(delivery).length - fixesOf(s.items).length;
      t.true(extra > 0, `seed ${seed} adds redeliveries`);
      const r = run(delivery);
      t.deepEqual(r.events, clean.events, `seed ${seed}`);
      t.deepEqual(r.trips, clean.trips, `seed ${seed}`);
      t.is(r.state.skippedLate, extra, 'every redelivered fix is counted as skipped');
      t.is(stateSansCounter(r), stateSansCounter(clean), 'late fixes leave no trace in the state');
      t.deepEqual(r.tripState, clean.tripState);
      const opened = r.events.filter((e) => e.phase === 'opened').map((e) => e.violation.id);
      t.is(new Set(opened).size, opened.length, 'each violation opened once');
    }
  });

  test(`out of order ${s.name}: a swapped pair judges the later fix only; lifecycle stays sound`, (t) => {
    let swaps = 0;
    for (const seed of [11, 12, 13]) {
      const { delivery, judged } = swapped(s.items, seed);
      const skipped = fixesOf(delivery).length - fixesOf(judged).length;
      swaps += skipped;
      const r = run(delivery);
      const ref = run(judged);
      t.deepEqual(r.events, ref.events, `seed ${seed}`);
      t.deepEqual(r.trips, ref.trips, `seed ${seed}`);
      t.is(r.state.skippedLate, skipped);
      t.deepEqual(lifecycleProblems(r.events), []);
      // the violation is still found, once, with one fix of a pair missing
      t.deepEqual(phases(r.events), s.expect, `seed ${seed}: ${summary(r.events).join(' ')}`);
    }
    t.true(swaps > 0, 'the seeds do swap some fixes');
  });

  test(`replay ${s.name}: same fixes, same events byte for byte, same evidence hashes`, (t) => {
    const a = run(s.items);
    const b = run(s.items.map((i) => (isFix(i) ? structuredClone(i) : i)));
    t.is(JSON.stringify(b.events), JSON.stringify(a.events));
    t.is(JSON.stringify(b.trips), JSON.stringify(a.trips));
    const track = fixesOf(s.items);
    const ha = evidenceHashes(a.events, track);
    const hb = evidenceHashes(b.events, structuredClone(track).reverse());
    t.deepEqual(hb, ha);
    t.is(Object.keys(ha).length, s.expect.filter((p) => p.endsWith(':closed')).length);
    for (const e of a.events.filter((x) => x.phase === 'closed')) {
      const pkg = buildEvidence(e.violation, track, WORLD);
      t.true(verifyEvidence(pkg));
      t.true(pkg.fixes.length > 0, 'the package carries the track around the violation');
    }
    // the redelivered stream gives the same evidence (the store keeps one copy of each fix)
    const r = run(redelivered(s.items, 5));
    t.deepEqual(evidenceHashes(r.events, track), ha);
  });
}

// ---------------------------------------------------------------------------------------------- noise

test('15 m GPS noise never opens a violation on the clean compliant trip (any rule), and the trip stays compliant', (t) => {
  const clean = SCENARIOS[0]!;
  for (const seed of [101, 102, 103, 104, 105, 106]) {
    const fixes = withNoise(fixesOf(clean.items), seed, 15);
    const r = run(fixes);
    t.deepEqual(summary(r.events), [], `seed ${seed}`);
    const trips = completedTrips(r);
    t.is(trips.length, 1, `seed ${seed}`);
    t.true(trips[0]!.compliant);
    t.is(trips[0]!.disposalSite, 'D1');
    t.true(trips[0]!.distanceKm > 6.9 && trips[0]!.distanceKm < 7.5, `${trips[0]!.distanceKm} km`);
  }
});

test('15 m noise plus +-3 s report jitter on the clean trip: still nothing', (t) => {
  const clean = SCENARIOS[0]!;
  for (const seed of [201, 202, 203]) {
    const fixes = withJitter(withNoise(fixesOf(clean.items), seed, 15), seed, 3_000);
    t.deepEqual(summary(run(fixes).events), [], `seed ${seed}`);
  }
});

test('30 m noise (a poor fix, twice the floor) on the clean trip still opens no OFF_ROUTE when the fixes say so (accuracy 30)', (t) => {
  const clean = SCENARIOS[0]!;
  for (const seed of [301, 302, 303]) {
    const fixes = withNoise(fixesOf(clean.items), seed, 30).map((f) => ({ ...f, accuracy: 30 }));
    const r = run(fixes);
    t.deepEqual(
      r.events.filter((e) => e.violation.code === 'OFF_ROUTE').map((e) => e.phase),
      [],
      `seed ${seed}`,
    );
  }
});

/**
 * Noise may move a maximum (OFF_ROUTE reports a deeper excursion by more than the floor in an `updated`
 * event): compare the lifecycle without those, and check that every `updated` is a real change.
 */
function withoutMaxUpdates(events: ReturnType<typeof run>['events']): string[] {
  return phases(events.filter((e) => e.phase !== 'updated' || e.violation.level > 0));
}

for (const s of SCENARIOS.slice(1)) {
  test(`noise ${s.name}: 15 m noise and +-2 s jitter find the same violation, once`, (t) => {
    for (const seed of [401, 402, 403]) {
      for (const [label, items] of [
        ['noise', mapFixes(s.items, (f) => withNoise(f, seed, 15))],
        ['noise+jitter', mapFixes(s.items, (f) => withJitter(withNoise(f, seed, 15), seed, 2_000))],
      ] as const) {
        const r = run(items);
        t.deepEqual(
          withoutMaxUpdates(r.events),
          s.expect,
          `${label} ${seed}: ${summary(r.events).join(' ')}`,
        );
        t.deepEqual(lifecycleProblems(r.events), []);
        for (const u of r.events.filter((e) => e.phase === 'updated')) {
          t.is(u.violation.code, 'OFF_ROUTE', 'only OFF_ROUTE reports a new maximum');
          t.true(
            Number(u.violation.details.maxDeviationM) > 250,
            'a deeper excursion than the 250 m side road',
          );
        }
      }
    }
  });
}

test('redelivery of a whole stream after it was judged (a reconnecting device resending its buffer) emits nothing', (t) => {
  for (const s of SCENARIOS) {
    const items = s.items.filter(isFix);
    const twice = run([...items, ...items.map((f) => ({ ...f, late: true }))]);
    const once = run(items);
    t.deepEqual(twice.events, once.events, s.name);
    t.is(twice.state.skippedLate, items.length, s.name);
  }
});
