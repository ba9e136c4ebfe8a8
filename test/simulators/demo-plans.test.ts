/**
 * The demo city's plans (issue 15 item 6, simulators/demo/plans.ts) against the REAL engine: the demo's
 * sweeper, collection truck and three body cameras driven by demoPlanBehaviourFor() for 3 h, judged fix by
 * fix with silence ticks every 5 s against the demo plans, raise the sanitation and camera violations the
 * demo is there to show, each on the unit meant to break it, and nothing else of those codes.
 */
import test from 'ava';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { PLAN_VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import type { Device } from '../../registry/types.ts';
import {
  DEMO_COMPLIANCE_IDS,
  demoComplianceSeed,
  demoVehicleProfiles,
} from '../../simulators/demo/compliance.ts';
import { createDeviceSims } from '../../simulators/demo/device-sim.ts';
import { DEMO_PLAN_IDS, demoPlanBehaviourFor, demoPlansSeed } from '../../simulators/demo/plans.ts';
import { demoRegistrySeed } from '../../simulators/demo/registry.ts';

const START = Date.UTC(2025, 5, 2, 0, 0, 0); // 08:00 in Hefei
const END = START + 3 * 3_600_000;
const plans = demoPlansSeed();
const world = compileWorld({
  ...demoComplianceSeed(START),
  ...plans,
  vehicles: demoVehicleProfiles(),
  thresholds: { id: DEMO_COMPLIANCE_IDS.thresholds, version: 1, values: DEFAULT_THRESHOLDS },
});
const engine = createEngine(ALL_RULES, chinaCalendar);
const devices = demoRegistrySeed().devices.filter((d) => d.kind !== 'muck_truck');

function judge(start: number, end: number): Map<string, ViolationEvent[]> {
  const sims = createDeviceSims(devices, {
    seed: 1,
    startTs: start,
    behaviourFor: demoPlanBehaviourFor(start),
  });
  const out = new Map<string, ViolationEvent[]>();
  sims.forEach((sim, i) => {
    const d = devices[i]!;
    const device: Device = {
      id: d.id,
      kind: d.kind,
      unit: d.vehicle ?? d.id,
      firm: d.firm,
      reportIntervalS: d.reportIntervalS ?? 10,
      enabled: true,
      ...(d.officer ? { officer: d.officer } : {}),
    };
    let state = engine.initial(device.unit);
    const events: ViolationEvent[] = [];
    let tick = start;
    const advance = (to: number) => {
      while (tick + 5_000 <= to) {
        tick += 5_000;
        const r = engine.tick(state, tick, world);
        state = r.state;
        events.push(...r.events);
      }
    };
    while (sim.nextTs <= end) {
      const m = sim.next();
      if (m.silent === true) continue;
      advance(m.ts - 1);
      const r = engine.step(state, normalizeFix(m.payload, device, m.ts), world);
      state = r.state;
      events.push(...r.events);
    }
    advance(end);
    out.set(device.unit, events);
  });
  return out;
}

const judged = judge(START, END);
const opened = (unit: string) => (judged.get(unit) ?? []).filter((e) => e.phase === 'opened');

const EXPECTED: Record<string, ViolationCode[]> = {
  'veh-h0621': ['SWEEP_OVERSPEED', 'OUT_OF_AREA', 'SWEEP_COVERAGE'],
  'veh-h0622': ['LATE_COLLECTION', 'MISSED_COLLECTION'],
  'cam-sc-0001': ['NOT_RECORDING', 'SOS'],
  'cam-sc-0002': ['OUT_OF_GRID', 'LOW_BATTERY'],
  'cam-sc-0003': ['LOW_STORAGE', 'OFFLINE'],
};

test('the demo plans: a sweep plan, three collection points, three duty grids with a station each, daily windows', (t) => {
  t.deepEqual(
    plans.collectionPoints.map((p) => p.id),
    [...DEMO_PLAN_IDS.collectionPoints],
  );
  t.is(plans.sweepPlans.length, 1);
  t.is(plans.dutyPlans.length, 3);
  t.is(plans.uploadStations.length, 3);
  for (const p of [...plans.sweepPlans, ...plans.collectionPoints, ...plans.dutyPlans])
    t.is(p.windows.length, 24, `${p.id}: one window an hour, the registry's most`);
});

test('3 h of the demo: each sanitation vehicle and camera raises the violations it is there to show', (t) => {
  for (const [unit, codes] of Object.entries(EXPECTED)) {
    const seen = new Set(opened(unit).map((e) => e.violation.code));
    for (const code of codes) t.true(seen.has(code), `${unit}: ${code} (seen: ${[...seen].join(', ')})`);
  }
});

test('3 h of the demo: no sanitation or camera violation on a unit not meant to break that rule', (t) => {
  for (const [unit, codes] of Object.entries(EXPECTED)) {
    const wrong = opened(unit)
      .map((e) => e.violation)
      .filter((v) => (PLAN_VIOLATION_CODES as readonly string[]).includes(v.code) && !codes.includes(v.code))
      .map(
        (v) => `${v.code} at +${((v.startTs - START) / 60_000).toFixed(1)} min ${JSON.stringify(v.details)}`,
      );
    t.deepEqual(wrong, [], unit);
  }
});

test('the first of them comes within 30 min of the start (a sped-up demo replays 2 h first)', (t) => {
  const first = Math.min(
    ...Object.keys(EXPECTED).flatMap((u) =>
      opened(u).map((e) => e.violation.detectedTs ?? e.violation.startTs),
    ),
  );
  t.true(first - START <= 30 * 60_000, `first at +${((first - START) / 60_000).toFixed(1)} min`);
});

test('a demo started in the middle of a shift breaks the rules in the time left of it', (t) => {
  // 08:35: the officers' shift began at 08:00 and ends at 08:50; cam-sc-0001's recording pause comes
  // in the 15 min left (placed from the shift's start, it would have been over before the demo began)
  const start = START + 35 * 60_000;
  const shiftEnd = START + 50 * 60_000;
  const late = judge(start, shiftEnd);
  const codes = (late.get('cam-sc-0001') ?? [])
    .filter((e) => e.phase === 'opened' && e.violation.startTs < shiftEnd)
    .map((e) => e.violation.code);
  t.true(codes.includes('NOT_RECORDING'), codes.join(', '));
});
