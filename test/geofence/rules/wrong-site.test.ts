/**
 * WRONG_SITE (geofence/rules/wrong-site.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import {
  BASE,
  completed,
  EMPTY,
  loadAtOrigin,
  of,
  phases,
  run,
  Track,
  tip,
} from '../../support/rules/load.ts';
import {
  completedTrips,
  phases as phasesMatrixLoad,
  refsOf,
  run as runMatrixLoad,
} from '../../support/rules/matrix/run.ts';
import {
  EMPTY as EMPTYMatrixLoad,
  FULL,
  loadAt,
  Trk,
  tip as tipMatrixLoad,
} from '../../support/rules/matrix/tracks.ts';
import { D1, snapshot } from '../../support/rules/matrix/world.ts';
import { D3, T, tipAt, WITH_D3 } from '../../support/rules/matrix-load.ts';

// ---------------------------------------------------------------------------------------------------
// WRONG_SITE
// ---------------------------------------------------------------------------------------------------

test('WRONG_SITE: unloading inside a disposal site the permit does not name (not ILLEGAL_DUMP)', (t) => {
  const tr = new Track('V1', BASE, 0, 0, EMPTY, 8);
  loadAtOrigin(tr);
  tr.drive(3000, 2000, 40);
  tr.stay(30_000);
  const liftTs = tr.t + 10_000;
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(of(r, 'ILLEGAL_DUMP'), []);
  const evs = of(r, 'WRONG_SITE');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const v = evs[1]!.violation;
  t.is(v.startTs, liftTs);
  t.is(v.durationMs, 0);
  t.is(v.details.action, 'unloading');
  t.is(v.details.site, 'D2');
  t.true(v.refs.some((x) => x.kind === 'site' && x.id === 'D2' && x.version === 5));
  t.true(v.refs.some((x) => x.kind === 'permit' && x.id === 'P1' && x.version === 4));
  const trip = completed(r)[0]!;
  t.is(trip.disposalSite, 'D2');
  t.false(trip.compliant);
});

test('WRONG_SITE: loading inside an origin site the permit does not name', (t) => {
  const tr = new Track('V1', BASE, -2000, 1500, EMPTY, 9);
  loadAtOrigin(tr);
  tr.drive(0, 0, 40);
  const r = run(tr.fixes);
  const evs = of(r, 'WRONG_SITE');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  t.is(evs[0]!.violation.details.action, 'loading');
  t.is(evs[0]!.violation.details.site, 'O2');
  t.true(evs[0]!.violation.refs.some((x) => x.kind === 'site' && x.id === 'O2' && x.version === 1));
  t.deepEqual(of(r, 'NO_PERMIT'), []);
  const started = r.trips[0]!;
  t.is(started.kind, 'started');
  t.is(started.trip.originSite, 'O2');
});

test('WRONG_SITE next to the permitted site: 10 m from D1 is the benefit of the doubt, 50 m is D3', (t) => {
  t.deepEqual(runMatrixLoad(tipAt(4000, 2840), { world: WITH_D3 }).events, []);
  const r = runMatrixLoad(tipAt(4000, 2800), { world: WITH_D3 });
  t.deepEqual(phasesMatrixLoad(r.events), ['WRONG_SITE:opened', 'WRONG_SITE:closed']);
  t.like(r.events[0]!.violation.details, {
    action: 'unloading',
    trigger: 'lift',
    site: 'D3',
    siteKind: 'disposal',
  });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'site:D3@1', 'thresholds:city@1']);
  // D3 drawn over D1: the position is inside a named site, nothing to say
  const overlap = compileWorld(snapshot({ sites: [...snapshot().sites, { ...D3, polygons: D1.polygons }] }));
  t.deepEqual(runMatrixLoad(tipAt(4000, 3000), { world: overlap }).events, []);
});

test('WRONG_SITE: a transition on an invalid fix is consumed; a wrong-origin trip completes as non-compliant', (t) => {
  const tr = new Trk('V1', T, 4000, 1500, FULL).stay(20_000);
  tr.fix(10_000, 0, { lift: 'up', valid: false })
    .fix(10_000, 0, { load: 'empty', weight: 0.5 })
    .fix(10_000, 0, { lift: 'down' });
  t.deepEqual(runMatrixLoad(tr.fixes).events, []);
  // load in O2 (not on the permit), then the permitted route to D1 and tip there
  const trip = new Trk('V1', T, 1000, 0, EMPTYMatrixLoad);
  loadAt(trip).drive(4000, 0, 30).drive(4000, 3000, 30).stay(30_000);
  tipMatrixLoad(trip);
  const r = runMatrixLoad(trip.fixes);
  t.deepEqual(phasesMatrixLoad(r.events), ['WRONG_SITE:opened', 'WRONG_SITE:closed']);
  const [done] = completedTrips(r);
  t.like(done, { originSite: 'O2', disposalSite: 'D1', permit: 'P1', compliant: false, violationCount: 1 });
  t.deepEqual(done!.violations, [r.events[0]!.violation.id]);
});
