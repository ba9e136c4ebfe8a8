import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { verdict } from '../../../geofence/rules/confirm.ts';
import { completedTrips, phases, run, summary } from '../../support/rules/matrix/run.ts';
import { scenarios } from '../../support/rules/matrix/scenarios.ts';
import { EMPTY, FULL, fixAt, loadAt, Trk, tip } from '../../support/rules/matrix/tracks.ts';
import { P1, pt, snapshot, xyOf } from '../../support/rules/matrix/world.ts';
import { type Item, isFix, local } from '../../support/rules/track-kit.ts';

/*
 * Rule matrix, real sensor faults (issue 17): the fair rules for load-state flicker, weight glitches and
 * a permit revoked mid-trip, through the real engine with ALL_RULES and the trip tracker
 * (test/support/rules/matrix/world.ts: O1 -> R1 -> D1 permitted for V1 22:00-06:00; V2 has no permit; V3
 * reports weight only). A sensor change counts once it persisted `sensorConfirmMs` (60 s) or another
 * signal corroborated it (geofence/rules/confirm.ts); what returns sooner is a glitch, counted per
 * vehicle in the engine state (`state.load.gl`), never judged.
 */

const T = local(23, 10);
const SCENARIOS = scenarios();

test('confirm.verdict: back before the time is a glitch, persisted or corroborated is confirmed, else pending', (t) => {
  t.is(verdict(0, 30_000, false, false, 60_000), 'glitch');
  t.is(verdict(0, 30_000, true, false, 60_000), 'pending');
  t.is(verdict(0, 60_000, true, false, 60_000), 'confirmed');
  t.is(verdict(0, 10_000, true, true, 60_000), 'confirmed');
  // the first fix at or after the time decides: back there is not shown to persist
  t.is(verdict(0, 90_000, false, false, 60_000), 'glitch');
  t.is(verdict(0, 0, true, false, 0), 'confirmed', 'sensorConfirmMs 0: every change at once');
});

test('load full -> empty -> full for 20-30 s at 35 km/h, weight steady, lift down: no ILLEGAL_DUMP, one glitch counted', (t) => {
  for (const flickerS of [20, 30]) {
    const tr = new Trk('V1', T, 1200, 0, FULL).roll(4, 35);
    tr.roll(flickerS / 10, 35, 10_000, () => ({ load: 'empty' }));
    tr.roll(6, 35, 10_000, () => ({ load: 'full' }));
    const r = run(tr.fixes);
    t.deepEqual(summary(r.events), [], `${flickerS} s`);
    t.is(r.state.load.gl, 1, `${flickerS} s: the glitch is counted`);
  }
  // the same reading with the truck stopped, back within the minute: no unloading either
  const stopped = new Trk('V1', T, 2000, 0, FULL).stay(30_000);
  stopped.stay(40_000, 10_000, () => ({ load: 'empty' })).stay(40_000, 10_000, () => ({ load: 'full' }));
  stopped.roll(4, 30);
  const s = run(stopped.fixes);
  t.deepEqual(summary(s.events), []);
  t.is(s.state.load.gl, 1);
});

