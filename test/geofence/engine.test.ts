import test from 'ava';
import { type Fix, UNIT_KINDS } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { VIOLATION_CODES } from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';

test('the registry holds a rule for every violation code, and one per code for each unit kind', (t) => {
  t.deepEqual([...new Set(ALL_RULES.map((r) => r.code))].sort(), [...VIOLATION_CODES].sort());
  // OFFLINE has two modules for body cameras: ignition/permit hours (offline.ts) and duty
  // (duty-offline.ts), disjoint by condition (duty-offline leaves an ignition-on silence to offline.ts)
  for (const kind of UNIT_KINDS) {
    const codes = ALL_RULES.filter((r) => r.appliesTo === undefined || r.appliesTo.includes(kind)).map(
      (r) => r.code,
    );
    const extra = kind === 'body_camera' ? 1 : 0;
    t.is(new Set(codes).size + extra, codes.length, `${kind}: ${codes.join(', ')}`);
  }
});

test('all rules together: late and duplicate fixes do not move state; state stays under 1 KiB per idle vehicle', (t) => {
  const world = compileWorld({
    sites: [],
    routes: [],
    zones: [],
    permits: [],
    vehicles: [{ id: 'v', version: 1, firm: 'f', kind: 'muck_truck', reportIntervalS: 10 }],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
  });
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const t0 = Date.UTC(2026, 10, 20, 2, 0, 0);
  const fix = (i: number): Fix => ({
    vehicle: 'v',
    device: 'd',
    kind: 'muck_truck',
    firm: 'f',
    ts: t0 + i * 10_000,
    received: t0 + i * 10_000,
    lat: 31.82 + i * 0.0002,
    lon: 117.23,
    speed: 30,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    load: 'empty',
  });
  let state = engine.initial('v');
  for (let i = 0; i < 20; i++) state = engine.step(state, fix(i), world).state;
  const before = JSON.stringify(state);
  const dup = engine.step(state, fix(19), world);
  const late = engine.step(dup.state, fix(5), world);
  t.deepEqual(late.events, []);
  t.is(late.state.skippedLate, 2);
  t.is(JSON.stringify({ ...late.state, skippedLate: 0 }), before);
  t.true(Buffer.byteLength(before) < 1024, `${Buffer.byteLength(before)} bytes of JSON state`);
});
