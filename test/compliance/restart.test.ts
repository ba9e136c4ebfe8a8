/**
 * Engine state across a restart (issue 3): the compliance shell saves every vehicle's engine and trip
 * state in DATA_DIR/compliance-state.sqlite, so a violation opened before a stop is closed (same id)
 * by the fixes after the start, and a trip loaded before the stop completes after it.
 *
 * The first test guards the assumption the saving rests on: the engine state is plain JSON data. It
 * judges the demo scenario fleet twice, once keeping the states in memory and once passing them through
 * JSON after every fix and tick (what a restart does), and requires the same events byte for byte.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {
  decodeTripState,
  decodeVehicleState,
  encodeState,
  engineFingerprint,
} from '../../compliance/engine-state-codec.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine, type VehicleState } from '../../geofence/engine.ts';
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { initialTrips, stepTrips, type TripEvent, type TripState, tripInput } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import type { Device, NewDevice } from '../../registry/types.ts';
import {
  DEMO_COMPLIANCE_IDS,
  demoComplianceSeed,
  demoVehicleProfiles,
} from '../../simulators/demo/compliance.ts';
import { demoScenarioFleet, generateScenarioFixes } from '../../simulators/demo/scenario-trucks.ts';
import { type HaulWorld, M_PER_DEG_LAT, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import { adminGet, eventually, startTestPlatform, type TestPlatform } from '../support/platform.ts';

// ---------------------------------------------------------------------------------------------------
// The engine state survives JSON

test('the engine and trip states survive a JSON round trip after every fix: same events, byte for byte', (t) => {
  const start = Date.UTC(2025, 5, 2, 0, 0, 0); // 08:00 in Hefei
  const durationMs = 90 * 60_000;
  const seed = demoComplianceSeed(start);
  const world = compileWorld({
    ...seed,
    vehicles: demoVehicleProfiles(),
    thresholds: { id: DEMO_COMPLIANCE_IDS.thresholds, version: 1, values: DEFAULT_THRESHOLDS },
  });
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const fleet = demoScenarioFleet();
  const devices = new Map<string, NewDevice>(fleet.devices.map((d) => [d.id, d]));
  const messages = generateScenarioFixes({ seed: 1, startTs: start, durationMs, devices: fleet.devices });

  const run = (roundTrip: boolean): string[] => {
    const states = new Map<string, VehicleState>();
    const trips = new Map<string, TripState>();
    const out: string[] = [];
    const keep = (unit: string, s: VehicleState, tr: TripState | undefined) => {
      states.set(unit, roundTrip ? decodeVehicleState(encodeState(s)) : s);
      if (tr) trips.set(unit, roundTrip ? decodeTripState(encodeState(tr)) : tr);
    };
    let tick = start;
    const tickAll = (now: number) => {
      for (const [unit, s] of states) {
        const r = engine.tick(s, now, world);
        for (const e of r.events) out.push(canonicalJson(e));
        keep(unit, r.state, undefined);
      }
    };
    for (const m of messages) {
      while (tick + 5_000 < m.ts) {
        tick += 5_000;
        tickAll(tick);
      }
      const d = devices.get(m.device)!;
      const device: Device = {
        id: d.id,
        kind: d.kind,
        unit: d.vehicle ?? d.id,
        firm: d.firm,
        reportIntervalS: d.reportIntervalS ?? 10,
        enabled: true,
      };
      const fix = normalizeFix(m.payload, device, m.ts);
      const r = engine.step(states.get(device.unit) ?? engine.initial(device.unit), fix, world);
      let tr: TripState | undefined;
      const tripEvents: TripEvent[] = [];
      if (fix.kind === 'muck_truck') {
        // the fixes the engine judged, with the facts it found at each (its load transition among them)
        tr = trips.get(device.unit) ?? initialTrips();
        for (let i = 0; i < r.judged.length; i++) {
          const last = i === r.judged.length - 1;
          const step = stepTrips(tr, tripInput(r.judged[i]!, r.facts[i]!, world), last ? r.events : []);
          tr = step.state;
          tripEvents.push(...step.events);
        }
      }
      keep(device.unit, r.state, tr);
      for (const e of r.events) out.push(canonicalJson(e));
      for (const e of tripEvents) out.push(canonicalJson(e));
    }
    tickAll(start + durationMs);
    return out;
  };

  const inMemory = run(false);
  const throughJson = run(true);
  // the scenarios must exercise the rules, or the comparison proves nothing
  const codes = new Set(
    inMemory
      .map((s) => JSON.parse(s) as ViolationEvent | TripEvent)
      .flatMap((e) => ('violation' in e ? [e.violation.code] : [])),
  );
  t.true(codes.size >= 5, `violation codes seen: ${[...codes].join(', ')}`);
  t.true(
    inMemory.some((s) => s.includes('"kind":"completed"')),
    'at least one trip completed',
  );
  t.deepEqual(throughJson, inMemory);
});

test('the fingerprint names the engine: the same rules give the same one, another rule list another', (t) => {
  const a = engineFingerprint(createEngine(ALL_RULES, chinaCalendar));
  t.is(engineFingerprint(createEngine(ALL_RULES, chinaCalendar)), a);
  t.not(engineFingerprint(createEngine(ALL_RULES.slice(1), chinaCalendar)), a);
  const bumped = ALL_RULES.map((r, i) => (i === 0 ? { ...r, version: r.version + 1 } : r));
  t.not(engineFingerprint(createEngine(bumped, chinaCalendar)), a);
});

// ---------------------------------------------------------------------------------------------------
// The platform, stopped and started again on the same DATA_DIR

const SERVICE_PASSWORD = 'service-password-for-restart-tests';
const FIRM = 'firm-restart';
const VEHICLE = 'veh-restart-1';
const DEVICE = 'dev-restart-1';
const SECRET = 'secret-restart-1';
const LAT = 31.83;
const ORIGIN_LON = 117.2;
const DISPOSAL_LON = 117.23;

/** A permit for one truck: load at the origin, drive the route east, tip at the disposal site. */
const WORLD: HaulWorld = {
  firm: FIRM,
  firmName: '重启测试运输公司',
  vehicle: VEHICLE,
  plate: '皖A·R0001',
  device: DEVICE,
  secret: SECRET,
  origin: { id: 'site-r-origin', name: '重启工地' },
  disposal: { id: 'site-r-disposal', name: '重启消纳场' },
  route: { id: 'route-r', name: '重启线路' },
  permit: 'permit-r',
  lat: LAT,
  originLon: ORIGIN_LON,
  disposalLon: DISPOSAL_LON,
};