test('a weight glitch 24 t -> 2.5 t -> 24 t while moving opens no SPILLAGE (and no ILLEGAL_DUMP); a drop that stays is one', (t) => {
  const glitch = new Trk('V1', T, 1200, 0, { ...FULL, weight: 24 }).roll(4, 40);
  glitch.roll(1, 40, 10_000, () => ({ weight: 2.5 })).roll(8, 40, 10_000, () => ({ weight: 24 }));
  const g = run(glitch.fixes);
  t.deepEqual(summary(g.events), []);
  t.is(g.state.load.gl, 1);
  // the same reading 20 s down: still a glitch
  const longer = new Trk('V1', T, 1200, 0, { ...FULL, weight: 24 }).roll(4, 40);
  longer.roll(2, 40, 10_000, () => ({ weight: 2.5 })).roll(8, 40, 10_000, () => ({ weight: 24 }));
  t.deepEqual(run(longer.fixes).events, []);
  // reporting weight only (no load state, no lift): a glitch is not an unloading either, moving or stopped
  const v3 = new Trk('V1', T, 1200, 0, { weight: 24 }).roll(3, 40).stay(20_000);
  v3.stay(10_000, 10_000, () => ({ weight: 2.5 })).stay(30_000, 10_000, () => ({ weight: 24 }));
  v3.roll(3, 40);
  t.deepEqual(summary(run(v3.fixes).events), []);
  // 1.2 t lost and staying lost: SPILLAGE from the first fix 0.5 t down, raised a minute later
  const leak = new Trk('V1', T, 1200, 0, { ...FULL, weight: 24 }).roll(2, 40);
  leak.roll(4, 40, 10_000, (i) => ({ weight: 24 - 0.3 * i }));
  leak.roll(8, 40, 10_000, () => ({ weight: 22.8 })).stay(20_000);
  const l = run(leak.fixes);
  t.deepEqual(phases(l.events), ['SPILLAGE:opened', 'SPILLAGE:closed']);
  t.is(l.events[0]!.violation.startTs, leak.fixes[3]!.ts, '0.6 t down at the second fix of the leak');
  t.is(l.log[0]!.at, leak.fixes[9]!.ts);
  t.like(l.events[1]!.violation.details, { trigger: 'weight', weightDropT: 1.2 });
  t.is(l.state.load.gl, 0);
});

test('an empty truck whose load sensor reads full for 30 s while driving: no loading, no NO_PERMIT, no trip', (t) => {
  const tr = new Trk('V2', T, 1200, 0, EMPTY).roll(4, 35);
  tr.roll(3, 35, 10_000, () => ({ load: 'full' })).roll(8, 35, 10_000, () => ({ load: 'empty' }));
  const r = run(tr.fixes);
  t.deepEqual(summary(r.events), []);
  t.deepEqual(r.trips, []);
  t.is(r.state.load.gl, 1);
});

test('confirmation by persistence or corroboration: a real loading starts its trip at its onset; a stopped load -> empty with a 2 t weight drop is an unloading at once', (t) => {
  const tr = new Trk('V1', local(23), 0, 0, EMPTY);
  loadAt(tr);
  tr.drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  const r = run(tip(tr).fixes);
  const trips = completedTrips(r);
  t.is(trips.length, 1);
  // loadAt: after a 1 min wait the weight rises over 5 min; at its third fix the load state says half
  // and the weight is 2.76 t above the low: the load state's change, corroborated at once
  t.is(trips[0]!.startTs, local(23) + 60_000 + 30_000);
  t.is(trips[0]!.loadTrigger, 'load');
  t.is(trips[0]!.unloadTrigger, 'lift');
  t.is(r.state.load.gl, 0, 'a real trip counts no glitch');
  // outside every site, stopped: load empty and 4 t less at the same fix: ILLEGAL_DUMP at that fix
  const dump = new Trk('V1', T, 1900, 0, FULL).fix(10_000, 0, { x: 2000 }).stay(20_000);
  dump
    .fix(10_000, 0, { load: 'empty', weight: 24 })
    .roll(2, 20, 10_000, () => ({ load: 'empty', weight: 24 }));
  const d = run(dump.fixes);
  t.deepEqual(phases(d.events), ['ILLEGAL_DUMP:opened', 'ILLEGAL_DUMP:closed']);
  t.is(d.log[0]!.at, dump.fixes[3]!.ts, 'corroborated by the weight: raised at once');
  t.like(d.events[0]!.violation.details, { trigger: 'load', weightDropT: 4 });
});

/** moving fixes of a scenario whose 6 neighbours on each side move with the same load state */
function steadyMovingIndex(fixes: readonly Fix[], from: number): number | undefined {
  for (let i = Math.max(6, from); i + 8 < fixes.length; i++) {
    const window = fixes.slice(i - 6, i + 8);
    if (window.every((f) => (f.speed ?? 0) > 5 && f.load === fixes[i]!.load && f.lift !== 'up')) return i;
  }
  return undefined;
}

