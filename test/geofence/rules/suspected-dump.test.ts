/**
 * SUSPECTED_DUMP (geofence/rules/suspected-dump.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { BASE, FULL, of, phases, run, stopOutside, Track } from '../../support/rules/load.ts';
import { phases as phasesMatrixLoad, run as runMatrixLoad, summary } from '../../support/rules/matrix/run.ts';
import { at, stopFor, T } from '../../support/rules/matrix-load.ts';

test('SUSPECTED_DUMP: stopped loaded outside sites for 4 min 59 s is nothing', (t) => {
  const { tr } = stopOutside(299_000, 10);
  t.deepEqual(run(tr.fixes).violations, []);
});

test('SUSPECTED_DUMP: more than 5 min opens from the first slow fix, closes when moving again', (t) => {
  const { tr, firstSlow } = stopOutside(420_000, 11);
  const r = run(tr.fixes);
  const evs = of(r, 'SUSPECTED_DUMP');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const [o, c] = evs;
  t.is(o!.violation.startTs, firstSlow);
  const openedAt = tr.fixes.find((f) => f.ts - firstSlow > 300_000)!;
  t.is(o!.violation.lastPos[0], openedAt.lon, 'opens on the first fix past 5 min');
  const lastSlow = firstSlow + 420_000;
  const firstMoving = tr.fixes.find((f) => f.ts > lastSlow)!;
  t.is(c!.violation.endTs, firstMoving.ts);
  t.is(c!.violation.durationMs, firstMoving.ts - firstSlow);
  t.is(c!.violation.details.stoppedMs, firstMoving.ts - firstSlow);
  t.is(c!.violation.details.endReason, 'moving');
  t.deepEqual(c!.violation.thresholds, {
    suspectedDumpSpeedKmh: 3,
    suspectedDumpMinMs: 300_000,
    accuracyFloorM: 15,
  });
  t.is(r.violations.length, 2, 'nothing else');
});

test('SUSPECTED_DUMP: not inside a site (queueing inside the disposal site)', (t) => {
  const tr = new Track('V1', BASE, 4000, 0, FULL, 12);
  tr.drive(6000, 0, 40);
  tr.stay(600_000);
  t.deepEqual(of(run(tr.fixes), 'SUSPECTED_DUMP'), []);
});

test('SUSPECTED_DUMP at its threshold: slow for exactly 5 min is nothing; 5 min 10 s opens at that fix', (t) => {
  t.deepEqual(runMatrixLoad(stopFor(300_000)).events, []);
  const r = runMatrixLoad(stopFor(310_000));
  t.deepEqual(summary(r.events), [
    `SUSPECTED_DUMP:opened:${T + 10_000}-:L0`,
    `SUSPECTED_DUMP:closed:${T + 10_000}-${T + 330_000}:L0`,
  ]);
  t.is(r.log[0]!.at, T + 320_000);
  t.like(r.events[1]!.violation.details, { stoppedMs: 320_000, endReason: 'moving' });
});

test('SUSPECTED_DUMP end reasons: unloaded (with the ILLEGAL_DUMP it is) and crawling into a site', (t) => {
  const fixes = stopFor(400_000).slice(0, -1);
  const last = fixes.at(-1)!.ts;
  // load empty for a minute while stopped (no lift, weight steady): confirmed by persistence
  for (let s = 10; s <= 70; s += 10) fixes.push(at(last + s * 1000, 2000, 0, { speed: 0, load: 'empty' }));
  const r = runMatrixLoad(fixes);
  t.deepEqual(summary(r.events), [
    `SUSPECTED_DUMP:opened:${T + 10_000}-:L0`,
    `ILLEGAL_DUMP:opened:${last + 10_000}-:L0`,
    `ILLEGAL_DUMP:closed:${last + 10_000}-${last + 10_000}:L0`,
    `SUSPECTED_DUMP:closed:${T + 10_000}-${last + 10_000}:L0`,
  ]);
  t.is(r.events[3]!.violation.details.endReason, 'unloaded');
  // stopped 100 m short of D2 (not on the permit) on R1, then crawling into it at 2 km/h
  const crawl = stopFor(320_000, 4000, 1300).slice(0, -1);
  let ts = crawl.at(-1)!.ts;
  let firstInside = 0;
  for (let y = 1310; y <= 1470; y += 20) {
    ts += 10_000;
    crawl.push(at(ts, 4000, y, { speed: 2 }));
    if (y > 1400 && firstInside === 0) firstInside = ts;
  }
  const c = runMatrixLoad(crawl);
  t.deepEqual(phasesMatrixLoad(c.events), ['SUSPECTED_DUMP:opened', 'SUSPECTED_DUMP:closed']);
  t.like(c.events[1]!.violation.details, { endReason: 'site' });
  t.is(c.events[1]!.violation.endTs, firstInside);
});

test('SUSPECTED_DUMP next to the permitted disposal site: 10 m outside its gate is queueing, 30 m outside is not', (t) => {
  // D1 spans y 2850..3150 on R1: a queue 10 m south of its edge, for 10 minutes
  t.deepEqual(runMatrixLoad(stopFor(600_000, 4000, 2840)).events, []);
  const r = runMatrixLoad(stopFor(600_000, 4000, 2820));
  t.deepEqual(phasesMatrixLoad(r.events), ['SUSPECTED_DUMP:opened', 'SUSPECTED_DUMP:closed']);
});

test('SUSPECTED_DUMP gaps and invalid fixes: a silence counts as stopped time; invalid fixes continue a run but never start one', (t) => {
  const gap = runMatrixLoad([
    at(T, 1920, 0),
    at(T + 10_000, 2000, 0, { speed: 0 }),
    at(T + 370_000, 2000, 0, { speed: 0 }),
    at(T + 380_000, 2080, 0),
  ]);
  // parked where it was for the whole 6 min silence: no TRACK_GAP (a gap counts while moving)
  t.deepEqual(summary(gap.events), [
    `SUSPECTED_DUMP:opened:${T + 10_000}-:L0`,
    `SUSPECTED_DUMP:closed:${T + 10_000}-${T + 380_000}:L0`,
  ]);
  const invalidOnly: Fix[] = [at(T, 1920, 0)];
  for (let s = 10; s <= 600; s += 10) invalidOnly.push(at(T + s * 1000, 2000, 0, { speed: 0, valid: false }));
  t.deepEqual(runMatrixLoad(invalidOnly).events, []);
  const startedValid: Fix[] = [at(T, 1920, 0), at(T + 10_000, 2000, 0, { speed: 0 })];
  for (let s = 20; s <= 400; s += 10)
    startedValid.push(at(T + s * 1000, 2000, 0, { speed: 0, valid: false }));
  const v = runMatrixLoad(startedValid);
  t.deepEqual(summary(v.events), [`SUSPECTED_DUMP:opened:${T + 10_000}-:L0`]);
  t.is(v.log[0]!.at, T + 320_000);
});
