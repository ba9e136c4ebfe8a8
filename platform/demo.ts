import type { Logger } from 'pino';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import { demoComplianceSeed } from '../simulators/demo-compliance.ts';
import {
  type DemoFleet,
  demoRegistrySeed,
  demoSandboxSeed,
  startDemoFleet,
} from '../simulators/demo-fleet.ts';
import { demoScenarioFleet, scenarioBehaviourFor } from '../simulators/scenarios.ts';
import type { Config } from './config.ts';

/**
 * The demo city `npm start` runs with no configuration (SIMULATE): its registry and 两点一线 world,
 * seeded once into an empty data folder, and the simulated fleet that drives it.
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

/** The simulated fleet, publishing to this platform's broker (or the external one ingest reads). */
export function startDemo(config: Config, mqttPort: number | undefined, logger: Logger): DemoFleet {
  const { env } = config;
  const url =
    env.INGEST_MQTT_URL ?? `mqtt://${env.BIND_HOST === '0.0.0.0' ? '127.0.0.1' : env.BIND_HOST}:${mqttPort}`;
  return startDemoFleet({
    url,
    devices: [...demoRegistrySeed().devices, ...demoScenarioFleet().devices],
    speedup: env.SIMULATE_SPEEDUP,
    // Sped up, the demo replays the last DEMO_CATCH_UP_MS at that speed and then runs in real time.
    ...(env.SIMULATE_SPEEDUP > 1 ? { startTs: Date.now() - DEMO_CATCH_UP_MS, catchUp: true } : {}),
    behaviourFor: scenarioBehaviourFor(),
    logger,
  });
}
