import test from 'ava';
import { LiveUnits } from '../../dispatch/live-units.ts';
import { UnitIndex } from '../../geofence/geo/unit-index.ts';
import { PLAN_WORLD, uf } from '../support/plans-matrix.ts';
import { pt } from '../support/rules/matrix/world.ts';
import { local, prng } from '../support/rules/track-kit.ts';

/** Nearest-unit dispatch: the live grid index against a scan, and availability (online, on duty). */

test("the k nearest from the grid are exactly the scan's, for random units, moves and filters", (t) => {
  const rnd = prng(7);
  const index = new UnitIndex<{ kind: number }>(31.82, 500);
  // kind 0 in a 2 km cluster (queries far from it read its near edge), kinds 1 and 2 over 50 x 45 km
  const place = (i: number) =>
    i % 3 === 0
      ? index.upsert(`u${i}`, 117.2 + rnd() * 0.02, 31.8 + rnd() * 0.02, { kind: 0 })
      : index.upsert(`u${i}`, 117.0 + rnd() * 0.5, 31.6 + rnd() * 0.4, { kind: i % 3 });
  for (let i = 0; i < 5000; i++) place(i);
  for (let i = 0; i < 2000; i++) place(Math.floor(rnd() * 5000)); // moves
  for (let i = 0; i < 100; i++) index.remove(`u${i * 7}`);
  t.is(index.size, 4900);
  for (let q = 0; q < 300; q++) {
    const lon = 116.95 + rnd() * 0.6;
    const lat = 31.55 + rnd() * 0.5;
    const k = 1 + Math.floor(rnd() * 20);
    const only = q % 3;
    const accept = q % 2 === 0 ? undefined : (u: { data: { kind: number } }) => u.data.kind === only;
    const maxM = q % 5 === 0 ? 3000 : Infinity;
    const grid = index.nearest(lon, lat, k, accept, maxM).map((n) => [n.unit.id, n.distanceM]);
    const scan = index.scan(lon, lat, k, accept, maxM).map((n) => [n.unit.id, n.distanceM]);
    t.deepEqual(grid, scan, `query ${q}`);
  }
});

test('LiveUnits: nearest by kind with distance and ETA; available = online and on duty', (t) => {
  let now = local(9);
  const units = new LiveUnits({ world: () => PLAN_WORLD, now: () => now, intervalS: () => 15 });
  // C1 on duty (DP1) at the grid centre, walking; C3 off duty 100 m away, still; S1 far away
  units.onFixes([
    uf('C1', now - 30_000, 0, -3000, { speed: 6, recording: true }),
    uf('C3', now - 30_000, 100, -3000, { speed: 0, recording: true }),
    uf('S1', now - 30_000, 0, 1000, { speed: 30 }),
  ]);
  const at = pt(500, -3000); // on the grid's east edge: C3 400 m, C1 500 m
  const all = units.nearest({ lon: at[0], lat: at[1], limit: 5, available: false, kind: 'body_camera' });
  t.deepEqual(
    all.map((u) => u.unit),
    ['C3', 'C1'],
  );
  t.true(Math.abs(all[1]!.distanceM - 500) < 3, String(all[1]!.distanceM));
  t.is(all[1]!.etaS, Math.round(all[1]!.distanceM / (6 / 3.6)));
  t.is(all[0]!.etaS, Math.round(all[0]!.distanceM / (5 / 3.6)), 'a still officer walks at 5 km/h');
  const avail = units.nearest({ lon: at[0], lat: at[1], limit: 5, available: true });
  t.deepEqual(
    avail.map((u) => u.unit),
    ['C1'],
    'C3 has no duty plan; S1 has plans but is outside their windows at 09:00',
  );
  now = local(6, 0, 20); // S1's sweeping shift
  t.deepEqual(
    units
      .nearest({ lon: at[0], lat: at[1], limit: 5, available: true, kind: 'sanitation' })
      .map((u) => u.unit),
    ['S1'],
  );
  now = local(9);
  // silent for 11 min: offline, so not available
  now += 11 * 60_000;
  t.deepEqual(units.nearest({ lon: at[0], lat: at[1], limit: 5, available: true }), []);
  // a late fix does not move a unit back
  units.onFixes([uf('C1', now - 20 * 60_000, 500, -3000, { speed: 6 })]);
  t.is(units.get('C1')!.lon, uf('C1', 0, 0, -3000).lon);
});