for (const s of SCENARIOS) {
  test(`flicker ${s.name}: a 20 s load-state flicker while driving changes no event, no trip; it is counted`, (t) => {
    const fixes = s.items.filter(isFix);
    const clean = run(s.items);
    let tried = 0;
    for (const from of [0.25, 0.5, 0.75]) {
      const i = steadyMovingIndex(fixes, Math.floor(fixes.length * from));
      if (i === undefined) continue;
      tried++;
      const flip = fixes[i]!.load === 'empty' ? 'full' : 'empty';
      const flickered: Item[] = s.items.map((item) =>
        isFix(item) && (item === fixes[i] || item === fixes[i + 1]) ? { ...item, load: flip } : item,
      );
      const r = run(flickered);
      t.deepEqual(r.events, clean.events, `at fix ${i}`);
      t.deepEqual(r.trips, clean.trips, `at fix ${i}`);
      t.is(r.state.load.gl, clean.state.load.gl + 1, `at fix ${i}`);
    }
    if (tried === 0) t.pass(`${s.name} has no steady moving stretch of 14 fixes`);
  });
}

test('NO_PERMIT on loaded movement: a permit revoked while the truck hauls, which drives on and unloads, is NO_PERMIT from the first loaded moving fix without it to the unloading', (t) => {
  const tr = new Trk('V1', local(23), 0, 0, EMPTY);
  loadAt(tr).drive(2000, 0, 30);
  const n = tr.fixes.length;
  tr.drive(4000, 0, 30).drive(4000, 3000, 30).stay(30_000);
  tip(tr);
  const revoked = compileWorld(snapshot({ permits: [] }));
  const items: Item[] = [...tr.fixes.slice(0, n), { world: revoked }, ...tr.fixes.slice(n)];
  const r = run(items);
  t.deepEqual(phases(r.events), ['NO_PERMIT:opened', 'NO_PERMIT:closed']);
  const v = r.events[1]!.violation;
  t.is(v.startTs, tr.fixes[n]!.ts, 'the first loaded moving fix judged without the permit');
  t.is(r.log[0]!.at, tr.fixes[n + 6]!.ts, 'raised after noPermitMovingMinMs of it');
  t.like(v.details, { trigger: 'moving', endReason: 'unloading' });
  t.deepEqual(v.thresholds, {
    dumpWeightDropT: 2,
    suspectedDumpSpeedKmh: 3,
    sensorConfirmMs: 60_000,
    offHoursSpeedKmh: 5,
    noPermitMovingMinMs: 60_000,
  });
  t.is(v.endTs, tr.fixes.find((f) => f.lift === 'up')!.ts, 'ends at the unloading');
  t.is(v.permit, undefined);
  // revoked while the truck is parked loaded, not moving on: nothing
  const parked = new Trk('V1', local(23), 0, 0, FULL).stay(30_000);
  const m = parked.fixes.length;
  parked.stay(600_000);
  t.deepEqual(run([...parked.fixes.slice(0, m), { world: revoked }, ...parked.fixes.slice(m)]).events, []);
});

test("NO_PERMIT after the last window ended: still hauling loaded at 06:10 the morning after the permit's last valid date (a night window counts for the date it started)", (t) => {
  const last = compileWorld(snapshot({ permits: [{ ...P1, validTo: '2026-11-10' }] }));
  // 05:50 on 11-11: inside the 22:00-06:00 window that began on 11-10 (covered); driving on past 06:00
  const tr = new Trk('V1', local(29, 50), 1200, 0, FULL);
  tr.roll(78, 10);
  const r = run(tr.fixes, { world: last });
  t.deepEqual(summary(r.events), [`NO_PERMIT:opened:${local(30)}-:L0`]);
  t.like(r.events[0]!.violation.details, { trigger: 'moving' });
  // with a permit valid on 11-11, the same drive after 06:00 is OFF_HOURS, not NO_PERMIT
  const valid = run(tr.fixes);
  t.deepEqual(
    valid.events.map((e) => e.violation.code),
    ['OFF_HOURS'],
  );
});

// ---------------------------------------------------------------------------------------------- outliers

/** an empty V1 driving east along y at 36 km/h (100 m per 10 s fix), from x0 */
function eastbound(t0: number, x0: number, y: number, n: number): Fix[] {
  return Array.from({ length: n }, (_, i) =>
    fixAt('V1', t0 + i * 10_000, x0 + i * 100, y, { ...EMPTY, speed: 36 }),
  );
}

