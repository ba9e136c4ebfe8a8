import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import type { Permit, Site } from '../../../geofence/model.ts';
import {
  cleanTrip,
  completedTrips,
  D1,
  EMPTY,
  FULL,
  fixAt,
  type Item,
  loadAt,
  local,
  ofCode,
  P1,
  phases,
  refsOf,
  run,
  type Sensors,
  snapshot,
  square,
  summary,
  Trk,
  tip,
} from '../../support/tracks-matrix.ts';

/*
 * Rule matrix, load rules and trips: NO_PERMIT, ILLEGAL_DUMP, SUSPECTED_DUMP, SPILLAGE, WRONG_SITE,
 * OVERLOAD and the trip record, through the real engine with ALL_RULES (test/support/tracks-matrix.ts:
 * O1 -> R1 -> D1 permitted for V1 22:00-06:00; O2 and D2 straddle R1 but are not on the permit).
 * Complements test/geofence/rules/load.test.ts: exact thresholds, every trigger, end reasons, gaps, invalid
 * fixes, edits mid-violation, and trips judged by all twelve rules.
 */

const T = local(23, 10);
const codesOf = (r: ReturnType<typeof run>) => [...new Set(r.events.map((e) => e.violation.code))].sort();
/** a V1 fix at (x, y) with the given sensors on top of FULL */
const at = (ts: number, x: number, y: number, s: Sensors = {}, vehicle = 'V1'): Fix =>
  fixAt(vehicle, ts, x, y, { ...FULL, ...s });

// ---------------------------------------------------------------------------------------------- NO_PERMIT

/** V2 (no permit) reporting weight only, parked in O1, the weight rising to `to` t */
function weightLoading(to: number): Fix[] {
  const out: Fix[] = [];
  // the reading stays up for over a minute: a change is a loading once it has persisted (sensorConfirmMs)
  const steps = [0.4, 0.4, 0.4, (0.4 + to) / 2, to, to, to, to, to, to, to, to];
  steps.forEach((w, i) => {
    out.push(fixAt('V2', T + i * 10_000, 20, 20, { weight: Math.round(w * 100) / 100, speed: 0 }));
  });
  return out;
}

test('NO_PERMIT by weight alone: a rise of 2.0 t while stopped is not a loading, 2.1 t is (trigger weight, site O1)', (t) => {
  t.deepEqual(run(weightLoading(2.4)).events, []);
  const r = run(weightLoading(2.5));
  t.deepEqual(summary(r.events), [`NO_PERMIT:opened:${T + 40_000}-:L0`]);
  t.is(r.log[0]!.at, T + 100_000, 'raised once the rise persisted 60 s, from its onset');
  t.like(r.events[0]!.violation.details, { trigger: 'weight', site: 'O1', siteKind: 'origin' });
  t.deepEqual(refsOf(r.events[0]!.violation), ['site:O1@3', 'thresholds:city@1']);
  t.is(r.events[0]!.violation.permit, undefined);
  t.deepEqual(
    r.trips.map((e) => e.kind),
    ['started'],
  );
});

test('NO_PERMIT outside every site: site empty, no trip; across a 10 min gap it opens at the first loaded fix', (t) => {
  const outside = [at(T, 2000, 0, { ...EMPTY, speed: 0 }, 'V2'), at(T + 10_000, 2000, 0, { speed: 0 }, 'V2')];
  const r = run(outside);
  t.deepEqual(summary(r.events), [`NO_PERMIT:opened:${T + 10_000}-:L0`]);
  t.like(r.events[0]!.violation.details, { trigger: 'load', site: '', siteKind: '' });
  t.deepEqual(r.trips, []);
  const gap = run([at(T, 0, 0, { ...EMPTY, speed: 0 }, 'V2'), at(T + 600_000, 0, 0, { speed: 0 }, 'V2')]);
  // parked where it was: the 10 min silence is no TRACK_GAP
  t.deepEqual(summary(gap.events), [`NO_PERMIT:opened:${T + 600_000}-:L0`]);
});