/**
 * The haul, one fix every 10 s: 0 empty at the origin, 1 loaded there (the trip starts), 2-5 east on
 * the route, 6-10 300 m north of it (OFF_ROUTE opens at the third), 11-38 back on the route to the
 * disposal site, 39 stopped and tipping inside it (the trip completes).
 */
function haulFix(t0: number, i: number): Record<string, unknown> {
  const lon = Math.min(DISPOSAL_LON, ORIGIN_LON + Math.max(0, i - 1) * 0.0008);
  const off = i >= 6 && i <= 10;
  const tipping = i >= 39;
  return {
    ts: t0 + i * 10_000,
    lat: off ? LAT + 300 / M_PER_DEG_LAT : LAT,
    lon,
    speed: i <= 1 || tipping ? 0 : 29,
    load: i === 0 || tipping ? 'empty' : 'full',
    // the load state and the weight agree: a loading confirmed at once (geofence/rules/confirm.ts)
    weight: i === 0 || tipping ? 0.4 : 16,
    lift: tipping ? 'up' : 'down',
    cover: 'closed',
  };
}

function publishHaul(tp: TestPlatform, t0: number, from: number, to: number): Promise<void> {
  const fixes = Array.from({ length: to - from + 1 }, (_, k) => haulFix(t0, from + k));
  return publishFixes(tp.mqttUrl, WORLD, fixes);
}

