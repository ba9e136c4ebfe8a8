import type { Logger } from 'pino';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import { demoComplianceSeed } from '../simulators/demo/compliance.ts';
import { type DemoFleet, startDemoFleet } from '../simulators/demo/fleet.ts';
import { demoPlanBehaviourFor, demoPlansSeed, firstOf } from '../simulators/demo/plans.ts';
import { demoRegistrySeed, demoSandboxSeed } from '../simulators/demo/registry.ts';
import { demoScenarioFleet, scenarioBehaviourFor } from '../simulators/demo/scenario-trucks.ts';
import type { Config } from './config.ts';

/**
 * The demo city `npm start` runs with no configuration (SIMULATE): its registry and 两点一线 world,
 * seeded once into an empty data folder, its sanitation and camera plans (issue 15), and the simulated
 * fleet that drives it.
 */

/** A sped-up demo replays this much of the recent past at its speed, then runs in real time. */
export const DEMO_CATCH_UP_MS = 2 * 3_600_000;

/** The demo fleet's firms, vehicles, officers and devices, and the sandbox truck of the README. */
export async function seedDemoRegistry(registry: SqliteRegistry): Promise<void> {
  // the demo fleet, and the sandbox truck a person publishes as by hand (README), which the fleet never drives
  for (const seed of [demoRegistrySeed(), demoSandboxSeed()]) {
    for (const firm of seed.firms) registry.upsertFirm(firm);
    for (const vehicle of seed.vehicles) registry.upsertVehicle(vehicle);
    for (const officer of seed.officers) registry.upsertOfficer(officer);
    for (const device of seed.devices) await registry.putDevice(device);
  }
}

export function isComplianceEmpty(compliance: ComplianceRegistry): boolean {
  return (['site', 'route', 'zone', 'permit'] as const).every((kind) => compliance.list(kind).length === 0);
}

/** The demo compliance world (sites, routes, zones, permits) and the scenario fleet's trucks. */
export async function seedDemoCompliance(
  registry: SqliteRegistry,
  compliance: ComplianceRegistry,
): Promise<void> {
  const fleet = demoScenarioFleet();
  for (const vehicle of fleet.vehicles) registry.upsertVehicle(vehicle);
  for (const device of fleet.devices) if (!registry.device(device.id)) await registry.putDevice(device);
  const seed = demoComplianceSeed(Date.now());
  const strip = <T extends { version: number }>({ version: _v, ...rest }: T) => rest;
  for (const site of seed.sites) compliance.put('site', strip(site));
  for (const route of seed.routes) compliance.put('route', strip(route));
  for (const zone of seed.zones) compliance.put('zone', strip(zone));
  for (const permit of seed.permits) compliance.put('permit', { ...strip(permit), state: 'active' });
}

export function isPlansEmpty(compliance: ComplianceRegistry): boolean {
  return (['collection_point', 'sweep_plan', 'duty_plan', 'upload_station'] as const).every(
    (kind) => compliance.list(kind).length === 0,
  );
}

/** The demo's plans (simulators/demo/plans.ts): a sweep plan, collection points, duty grids, stations. */
export function seedDemoPlans(compliance: ComplianceRegistry): void {
  const plans = demoPlansSeed();
  const strip = <T extends { version: number }>({ version: _v, ...rest }: T) => rest;
  for (const u of plans.uploadStations) compliance.put('upload_station', strip(u));
  for (const p of plans.collectionPoints) compliance.put('collection_point', strip(p));
  for (const p of plans.sweepPlans) compliance.put('sweep_plan', strip(p));
  for (const p of plans.dutyPlans) compliance.put('duty_plan', strip(p));
}

/** The simulated fleet, publishing to this platform's broker (or the external one ingest reads). */
export function startDemo(config: Config, mqttPort: number | undefined, logger: Logger): DemoFleet {
  const { env } = config;
  const url =
    env.INGEST_MQTT_URL ?? `mqtt://${env.BIND_HOST === '0.0.0.0' ? '127.0.0.1' : env.BIND_HOST}:${mqttPort}`;
  // Sped up, the demo replays the last DEMO_CATCH_UP_MS at that speed and then runs in real time.
  const startTs = env.SIMULATE_SPEEDUP > 1 ? Date.now() - DEMO_CATCH_UP_MS : Date.now();
  return startDemoFleet({
    url,
    devices: [...demoRegistrySeed().devices, ...demoScenarioFleet().devices],
    speedup: env.SIMULATE_SPEEDUP,
    startTs,
    ...(env.SIMULATE_SPEEDUP > 1 ? { catchUp: true } : {}),
    // scenario trucks break the 两点一线 rules; the sweeper, the collection truck and the cameras their plans'
    behaviourFor: firstOf(scenarioBehaviourFor(), demoPlanBehaviourFor(startTs)),
    logger,
  });
}
