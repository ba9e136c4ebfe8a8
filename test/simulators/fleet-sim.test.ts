/**
 * The fleet simulator (issue 5): determinism, what ingest makes of its messages, the ground truth
 * against what was injected, and the rates of the per-trip twists. Scenario files:
 * scenario-file.test.ts; the `sim` command line: cli.test.ts.
 */
import test from 'ava';
import { decodeTelemetry } from '../../ingest/decode.ts';
import { mergeInjections, parseInjectSpec } from '../../simulators/faults/inject-spec.ts';
import { readScenario } from '../../simulators/scenario/file.ts';
import { FleetSim } from '../../simulators/scenario/fleet-sim.ts';
import type { SimMessage } from '../../simulators/scenario/fleet-types.ts';
import { buildWorld, unitOf } from '../../simulators/scenario/world.ts';
import { BASIC, FAULTS, FLEET, MIN, START } from '../support/simulators/scenario.ts';

async function simOf(file: string, seed: number, minutes: number, inject = '', noiseM = 15) {
  const scenario = await readScenario(file);
  const injections = mergeInjections(scenario.injections, parseInjectSpec(inject));
  const world = buildWorld(scenario, { startTs: START, durationMs: minutes * MIN, seed, injections });
  return new FleetSim(world, { seed, noiseM, injections });
}

const all = (sim: FleetSim): SimMessage[] => [...sim.messages()];

test('same seed, same messages byte for byte; another seed, other messages', async (t) => {
  const a = all(await simOf(BASIC, 5, 60, FAULTS));
  const b = all(await simOf(BASIC, 5, 60, FAULTS));
  t.true(a.length > 5000, `${a.length} messages`);
  t.is(JSON.stringify(a), JSON.stringify(b));
  const c = all(await simOf(BASIC, 6, 60, FAULTS));
  t.not(JSON.stringify(c), JSON.stringify(a));
  // every kind of message occurs, in send order
  t.deepEqual([...new Set(a.map((m) => m.kind))].sort(), ['duplicate', 'fix', 'late', 'malformed']);
  t.true(a.every((m, i) => i === 0 || m.ts >= a[i - 1]!.ts));
});

test('what ingest makes of the messages: fixes decode, malformed payloads are refused, late fixes are older', async (t) => {
  const sim = await simOf(BASIC, 2, 45, FAULTS);
  const devices = new Map(sim.world.devices.map((d) => [d.id, d]));
  const newest = new Map<string, number>();
  const counts: Record<string, number> = { fix: 0, duplicate: 0, late: 0, malformed: 0 };
  for (const m of sim.messages()) {
    const d = devices.get(m.device)!;
    const device = {
      id: d.id,
      kind: d.kind,
      unit: unitOf(d),
      firm: d.firm,
      reportIntervalS: 10,
      enabled: true,
    };
    const r = decodeTelemetry({ deviceId: d.id, payload: Buffer.from(m.payload), receivedMs: m.ts, device });
    counts[m.kind] = (counts[m.kind] ?? 0) + 1;
    if (m.kind === 'malformed') {
      t.is(r.fixes.length, 0, m.payload);
      continue;
    }
    t.deepEqual(r.rejections, [], m.payload);
    const fix = r.fixes[0]!;
    t.is(fix.vehicle, unitOf(d));
    if (m.kind === 'late') t.true(fix.ts < (newest.get(d.id) ?? 0));
    else if (m.kind === 'fix') newest.set(d.id, Math.max(newest.get(d.id) ?? 0, fix.ts));
  }
  t.true(
    Object.values(counts).every((n) => n > 0),
    JSON.stringify(counts),
  );
});

test('ground truth matches the injections: per vehicle, one violation of its type per trip, nothing on the clean ones', async (t) => {
  const sim = await simOf(BASIC, 1, 180);
  for (const _ of sim.messages());
  const truth = sim.groundTruth();
  const trips = sim.trips();
  const scenario = await readScenario(BASIC);
  const injected = new Map(scenario.injections.map((i) => [i.vehicle!, i.type]));
  t.is(injected.size, 12);
  t.deepEqual(
    trips.filter((r) => r.skipped),
    [],
    'every injection could be built on its haul',
  );
  for (const unit of new Set(sim.world.devices.map(unitOf))) {
    const mine = truth.filter((v) => v.vehicle === unit);
    const type = injected.get(unit);
    if (type === undefined) {
      t.deepEqual(mine, [], `${unit} drives clean`);
      continue;
    }
    const myTrips = trips.filter((r) => r.vehicle === unit);
    const completed = myTrips.slice(0, -1);
    t.true(completed.length >= 2, `${unit}: ${completed.length} complete trips in 3 h`);
    for (const trip of completed) {
      const found = mine.filter((v) => v.trip === trip.trip && v.type === type);
      t.true(found.every((v) => v.injected));
      // OFF_HOURS can be split by a stop of a minute or more at a red light; the others are one per trip
      if (type === 'OFF_HOURS') t.true(found.length >= 1, `${unit} trip ${trip.trip}`);
      else t.is(found.length, 1, `${unit} trip ${trip.trip}: ${type} x${found.length}`);
      if (type !== 'NO_PERMIT' && type !== 'OFF_HOURS') t.is(trip.twist?.type as string, type);
    }
    // nothing but the injected type (a TRACK_GAP's 6 min silence is under the 10 min OFFLINE allowance,
    // and the OFFLINE truck is parked through its silence: no TRACK_GAP)
    t.deepEqual(
      mine.filter((v) => v.type !== type),
      [],
      `${unit}: only ${type}`,
    );
  }
  // the thresholds hold in the truth: the figures the rule definitions ask for
  const of = (type: string) => truth.filter((v) => v.type === type && v.end !== undefined);
  for (const v of of('OVERSPEED'))
    t.true(v.end! - v.start >= 10_000 && Number(v.details.maxSpeedKmh) > Number(v.details.limitKmh));
  for (const v of of('SUSPECTED_DUMP')) t.true(v.end! - v.start > 5 * MIN);
  for (const v of of('OVERLOAD'))
    t.true(v.end! - v.start >= MIN && Number(v.details.maxWeightT) > Number(v.details.ratedLoadT));
  for (const v of of('TRACK_GAP')) t.true(Number(v.details.gapMs) > 5 * MIN);
  for (const v of of('OFFLINE')) t.true(Number(v.details.gapMs) > 10 * MIN);
  for (const v of of('OFF_ROUTE')) t.true(v.end! - v.start >= MIN);
});

test('rates: per-trip twists are drawn near their rates; vehicle-level ones change the permits', async (t) => {
  const sim = await simOf(FLEET, 3, 8 * 60, 'OFF_ROUTE:0.3,NO_PERMIT:0.25');
  for (const _ of sim.messages());
  const trips = sim.trips().filter((r) => r.vehicle.startsWith('veh-hf-'));
  const share = trips.filter((r) => r.twist?.type === 'OFF_ROUTE').length / trips.length;
  t.true(share > 0.2 && share < 0.4, `OFF_ROUTE on ${(share * 100).toFixed(0)} % of ${trips.length} trips`);
  const noPermit = [...sim.world.vehicleInjections]
    .filter(([, type]) => type === 'NO_PERMIT')
    .map(([v]) => v);
  t.true(noPermit.length >= 2, noPermit.join());
  for (const v of noPermit) t.false(sim.world.permits.some((p) => p.vehicles.includes(v)));
  const truth = sim.groundTruth();
  for (const v of noPermit)
    t.true(truth.some((x) => x.vehicle === v && x.type === 'NO_PERMIT' && x.injected));
});