test.serial(
  'stop with OFF_ROUTE open and a trip loaded, start again: the same violation closes, the trip completes',
  async (t) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-restart-'));
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, SERVICE_PASSWORD };
    const t0 = Date.now() - 10 * 60_000;

    const first = await startTestPlatform(env);
    let firstStopped = false;
    t.teardown(() => (firstStopped ? undefined : first.stop()));
    await seedHaulWorld(first.platform, WORLD);
    await publishHaul(first, t0, 0, 10);
    const open = await eventually(async () => {
      const res = await adminGet(first, `/api/v1/violations?vehicle=${VEHICLE}&code=OFF_ROUTE`);
      return res.body.items?.length === 1 && res.body.items[0].endTs === undefined
        ? res.body.items[0]
        : undefined;
    }, 'an open OFF_ROUTE violation before the stop');
    t.is(open.startTs, t0 + 6 * 10_000);
    const started = await eventually(async () => {
      const res = await adminGet(first, `/api/v1/trips?vehicle=${VEHICLE}`);
      return res.body.items?.length === 1 ? res.body.items[0] : undefined;
    }, 'the started trip before the stop');
    t.is(started.status, 'started');
    t.is(started.startTs, t0 + 10_000);
    await first.stop();
    firstStopped = true;

    const second = await startTestPlatform(env);
    t.teardown(() => second.stop());
    t.is(second.platform.complianceService.status().vehicles, 1, 'the truck state was restored');
    await publishHaul(second, t0, 11, 40);

    // listed whatever its phase: a second violation opened after the restart would show here too
    const closed = await eventually(async () => {
      const res = await adminGet(second, `/api/v1/violations?vehicle=${VEHICLE}&code=OFF_ROUTE`);
      const items = res.body.items ?? [];
      return items.some((v: { endTs?: number }) => v.endTs !== undefined) ? items[0] : undefined;
    }, 'the OFF_ROUTE violation closed after the restart');
    t.is(closed.id, open.id, 'the violation opened before the stop is the one closed');
    t.is(closed.endTs, t0 + 11 * 10_000);
    const all = await adminGet(second, `/api/v1/violations?vehicle=${VEHICLE}&code=OFF_ROUTE`);
    t.is(all.body.items.length, 1, 'no second OFF_ROUTE violation was opened');
    const detail = await adminGet(second, `/api/v1/violations/${encodeURIComponent(open.id)}`);
    t.deepEqual(
      detail.body.phases.map((p: { phase: string }) => p.phase),
      ['opened', 'closed'],
    );

    const trip = await eventually(async () => {
      const res = await adminGet(second, `/api/v1/trips?vehicle=${VEHICLE}`);
      const items = res.body.items ?? [];
      return items.some((i: { status: string }) => i.status === 'completed') ? items : undefined;
    }, 'the trip completed after the restart');
    t.is(trip.length, 1, 'one trip, not one per run');
    t.is(trip[0].id, started.id);
    t.is(trip[0].disposalSite, 'site-r-disposal');
    t.false(trip[0].compliant, 'the off-route stretch before the stop counts against the trip');
    t.true((trip[0].violations as string[]).includes(open.id));

    // the evidence of the violation spans both runs: fixes before the stop and after the start
    const pkg = await eventually(async () => {
      const res = await adminGet(second, `/api/v1/violations/${encodeURIComponent(open.id)}/evidence`);
      return res.status === 200 ? (res.body as EvidencePackage) : undefined;
    }, 'the evidence package after the restart');
    t.true(verifyEvidence(pkg));
    const ts = pkg.fixes.map((f) => (f as { ts: number }).ts);
    t.true(
      ts.includes(open.startTs) && ts.includes(t0 + 11 * 10_000),
      'track from before and after the stop',
    );
  },
);