test('NO_PERMIT: a permit issued while the truck is loaded closes it (endReason permit) at the first fix judged under it', (t) => {
  const tr = new Trk('V2', T, 0, 0, EMPTY);
  loadAt(tr).drive(2000, 0, 30);
  const n = tr.fixes.length;
  tr.drive(3000, 0, 30);
  const issued: Permit = { ...P1, id: 'P2', version: 1, vehicles: ['V2'] };
  const items: Item[] = [
    ...tr.fixes.slice(0, n),
    { world: compileWorld(snapshot({ permits: [P1, issued] })) },
    ...tr.fixes.slice(n),
  ];
  const r = run(items);
  t.deepEqual(phases(r.events), ['NO_PERMIT:opened', 'NO_PERMIT:closed']);
  t.is(r.events[1]!.violation.details.endReason, 'permit');
  t.is(r.events[1]!.violation.endTs, tr.fixes[n]!.ts);
  t.is(r.events[1]!.violation.permit, undefined, 'judged without a permit at onset');
});

// ---------------------------------------------------------------------------------------------- ILLEGAL_DUMP

test('ILLEGAL_DUMP by load state alone (no lift sensor, no weight): trigger load, weightDropT 0', (t) => {
  const fixes = [
    at(T, 1900, 0, { lift: undefined, weight: undefined }),
    at(T + 10_000, 2000, 0, { lift: undefined, weight: undefined, speed: 0 }),
    at(T + 20_000, 2000, 0, { lift: undefined, weight: undefined, speed: 0, load: 'empty' }),
  ];
  // it drives off still reading empty: confirmed at the first fix 60 s after the onset
  for (let s = 30; s <= 90; s += 10)
    fixes.push(
      at(T + s * 1000, 2000 + (s - 20) * 8, 0, { lift: undefined, weight: undefined, load: 'empty' }),
    );
  const r = run(fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${T + 20_000}-:L0`,
    `ILLEGAL_DUMP:closed:${T + 20_000}-${T + 20_000}:L0`,
  ]);
  t.is(r.log[0]!.at, T + 80_000);
  t.deepEqual(
    r.events[1]!.violation.startPos,
    r.events[1]!.violation.lastPos,
    'at the onset, where it stood',
  );
  // the same sensor back to full within the minute is a glitch: nothing, counted
  const flicker = fixes.slice(0, 3);
  for (let s = 30; s <= 90; s += 10)
    flicker.push(
      at(T + s * 1000, 2000, 0, {
        lift: undefined,
        weight: undefined,
        speed: 0,
        load: s < 50 ? 'empty' : 'full',
      }),
    );
  const g = run(flicker);
  t.deepEqual(g.events, []);
  t.is(g.state.load.gl, 1);
  t.like(r.events[1]!.violation.details, { trigger: 'load', weightDropT: 0, insideSite: '' });
  t.deepEqual(refsOf(r.events[1]!.violation), ['permit:P1@2', 'site:D1@2', 'thresholds:city@1']);
});

/** V3 (weight only) stops on R1 and its weight falls by `drop` t while stopped */
function weightDrop(drop: number): Fix[] {
  const out: Fix[] = [];
  const ws = [28, 28, 28, 28 - drop / 2, 28 - drop, 28 - drop, ...Array(6).fill(28 - drop)];
  for (const [i, w] of ws.entries()) {
    out.push(
      fixAt('V3', T + i * 10_000, 2000, 0, { weight: Math.round(w * 100) / 100, speed: i === 0 ? 30 : 0 }),
    );
  }
  return out;
}

test('ILLEGAL_DUMP by weight at its threshold: a 2.0 t drop while stopped is nothing, 2.1 t is a dump', (t) => {
  t.deepEqual(run(weightDrop(2)).events, []);
  const r = run(weightDrop(2.1));
  t.deepEqual(phases(r.events), ['ILLEGAL_DUMP:opened', 'ILLEGAL_DUMP:closed']);
  t.like(r.events[0]!.violation.details, { trigger: 'weight', weightDropT: 2.1 });
  t.is(r.events[0]!.violation.startTs, T + 40_000);
  t.is(r.log[0]!.at, T + 100_000, 'confirmed by persistence: the weight stayed down 60 s');
});

test('a weight falling while moving is SPILLAGE, never ILLEGAL_DUMP (even when the truck stops afterwards)', (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL);
  tr.roll(2, 20)
    .roll(6, 20, 10_000, (i) => ({ weight: 28 - i }))
    .stay(120_000);
  const r = run(tr.fixes);
  t.deepEqual(codesOf(r), ['SPILLAGE']);
  t.deepEqual(phases(r.events), ['SPILLAGE:opened', 'SPILLAGE:closed']);
  t.like(r.events[1]!.violation.details, { trigger: 'weight', weightDropT: 6 });
});

test("ILLEGAL_DUMP inside the permit's own origin: recorded as insideSite O1, refs name O1 and D1", (t) => {
  const tr = new Trk('V1', T, 60, 60, FULL).stay(30_000);
  const liftTs = tr.t + 10_000;
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
  t.like(r.events[0]!.violation.details, { trigger: 'lift', insideSite: 'O1', weightDropT: 0 });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'site:D1@2', 'site:O1@3', 'thresholds:city@1']);
});

test('ILLEGAL_DUMP: an unloading on an invalid fix is not judged and not judged later; a sweeper emptying is not a dump', (t) => {
  const tr = new Trk('V1', T, 2000, 0, FULL).stay(20_000);
  tr.fix(10_000, 0, { lift: 'up', valid: false });
  tr.fix(10_000, 0, { valid: true, weight: 10 })
    .fix(10_000, 0, { load: 'empty', weight: 0.5 })
    .fix(10_000, 0, { lift: 'down' });
  tr.roll(3, 20);
  t.deepEqual(run(tr.fixes).events, []);
  const sw = new Trk('S1', T, 2000, 0, { kind: 'sanitation', weight: 6, lift: 'down', load: 'full' }).stay(
    20_000,
  );
  sw.fix(10_000, 0, { lift: 'up' })
    .fix(10_000, 0, { weight: 0.2, load: 'empty' })
    .fix(10_000, 0, { lift: 'down' });
  t.deepEqual(run(sw.fixes).events, []);
});

test('permit expiring mid-trip: a dump outside after midnight is ILLEGAL_DUMP with no permit left to cite', (t) => {
  const lastDay = compileWorld(
    snapshot({ permits: [{ ...P1, validTo: '2026-11-10', windows: ['00:00-24:00'] }] }),
  );
  const tr = new Trk('V1', local(23, 59), 1500, 0, FULL).drive(2000, 0, 30).stay(60_000);
  const liftTs = tr.t + 10_000;
  tip(tr);
  t.true(liftTs > local(24));
  const r = run(tr.fixes, { world: lastDay });
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
  const v = r.events[0]!.violation;
  t.is(v.permit, undefined);
  t.is(v.details.nearestPermittedM, -1);
  t.deepEqual(refsOf(v), ['thresholds:city@1']);
  // the same dump the evening before (permit valid) cites P1 and the permitted D1
  const before = new Trk('V1', local(23, 50), 1500, 0, FULL).drive(2000, 0, 30).stay(60_000);
  tip(before);
  const b = run(before.fixes, { world: lastDay });
  t.deepEqual(refsOf(b.events[0]!.violation), ['permit:P1@2', 'site:D1@2', 'thresholds:city@1']);
});

// ---------------------------------------------------------------------------------------------- SUSPECTED_DUMP

/** a loaded V1 slowing to a stop on R1 at (2000, 0) for `stoppedMs`, then driving on */
function stopFor(stoppedMs: number, x = 2000, y = 0): Fix[] {
  const out: Fix[] = [at(T, x - 80, y)];
  for (let s = 0; s <= stoppedMs; s += 10_000) out.push(at(T + 10_000 + s, x, y, { speed: 1 }));
  out.push(at(T + 10_000 + stoppedMs + 10_000, x, y + (y === 0 ? 0 : 0), { speed: 20 }));
  return out;
}

test('SUSPECTED_DUMP at its threshold: slow for exactly 5 min is nothing; 5 min 10 s opens at that fix', (t) => {
  t.deepEqual(run(stopFor(300_000)).events, []);
  const r = run(stopFor(310_000));
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
  const r = run(fixes);
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
  const c = run(crawl);
  t.deepEqual(phases(c.events), ['SUSPECTED_DUMP:opened', 'SUSPECTED_DUMP:closed']);
  t.like(c.events[1]!.violation.details, { endReason: 'site' });
  t.is(c.events[1]!.violation.endTs, firstInside);
});

test('SUSPECTED_DUMP next to the permitted disposal site: 10 m outside its gate is queueing, 30 m outside is not', (t) => {
  // D1 spans y 2850..3150 on R1: a queue 10 m south of its edge, for 10 minutes
  t.deepEqual(run(stopFor(600_000, 4000, 2840)).events, []);
  const r = run(stopFor(600_000, 4000, 2820));
  t.deepEqual(phases(r.events), ['SUSPECTED_DUMP:opened', 'SUSPECTED_DUMP:closed']);
});

test('SUSPECTED_DUMP gaps and invalid fixes: a silence counts as stopped time; invalid fixes continue a run but never start one', (t) => {
  const gap = run([
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
  t.deepEqual(run(invalidOnly).events, []);
  const startedValid: Fix[] = [at(T, 1920, 0), at(T + 10_000, 2000, 0, { speed: 0 })];
  for (let s = 20; s <= 400; s += 10)
    startedValid.push(at(T + s * 1000, 2000, 0, { speed: 0, valid: false }));
  const v = run(startedValid);
  t.deepEqual(summary(v.events), [`SUSPECTED_DUMP:opened:${T + 10_000}-:L0`]);
  t.is(v.log[0]!.at, T + 320_000);
});

// ---------------------------------------------------------------------------------------------- SPILLAGE

test('SPILLAGE at its thresholds: cover open at exactly 5 km/h, or while empty, is nothing; a 0.5 t loss is nothing', (t) => {
  const slow = new Trk('V1', T, 1200, 0, FULL).roll(12, 5, 10_000, () => ({ cover: 'open' }));
  t.deepEqual(run(slow.fixes).events, []);
  const empty = new Trk('V1', T, 1200, 0, EMPTY).roll(12, 30, 10_000, () => ({ cover: 'open' }));
  t.deepEqual(run(empty.fixes).events, []);
  const half = new Trk('V1', T, 1200, 0, FULL)
    .roll(2, 30)
    .roll(5, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 }));
  t.deepEqual(run(half.fixes).events, []);
  const more = new Trk('V1', T, 1200, 0, FULL)
    .roll(2, 30)
    .roll(6, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 }))
    .roll(6, 30, 10_000, () => ({ weight: 27.4 }));
  const m = run(more.fixes);
  t.deepEqual(phases(m.events), ['SPILLAGE:opened']);
  t.is(m.events[0]!.violation.startTs, more.fixes[7]!.ts, 'from the first fix 0.6 t down');
  t.is(m.log[0]!.at, more.fixes[13]!.ts, 'raised once it stayed down 60 s');
});

test("SPILLAGE cover then weight: one violation, updated to cover+weight, closed with the run's drop and cover time", (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL).roll(2, 30);
  const coverFrom = tr.t + 10_000;
  tr.roll(4, 30, 10_000, () => ({ cover: 'open' })); // opens at the 4th (30 s)
  tr.roll(8, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 })); // drop > 0.5 t at the 6th, cover still open
  tr.roll(5, 30, 10_000, () => ({ weight: 27.2 })); // down for 60 s: confirmed, cover still open
  const coverClosed = tr.t + 10_000;
  tr.roll(3, 30, 10_000, () => ({ cover: 'closed' })); // weight run continues
  const stop = tr.t + 10_000;
  tr.stay(20_000);
  const r = run(tr.fixes);
  t.deepEqual(summary(r.events), [
    `SPILLAGE:opened:${coverFrom}-:L0`,
    `SPILLAGE:updated:${coverFrom}-:L0`,
    `SPILLAGE:closed:${coverFrom}-${stop}:L0`,
  ]);
  t.is(r.events[0]!.violation.details.trigger, 'cover');
  t.is(r.log[0]!.at, coverFrom + 30_000);
  t.is(r.events[1]!.violation.details.trigger, 'cover+weight');
  t.like(r.events[2]!.violation.details, {
    trigger: 'cover+weight',
    weightDropT: 0.8,
    coverOpenMs: coverClosed - coverFrom,
  });
});

test('SPILLAGE: a weight falling with the lift up is an unloading (ILLEGAL_DUMP), not spillage', (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL).roll(2, 10);
  const liftTs = tr.t + 10_000;
  tr.roll(6, 10, 10_000, (i) => ({ lift: 'up', weight: 28 - i * 4 }));
  tr.roll(2, 10, 10_000, () => ({ lift: 'down', load: 'empty' }));
  const r = run(tr.fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
});

test('SPILLAGE gaps and exactly once: cover open across a 2 min silence starts at the first fix; a long leak is one violation', (t) => {
  const g = run([
    at(T, 1200, 0, { cover: 'open' }),
    at(T + 120_000, 2200, 0, { cover: 'open' }),
    at(T + 130_000, 2280, 0),
  ]);
  t.deepEqual(summary(g.events), [`SPILLAGE:opened:${T}-:L0`, `SPILLAGE:closed:${T}-${T + 130_000}:L0`]);
  t.is(g.events[1]!.violation.details.coverOpenMs, 130_000);
  const tr = new Trk('V1', T, 300, 0, FULL)
    .roll(1, 30)
    .roll(18, 30, 10_000, (i) => ({ weight: Math.round((28 - i * 0.15) * 100) / 100 }));
  tr.stay(20_000);
  const r = run(tr.fixes);
  t.deepEqual(phases(r.events), ['SPILLAGE:opened', 'SPILLAGE:closed']);
  t.is(r.events[1]!.violation.details.weightDropT, 2.7);
});

// ---------------------------------------------------------------------------------------------- WRONG_SITE

/** D3: a disposal site not on the permit, adjacent to D1 (touching its south edge at y = 2850), on R1 */
const D3: Site = {
  id: 'D3',
  version: 1,
  kind: 'disposal',
  name: '消纳场三',
  polygons: [square(4000, 2700, 150)],
};
const WITH_D3 = compileWorld(snapshot({ sites: [...snapshot().sites, D3] }));

function tipAt(x: number, y: number): Fix[] {
  const tr = new Trk('V1', T, x, y - 160, FULL).drive(x, y, 20).stay(20_000);
  return tip(tr).fixes;
}

test('WRONG_SITE next to the permitted site: 10 m from D1 is the benefit of the doubt, 50 m is D3', (t) => {
  t.deepEqual(run(tipAt(4000, 2840), { world: WITH_D3 }).events, []);
  const r = run(tipAt(4000, 2800), { world: WITH_D3 });
  t.deepEqual(phases(r.events), ['WRONG_SITE:opened', 'WRONG_SITE:closed']);
  t.like(r.events[0]!.violation.details, {
    action: 'unloading',
    trigger: 'lift',
    site: 'D3',
    siteKind: 'disposal',
  });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'site:D3@1', 'thresholds:city@1']);
  // D3 drawn over D1: the position is inside a named site, nothing to say
  const overlap = compileWorld(snapshot({ sites: [...snapshot().sites, { ...D3, polygons: D1.polygons }] }));
  t.deepEqual(run(tipAt(4000, 3000), { world: overlap }).events, []);
});

test('WRONG_SITE: a transition on an invalid fix is consumed; a wrong-origin trip completes as non-compliant', (t) => {
  const tr = new Trk('V1', T, 4000, 1500, FULL).stay(20_000);
  tr.fix(10_000, 0, { lift: 'up', valid: false })
    .fix(10_000, 0, { load: 'empty', weight: 0.5 })
    .fix(10_000, 0, { lift: 'down' });
  t.deepEqual(run(tr.fixes).events, []);
  // load in O2 (not on the permit), then the permitted route to D1 and tip there
  const trip = new Trk('V1', T, 1000, 0, EMPTY);
  loadAt(trip).drive(4000, 0, 30).drive(4000, 3000, 30).stay(30_000);
  tip(trip);
  const r = run(trip.fixes);
  t.deepEqual(phases(r.events), ['WRONG_SITE:opened', 'WRONG_SITE:closed']);
  const [done] = completedTrips(r);
  t.like(done, { originSite: 'O2', disposalSite: 'D1', permit: 'P1', compliant: false, violationCount: 1 });
  t.deepEqual(done!.violations, [r.events[0]!.violation.id]);
});

// ---------------------------------------------------------------------------------------------- OVERLOAD

test('OVERLOAD at its threshold: exactly the rated 31 t for 5 min is nothing; 31.1 t for 60 s opens', (t) => {
  const at31 = new Trk('V1', T, 300, 0, FULL).roll(30, 30, 10_000, () => ({ weight: 31 }));
  t.deepEqual(run(at31.fixes).events, []);
  const over = new Trk('V1', T, 300, 0, FULL).roll(1, 30).roll(7, 30, 10_000, () => ({ weight: 31.1 }));
  over.roll(7, 30, 10_000, () => ({ weight: 31 }));
  const r = run(over.fixes);
  t.deepEqual(summary(r.events), [
    `OVERLOAD:opened:${T + 20_000}-:L0`,
    `OVERLOAD:closed:${T + 20_000}-${T + 90_000}:L0`,
  ]);
  t.like(r.events[1]!.violation.details, { ratedLoadT: 31, maxWeightT: 31.1, overPct: 0.3 });
});

test('OVERLOAD: fixes without weight neither start, end nor split it; a 2 min silence counts', (t) => {
  const fixes = [
    at(T, 300, 0, { weight: 33 }),
    ...[1, 2, 3, 4, 5].map((i) => at(T + i * 10_000, 300 + i * 80, 0, { weight: undefined })),
    at(T + 60_000, 800, 0, { weight: 33 }),
    ...[7, 8, 9].map((i) => at(T + i * 10_000, 300 + i * 80, 0, { weight: undefined })),
    at(T + 100_000, 1100, 0, { weight: 31, speed: 0 }), // at the rating (stopped: no spillage, < 2 t no dump)
    at(T + 160_000, 1100, 0, { weight: 31, speed: 0 }), // still there a minute later: the end is confirmed
  ];
  const r = run(fixes);
  t.deepEqual(summary(r.events), [`OVERLOAD:opened:${T}-:L0`, `OVERLOAD:closed:${T}-${T + 100_000}:L0`]);
  t.is(r.log[0]!.at, T + 60_000);
  const g = run([
    at(T, 300, 0, { weight: 33 }),
    at(T + 120_000, 1300, 0, { weight: 33 }),
    at(T + 130_000, 1380, 0, { weight: 31, speed: 0 }),
    at(T + 190_000, 1380, 0, { weight: 31, speed: 0 }),
  ]);
  t.deepEqual(summary(g.events), [`OVERLOAD:opened:${T}-:L0`, `OVERLOAD:closed:${T}-${T + 130_000}:L0`]);
});

test('OVERLOAD vehicle re-rated mid-violation: judged on the new rating, the refs keep vehicle V1 version 1', (t) => {
  const rerated = compileWorld(
    snapshot({
      vehicles: snapshot().vehicles.map((v) => (v.id === 'V1' ? { ...v, version: 2, ratedLoadT: 35 } : v)),
    }),
  );
  const tr = new Trk('V1', T, 300, 0, FULL).roll(8, 30, 10_000, () => ({ weight: 33 }));
  const items: Item[] = [...tr.fixes, { world: rerated }];
  tr.roll(8, 30, 10_000, () => ({ weight: 33 }));
  items.push(...tr.fixes.slice(8));
  const r = run(items);
  t.deepEqual(summary(r.events), [
    `OVERLOAD:opened:${T + 10_000}-:L0`,
    `OVERLOAD:closed:${T + 10_000}-${T + 90_000}:L0`,
  ]);
  t.true(refsOf(r.events[1]!.violation).includes('vehicle:V1@1'));
  t.like(r.events[1]!.violation.details, { ratedLoadT: 31 });
});

test('OVERLOAD exactly once: a weight rising 32 -> 36 t over 3 min is one violation without updates; the close has the maximum', (t) => {
  const tr = new Trk('V1', T, 300, 0, FULL)
    .roll(1, 30)
    .roll(19, 30, 10_000, (i) => ({ weight: Math.round((31.8 + i * 0.22) * 100) / 100 }));
  tr.roll(7, 30, 10_000, () => ({ weight: 28 }));
  const r = run(tr.fixes);
  t.deepEqual(phases(r.events), ['OVERLOAD:opened', 'OVERLOAD:closed']);
  t.like(r.events[1]!.violation.details, { maxWeightT: 35.98, overPct: 16.1 });
});

test('OVERLOAD: a weight glitch under the rating (33 t -> 3.3 t -> 33 t) does not split it; the truck unloading ends it at once', (t) => {
  const tr = new Trk('V1', T, 300, 0, FULL).roll(9, 30, 10_000, () => ({ weight: 33 }));
  tr.roll(1, 30, 10_000, () => ({ weight: 3.3 })).roll(9, 30, 10_000, () => ({ weight: 33 }));
  const stopAt = tr.t + 10_000;
  tr.stay(30_000, 10_000, () => ({ weight: 33 }));
  const liftAt = tr.t + 10_000;
  tr.fix(10_000, 0, { lift: 'up', weight: 20 }).stay(20_000, 10_000, () => ({ weight: 8 }));
  const r = run(tr.fixes);
  const ol = r.events.filter((e) => e.violation.code === 'OVERLOAD');
  t.deepEqual(phases(ol), ['OVERLOAD:opened', 'OVERLOAD:closed']);
  t.is(ol[1]!.violation.endTs, liftAt, 'ended by the unloading, corroborated at once');
  t.true(stopAt < liftAt);
  t.true(r.state.load.gl >= 1, 'the glitch is counted');
});

// ---------------------------------------------------------------------------------------------- trips

test('trip record: loading in O1 -> R1 -> unloading in D1 gives distance, duration, permit and compliance (all 12 rules)', (t) => {
  const tr = cleanTrip();
  const r = run(tr.fixes);
  t.deepEqual(r.events, []);
  t.deepEqual(
    r.trips.map((e) => e.kind),
    ['started', 'completed'],
  );
  const loading = tr.fixes.find((f) => f.load === 'half')!;
  const lift = tr.fixes.find((f) => f.lift === 'up')!;
  const [trip] = completedTrips(r);
  t.like(trip, {
    id: `V1:trip:${loading.ts}`,
    vehicle: 'V1',
    firm: 'F1',
    permit: 'P1',
    originSite: 'O1',
    originVersion: 3,
    disposalSite: 'D1',
    startTs: loading.ts,
    endTs: lift.ts,
    durationMs: lift.ts - loading.ts,
    loadTrigger: 'load',
    unloadTrigger: 'lift',
    compliant: true,
    violationCount: 0,
  });
  t.true(Math.abs(trip!.distanceKm - 7) < 0.01, `${trip!.distanceKm} km`);
  t.deepEqual(trip!.violations, []);
});

test('trip across midnight and two trips in a row: two records, distinct ids, both under P1', (t) => {
  const tr = cleanTrip('V1', local(23, 50));
  tr.drive(4000, 0, 30).drive(0, 0, 30);
  loadAt(tr).drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(r.events, []);
  const trips = completedTrips(r);
  t.is(trips.length, 2);
  t.not(trips[0]!.id, trips[1]!.id);
  t.true(trips[0]!.startTs < local(24) && trips[0]!.endTs > local(24), 'the first trip crosses midnight');
  t.true(trips[1]!.startTs > trips[0]!.endTs);
  t.deepEqual(
    trips.map((x) => [x.permit, x.compliant, x.disposalSite]),
    [
      ['P1', true, 'D1'],
      ['P1', true, 'D1'],
    ],
  );
});

test('trip with an off-route excursion and speeding: not compliant, both violations listed', (t) => {
  const tr = new Trk('V1', local(23), 0, 0, EMPTY);
  loadAt(tr).drive(1500, 0, 30).drive(1500, 300, 30).drive(2000, 300, 30).drive(2000, 0, 30);
  tr.roll(4, 55); // night limit 40 on the first leg
  tr.drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(codesOf(r), ['OFF_ROUTE', 'OVERSPEED']);
  const [trip] = completedTrips(r);
  t.false(trip!.compliant);
  t.is(trip!.violationCount, 2);
  t.deepEqual(trip!.violations.map((id) => id.split(':')[1]).sort(), ['OFF_ROUTE', 'OVERSPEED']);
  const or = ofCode(r.log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:updated', 'OFF_ROUTE:closed']);
  t.true(Math.abs(Number(or[2]!.event.violation.details.maxDeviationM) - 300) < 0.5);
});
