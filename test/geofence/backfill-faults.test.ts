/**
 * Late batches with faults: platform outages, instant violations, multipath strays, mixed faults in random order (their world: test/support/geofence/backfill.ts).
 */
import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { createEngine } from '../../geofence/engine.ts';
import { createJudge } from '../../geofence/judge.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { createRng } from '../../simulators/shared/rng.ts';
import { VehicleHarness } from '../support/backfill-harness.ts';
import { faultTracks, matrixJudge } from '../support/geofence/backfill.ts';
import { EMPTY, FULL, loadAt, Trk, tip } from '../support/rules/matrix/tracks.ts';
import { WORLD as MATRIX } from '../support/rules/matrix/world.ts';
import { local } from '../support/rules/track-kit.ts';

test('platform outages: a silence over the outage is a platform gap, not a violation; one whose allowance ran out before it stands', (t) => {
  const tr = new Trk('V1', local(23), 300, 0, FULL);
  tr.roll(6, 30);
  const before = tr.fixes.length;
  tr.t += 11 * 60_000; // 11 minutes without a fix
  tr.roll(6, 30);
  const fixes = tr.fixes;
  const lastBefore = fixes[before - 1]!.ts;
  // the platform was stopped for those 11 minutes
  const outage = { start: lastBefore + 5_000, end: lastBefore + 11 * 60_000 };
  const h = new VehicleHarness(matrixJudge, 'V1', MATRIX, [outage]);
  for (const f of fixes.slice(0, before)) h.deliver([f]);
  h.tick(lastBefore + 3 * 60_000); // a tick while the platform is down (e.g. its restart grace)
  h.tick(lastBefore + 4 * 60_000); // again: the same gap is noted once
  for (const f of fixes.slice(before)) h.deliver([f]);
  t.deepEqual(
    [...h.view.values()].map((e) => e.violation.code),
    [],
    'no TRACK_GAP and no OFFLINE against the firm',
  );
  t.deepEqual(h.gaps.map((g) => [g.code, g.fromTs, g.outageStart]).sort(), [
    ['OFFLINE', lastBefore, outage.start],
    ['TRACK_GAP', lastBefore, outage.start],
  ]);
  // the same silence, the platform down only from 10.5 minutes into it: the device had been silent past
  // its 10 minute allowance while the platform was up, so OFFLINE stands; the gap overlaps the outage
  const late = { start: lastBefore + 630_000, end: lastBefore + 660_000 };
  const h2 = new VehicleHarness(matrixJudge, 'V1', MATRIX, [late]);
  for (const f of fixes) h2.deliver([f]);
  t.deepEqual(
    [...h2.view.values()].map((e) => [e.violation.code, e.violation.startTs]),
    [['OFFLINE', lastBefore + 600_000]],
  );
  t.deepEqual(
    h2.gaps.map((g) => g.code),
    ['TRACK_GAP'],
  );
  // without an outage: both charged
  const h3 = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of fixes) h3.deliver([f]);
  t.deepEqual([...h3.view.values()].map((e) => e.violation.code).sort(), ['OFFLINE', 'TRACK_GAP']);
  // silent on after the platform is back: OFFLINE once its allowance (10 min) has run from the outage's end
  const h4 = new VehicleHarness(matrixJudge, 'V1', MATRIX, [outage]);
  for (const f of fixes.slice(0, before)) h4.deliver([f]);
  h4.tick(outage.end + 590_000);
  t.deepEqual([...h4.view.values()], [], 'within the allowance after the outage');
  h4.tick(outage.end + 610_000);
  t.deepEqual(
    [...h4.view.values()].map((e) => [e.phase, e.violation.code, e.violation.startTs]),
    [['opened', 'OFFLINE', outage.end + 600_000]],
  );
});

test('an instant violation (opened and closed by one fix: a tip at the roadside) is kept; only a published one closed before its onset is withdrawn', (t) => {
  const tr = new Trk('V1', local(23), 300, 0, FULL);
  tr.roll(6, 30);
  tr.stay(30_000, 10_000); // stopped at the roadside, 300 m out of the origin, far from the disposal site
  tr.fix(10_000, 0, { lift: 'up' });
  tr.fix(10_000, 0, { lift: 'up', load: 'empty', weight: 0.4 });
  const h = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of tr.fixes) h.deliver([f]);
  const dumps = [...h.view.values()].filter((e) => e.violation.code === 'ILLEGAL_DUMP');
  t.is(dumps.length, 1, `codes: ${[...h.view.values()].map((e) => e.violation.code).join(', ')}`);
  t.is(dumps[0]!.phase, 'closed');
  t.is(dumps[0]!.violation.endTs, dumps[0]!.violation.startTs, 'an instant');
});

