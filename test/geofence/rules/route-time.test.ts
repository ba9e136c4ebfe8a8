import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { mixedTrip, NIGHT, phases, run, track } from '../../support/rules/route-time.ts';
import { type Item, prng } from '../../support/rules/track-kit.ts';

test('duplicates and out-of-order fixes are skipped: same events, no duplicate events', (t) => {
  const clean = mixedTrip();
  const rand = prng(99);
  const messy: Fix[] = [];
  for (let i = 0; i < clean.length; i++) {
    messy.push(clean[i]!);
    if (rand() < 0.2) messy.push({ ...clean[i]! }); // duplicate
    if (i > 5 && rand() < 0.15) messy.push({ ...clean[i - 1 - Math.floor(rand() * 5)]!, late: true }); // late
  }
  const a = run(clean);
  const b = run(messy);
  t.true(a.events.length > 4, `the trip produces violations (${phases(a.log).join(', ')})`);
  t.deepEqual(b.events, a.events);
  t.true(b.state.skippedLate > 0);
  const keys = b.events.map(
    (e) => `${e.violation.id}:${e.phase}:${e.violation.level}:${JSON.stringify(e.violation.details)}`,
  );
  t.is(new Set(keys).size, keys.length, 'no event twice');
  const openedIds = b.events.filter((e) => e.phase === 'opened').map((e) => e.violation.id);
  t.is(new Set(openedIds).size, openedIds.length, 'each violation opened once');
  const closedIds = b.events.filter((e) => e.phase === 'closed').map((e) => e.violation.id);
  t.is(new Set(closedIds).size, closedIds.length, 'each violation closed once');
});

test('replay determinism: the same fixes give deep-equal, byte-equal event lists', (t) => {
  const items: Item[] = [...mixedTrip()];
  items.splice(150, 0, { tick: (items[149] as Fix).ts + 660_000 });
  const a = run(items);
  const b = run(items.map((x) => ('ts' in x ? { ...x } : x)));
  t.deepEqual(b.events, a.events);
  t.is(JSON.stringify(b.events), JSON.stringify(a.events));
  t.deepEqual(b.state, a.state);
  const codes = new Set(a.events.map((e) => e.violation.code));
  for (const c of ['OFF_ROUTE', 'OFF_HOURS', 'OVERSPEED', 'TRACK_GAP', 'OFFLINE'])
    t.true(codes.has(c as never), c);
});

test('per-vehicle state of these rules stays small (JSON < 1 KiB with nothing open)', (t) => {
  const { state } = run(track(NIGHT, 50, { step: 60 }));
  t.true(JSON.stringify(state.slices).length < 1024, JSON.stringify(state.slices));
});