test('a single multipath fix 100 m inside a restricted zone, ~200 km/h away from both neighbours, is an outlier: no RESTRICTED_ZONE, no TRACK_GAP, counted', (t) => {
  const D = local(12);
  // 450 m north of RZ2 (closed all day, y -1700..-1300); the stray fix 100 m inside its north edge
  const track = eastbound(D, -2200, -850, 12);
  const [sLon, sLat] = pt(-1600, -1400);
  const stray = { ...track[6]!, lon: sLon, lat: sLat };
  const fixes = [...track.slice(0, 6), stray, ...track.slice(7)];
  const r = run(fixes);
  t.deepEqual(summary(r.events), []);
  t.is(r.state.outliers, 1);
  t.is(r.state.held, undefined);
  // a second fix inside right after it agrees with it: the track really went there (judged, with the
  // jump to it as TRACK_GAP, and the zone entered: two fixes inside)
  const real = [...track.slice(0, 6), stray, { ...stray, ts: stray.ts + 10_000 }, ...track.slice(8)];
  const j = run(real);
  t.deepEqual([...new Set(j.events.map((e) => e.violation.code))].sort(), ['RESTRICTED_ZONE', 'TRACK_GAP']);
  t.is(j.state.outliers, 0);
});

test('outliers: a suspect is held until the next fix (ticks count it as heard); duplicates of it are skipped; two strays in a row both fall', (t) => {
  const D = local(12);
  const track = eastbound(D, 500, 2000, 10);
  const far = (f: Fix, dx: number): Fix => {
    const [lon, lat] = pt(500 + dx, 2800);
    return { ...f, lon, lat };
  };
  // the suspect at fix 5 (800 m off), its duplicate, and a tick 10 min after the last judged fix but
  // not after the suspect: silence counts from the suspect (heard), so no OFFLINE
  const suspect = far(track[5]!, 400);
  const held: Item[] = [...track.slice(0, 5), suspect, { ...suspect }];
  const h = run([...held, { tick: track[5]!.ts + 595_000 }]);
  t.deepEqual(h.events, []);
  t.deepEqual(summary(run([...track.slice(0, 5), { tick: track[5]!.ts + 595_000 }]).events), [
    `OFFLINE:opened:${track[4]!.ts + 600_000}-:L0`,
  ]);
  t.is(h.state.held?.ts, track[5]!.ts);
  t.is(h.state.skippedLate, 1, 'a duplicate of the held fix');
  // two strays in a row, each implausible from everything: both outliers, the track goes on
  const two = [...track.slice(0, 5), far(track[5]!, 400), far(track[6]!, -1500), ...track.slice(7)];
  const r = run(two);
  t.deepEqual(r.events, []);
  t.is(r.state.outliers, 2);
});

/** a stray fix 600 m off, inserted between fixes i and i + 1 */
function withStray(items: readonly Item[], fixes: readonly Fix[], i: number): Item[] {
  const a = fixes[i]!;
  const b = fixes[i + 1]!;
  const [x, y] = xyOf(a);
  const [lon, lat] = pt(x, y + 600);
  const stray: Fix = { ...a, ts: Math.round((a.ts + b.ts) / 2), lon, lat };
  const out: Item[] = [];
  for (const item of items) {
    out.push(item);
    if (item === a) out.push(stray);
  }
  return out;
}

for (const s of SCENARIOS) {
  test(`multipath ${s.name}: one stray fix 600 m off while driving changes no event, no trip; it is counted`, (t) => {
    const fixes = s.items.filter(isFix);
    const clean = run(s.items);
    let tried = 0;
    for (const from of [0.3, 0.6]) {
      const i = steadyMovingIndex(fixes, Math.floor(fixes.length * from));
      if (i === undefined) continue;
      tried++;
      const r = run(withStray(s.items, fixes, i));
      t.deepEqual(r.events, clean.events, `after fix ${i}`);
      t.deepEqual(r.trips, clean.trips, `after fix ${i}`);
      t.is(r.state.outliers, clean.state.outliers + 1, `after fix ${i}`);
    }
    if (tried === 0) t.pass(`${s.name} has no steady moving stretch of 14 fixes`);
  });
}