test('a multipath stray in a trip is an outlier for the judge too: the trip and the violations are those of the track without it, whether the stray arrives live or in a late batch', (t) => {
  // V1 loads at O1, drives east then north to the disposal site and tips (the trip of rules-matrix-faults)
  const tr = new Trk('V1', local(23), 0, 0, EMPTY);
  loadAt(tr);
  tr.drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  const clean = tip(tr).fixes;
  // one fix of the drive replaced by a stray 1.5 km north of the road (~500 km/h from both neighbours)
  const i = clean.findIndex((f) => f.ts > clean[0]!.ts + 9 * 60_000);
  const stray = { ...clean[i]!, lat: clean[i]!.lat + 0.0135 };
  const strayed = [...clean.slice(0, i), stray, ...clean.slice(i + 1)];
  const ref = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of clean.filter((_, j) => j !== i)) ref.deliver([f]);
  t.is(ref.finalTrips().length, 1, 'the clean track is one trip');
  const live = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of strayed) live.deliver([f]);
  t.is(live.state.engine.outliers, 1);
  t.deepEqual(live.finalTrips(), ref.finalTrips(), 'the stray adds no distance to the trip');
  t.deepEqual(live.finalViolations(), ref.finalViolations(), 'and no TRACK_GAP');
  // the minutes around the stray in a late batch after the live fix: the same
  const late = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of strayed.slice(0, i - 5)) late.deliver([f]);
  late.deliver([strayed[i + 6]!]);
  late.deliver(strayed.slice(i - 5, i + 6));
  for (const f of strayed.slice(i + 7)) late.deliver([f]);
  t.is(late.rejudgings, 1);
  t.deepEqual(late.finalTrips(), ref.finalTrips());
  t.deepEqual(late.finalViolations(), ref.finalViolations());
});

test('mixed faults (hefei-faults, seed 4): random batches in random order, and blind areas after the live fix, give the same final violations and trips as time order', async (t) => {
  t.timeout(300_000);
  const { world: fw, tracks: ft } = await faultTracks(4);
  const fj = createJudge(createEngine(ALL_RULES, chinaCalendar));
  const rng = createRng(4);
  let outliers = 0;
  let glitches = 0;
  let rejudgings = 0;
  let codes = 0;
  for (const [vehicle, fixes] of ft) {
    const ref = new VehicleHarness(fj, vehicle, fw);
    for (const f of fixes) ref.deliver([f]);
    outliers += ref.state.engine.outliers;
    glitches += ref.state.engine.load.gl;
    codes += ref.finalViolations().length;
    const r = rng.fork(vehicle);
    for (const maxBatch of [5, 40]) {
      const batches: Fix[][] = [];
      for (let i = 0; i < fixes.length; ) {
        const n = r.int(1, maxBatch);
        batches.push(fixes.slice(i, i + n));
        i += n;
      }
      for (let i = batches.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [batches[i], batches[j]] = [batches[j]!, batches[i]!];
      }
      const h = new VehicleHarness(fj, vehicle, fw);
      for (const b of batches) h.deliver(b);
      rejudgings += h.rejudgings;
      t.deepEqual(
        h.finalViolations(),
        ref.finalViolations(),
        `violations of ${vehicle} (batches of ${maxBatch})`,
      );
      t.deepEqual(h.finalTrips(), ref.finalTrips(), `trips of ${vehicle} (batches of ${maxBatch})`);
    }
    const b = new VehicleHarness(fj, vehicle, fw);
    let i = 0;
    while (i < fixes.length) {
      if (r.chance(0.05) && i + 3 < fixes.length) {
        const n = Math.min(r.int(3, 72), fixes.length - i - 1); // up to 12 minutes
        b.deliver([fixes[i + n]!]);
        b.deliver(fixes.slice(i, i + n));
        i += n + 1;
      } else b.deliver([fixes[i++]!]);
    }
    t.deepEqual(b.finalViolations(), ref.finalViolations(), `violations of ${vehicle} (blind areas)`);
    t.deepEqual(b.finalTrips(), ref.finalTrips(), `trips of ${vehicle} (blind areas)`);
  }
  t.log(
    `${ft.size} units, ${codes} violations, ${outliers} outliers, ${glitches} glitches, ${rejudgings} re-judgings`,
  );
  t.true(outliers > 0 && glitches > 0 && codes > 30);
});
