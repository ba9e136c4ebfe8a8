/**
 * The world and helpers of the backfill tests (test/geofence/backfill*.test.ts).
 */

import type { Fix } from '../../../core/fix.ts';
import { chinaCalendar } from '../../../geofence/calendar.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { createEngine } from '../../../geofence/engine.ts';
import { createJudge } from '../../../geofence/judge.ts';
import { ALL_RULES } from '../../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import type { World } from '../../../geofence/types.ts';
import { decodeTelemetry } from '../../../ingest/decode.ts';
import { normalizeFix } from '../../../ingest/normalize.ts';
import type { Device } from '../../../registry/types.ts';
import { loadWorld } from '../../../simulators/cli/common.ts';
import {
  DEMO_COMPLIANCE_IDS,
  demoComplianceSeed,
  demoVehicleProfiles,
} from '../../../simulators/demo/compliance.ts';
import { demoScenarioFleet, generateScenarioFixes } from '../../../simulators/demo/scenario-trucks.ts';
import { FleetSim } from '../../../simulators/scenario/fleet-sim.ts';
import { compiledWorldOf } from '../../../simulators/scenario/replay-engine.ts';
import { unitOf } from '../../../simulators/scenario/world.ts';
import type { Rng } from '../../../simulators/shared/rng.ts';
import { VehicleHarness } from '../backfill-harness.ts';
import { FULL, Trk } from '../rules/matrix/tracks.ts';
import { local } from '../rules/track-kit.ts';

export const START = Date.UTC(2025, 5, 2, 0, 0, 0); // 08:00 in Hefei
export const DURATION_MS = 90 * 60_000;

export function scenario(): { world: World; tracks: Map<string, Fix[]> } {
  const seed = demoComplianceSeed(START);
  const world = compileWorld({
    ...seed,
    vehicles: demoVehicleProfiles(),
    thresholds: { id: DEMO_COMPLIANCE_IDS.thresholds, version: 1, values: DEFAULT_THRESHOLDS },
  });
  const fleet = demoScenarioFleet();
  const devices = new Map(fleet.devices.map((d) => [d.id, d]));
  const tracks = new Map<string, Fix[]>();
  for (const m of generateScenarioFixes({
    seed: 1,
    startTs: START,
    durationMs: DURATION_MS,
    devices: fleet.devices,
  })) {
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
    const list = tracks.get(fix.vehicle) ?? [];
    list.push(fix);
    tracks.set(fix.vehicle, list);
  }
  return { world, tracks };
}

export const { world, tracks } = scenario();
export const judge = createJudge(createEngine(ALL_RULES, chinaCalendar));
export const matrixJudge = judge;

export function inOrder(vehicle: string, fixes: readonly Fix[]): VehicleHarness {
  const h = new VehicleHarness(judge, vehicle, world);
  for (const f of fixes) h.deliver([f]);
  return h;
}

/** Cuts the track into batches of 1..maxBatch consecutive fixes and delivers them in a random order. */
export function shuffled(vehicle: string, fixes: readonly Fix[], rng: Rng, maxBatch: number): VehicleHarness {
  const batches: Fix[][] = [];
  for (let i = 0; i < fixes.length; ) {
    const n = rng.int(1, maxBatch);
    batches.push(fixes.slice(i, i + n));
    i += n;
  }
  for (let i = batches.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [batches[i], batches[j]] = [batches[j]!, batches[i]!];
  }
  const h = new VehicleHarness(judge, vehicle, world);
  for (const b of batches) h.deliver(b);
  return h;
}

/** Blind areas: every so often the live fix arrives first, then the minutes before it as one batch. */
export function blindAreas(vehicle: string, fixes: readonly Fix[], rng: Rng): VehicleHarness {
  const h = new VehicleHarness(judge, vehicle, world);
  let i = 0;
  while (i < fixes.length) {
    if (rng.chance(0.1) && i + 3 < fixes.length) {
      const n = Math.min(rng.int(3, 60), fixes.length - i - 1); // 30 s to 10 min without coverage
      h.deliver([fixes[i + n]!]); // out of the blind area: the current position first
      h.deliver(fixes.slice(i, i + n)); // then the buffered ones (JT/T 808 0x0704 type 1)
      i += n + 1;
    } else {
      h.deliver([fixes[i]!]);
      i++;
    }
  }
  return h;
}

export const reference = new Map([...tracks].map(([v, fixes]) => [v, inOrder(v, fixes)]));

// ---------------------------------------------------------------------------------------------------
// The classes of issue 17 item 1, on the rule-matrix world (route R1 east from the origin, permit P1
// 22:00-06:00 for V1): a detour driven inside a blind area, the gap and silence a batch fills.

/** V1 loaded on R1 at 23:00, 10 s reports: 2 min east, 2 min 300 m north of the route, back, 2 min east. */
export function detourTrack(): Fix[] {
  const tr = new Trk('V1', local(23), 300, 0, FULL);
  tr.roll(12, 30); // on the route
  tr.drive(tr.x + 100, 300, 30); // off it, north
  tr.roll(12, 30, 10_000, () => ({ y: 300 }) as never); // 2 minutes 300 m off the corridor
  tr.drive(tr.x + 100, 0, 30); // back
  tr.roll(12, 30);
  return tr.fixes;
}

// ---------------------------------------------------------------------------------------------------
// The property on the mixed-fault scenario (issue 17): load-sensor flicker, weight glitches, multipath
// strays (held back by the outlier screen), canyon bias, blind areas, sleep, a clock 90 s ahead.

export async function faultTracks(seed: number): Promise<{ world: World; tracks: Map<string, Fix[]> }> {
  const { world: sim, injections } = await loadWorld({
    scenario: 'simulators/scenarios/hefei-faults.json',
    seed,
    startTs: Date.parse('2026-11-30T06:00:00+08:00'),
    durationMs: 2 * 3_600_000,
  });
  // the fixes as the terminals recorded them (the batches in time order), decoded by ingest's decoder
  const tracks = new Map<string, Fix[]>();
  const byId = new Map<string, Device>();
  for (const d of sim.devices)
    byId.set(d.id, {
      id: d.id,
      kind: d.kind,
      unit: unitOf(d),
      firm: d.firm,
      reportIntervalS: d.reportIntervalS ?? 10,
      enabled: true,
    });
  for (const m of new FleetSim(sim, { seed, injections, noiseM: 15, batchOrder: 'before-live' }).messages()) {
    if (m.kind === 'action' || m.kind === 'malformed') continue;
    const r = decodeTelemetry({
      deviceId: m.device,
      payload: Buffer.from(m.payload),
      receivedMs: m.ts,
      device: byId.get(m.device),
    });
    for (const fix of r.fixes) {
      const list = tracks.get(fix.vehicle) ?? [];
      list.push(fix);
      tracks.set(fix.vehicle, list);
    }
  }
  // in time order, each instant once (duplicates and reordered messages are ingest's to sort out)
  for (const [v, list] of tracks) {
    const seen = new Set<number>();
    tracks.set(
      v,
      list.sort((a, b) => a.ts - b.ts).filter((f) => !seen.has(f.ts) && seen.add(f.ts) !== undefined),
    );
  }
  // the world without the revocation (a registry change is not part of the arrival-order property)
  return { world: compiledWorldOf(sim), tracks };
}
