/**
 * The demo's 13 scenario trucks as the cluster's judgement tests feed them: their fixes as ingest
 * normalizes them, the demo world they are judged against, and a delivery order with blind areas (the
 * buffered minutes sent after the live fix, as JT/T 808 0x0704 type 1 does).
 */
import type { Fix } from '../../../core/fix.ts';
import type { RegistrySnapshot } from '../../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import { normalizeFix } from '../../../ingest/normalize.ts';
import type { Device } from '../../../registry/types.ts';
import {
  DEMO_COMPLIANCE_IDS,
  demoComplianceSeed,
  demoVehicleProfiles,
} from '../../../simulators/demo/compliance.ts';
import { demoScenarioFleet, generateScenarioFixes } from '../../../simulators/demo/scenario-trucks.ts';

/** 08:00 in Hefei */
export const SCENARIO_START = Date.UTC(2025, 5, 2, 0, 0, 0);

export function scenarioSnapshot(start = SCENARIO_START): RegistrySnapshot {
  return {
    ...demoComplianceSeed(start),
    vehicles: demoVehicleProfiles(),
    thresholds: { id: DEMO_COMPLIANCE_IDS.thresholds, version: 1, values: DEFAULT_THRESHOLDS },
  };
}

/** the fleet's fixes as ingest normalizes them, in time order */
export function scenarioFixes(durationMs: number, start = SCENARIO_START): Fix[] {
  const fleet = demoScenarioFleet();
  const devices = new Map(fleet.devices.map((d) => [d.id, d]));
  return generateScenarioFixes({ seed: 3, startTs: start, durationMs, devices: fleet.devices }).map((m) => {
    const d = devices.get(m.device)!;
    const device: Device = {
      id: d.id,
      kind: d.kind,
      unit: d.vehicle ?? d.id,
      firm: d.firm,
      reportIntervalS: d.reportIntervalS ?? 10,
      enabled: true,
    };
    return normalizeFix(m.payload, device, m.ts);
  });
}

/**
 * The delivery order with blind areas: each truck's fixes between minutes 30 and 38 arrive after its
 * first fix from minute 45 on, marked late as ingest marks them. Split where the first blind area
 * arrives: the live fixes before it, then the rest.
 */
export function withBlindAreas(
  fixes: readonly Fix[],
  start = SCENARIO_START,
): { before: Fix[]; after: Fix[] } {
  const from = start + 30 * 60_000;
  const to = start + 38 * 60_000;
  const release = start + 45 * 60_000;
  const held = new Map<string, Fix[]>();
  const order: Fix[] = [];
  let cut = -1;
  for (const fix of fixes) {
    if (fix.ts >= from && fix.ts < to) {
      held.set(fix.vehicle, [...(held.get(fix.vehicle) ?? []), { ...fix, late: true }]);
      continue;
    }
    order.push(fix);
    const blind = held.get(fix.vehicle);
    if (fix.ts >= release && blind !== undefined) {
      if (cut < 0) cut = order.length;
      order.push(...blind);
      held.delete(fix.vehicle);
    }
  }
  return { before: order.slice(0, cut), after: order.slice(cut) };
}
