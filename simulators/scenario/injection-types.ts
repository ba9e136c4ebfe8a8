import { VIOLATION_CODES } from '../../geofence/model.ts';

/**
 * What a scenario can inject (the scenario file's `injections`, `sim run --inject`): the rules' violation
 * types (a trip's twist, or a plan unit's), the terminals' faults by rate, and the world's events.
 */

/**
 * Protocol, GNSS and sensor faults (issue 17), injected by rate. What the rate is per:
 * - per message: DUPLICATE, OUT_OF_ORDER, MALFORMED, DROPOUT;
 * - per fix, the chance to start an episode: DRIFT (1-3 min multipath drift), FLICKER (the load state
 *   reads the opposite for 20-30 s while driving), WEIGHT_GLITCH (one weight reading at a tenth),
 *   MULTIPATH (one fix displaced so far that both neighbours would need >= 200 km/h; into a restricted
 *   zone when one is in reach), CANYON (an urban-canyon bias of 20-40 m for 1-3 min, the terminal's
 *   accuracy figure raised with it);
 * - per trip of a muck truck: BLIND_AREA (the terminal records but cannot send for 6-12 min while it
 *   hauls, over the detour on an OFF_ROUTE trip, then uploads the buffer as one batch after the first
 *   live fix: JT/T 808 0x0704 blind-area backfill), SLEEP (after the trip it parks at the origin with the
 *   ignition off and its terminal asleep for 20-40 min);
 * - per device, or for one device (`vehicle`): CLOCK_SKEW (its clock runs 90 s ahead).
 */
export const FAULT_TYPES = [
  'DUPLICATE',
  'OUT_OF_ORDER',
  'MALFORMED',
  'DROPOUT',
  'DRIFT',
  'FLICKER',
  'WEIGHT_GLITCH',
  'MULTIPATH',
  'CANYON',
  'BLIND_AREA',
  'SLEEP',
  'CLOCK_SKEW',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];
/** Faults that may also name one vehicle (its device) instead of a rate. */
export const DEVICE_FAULT_TYPES: readonly FaultType[] = ['CLOCK_SKEW'];
/**
 * Events of the world during the run: REVOKE (the truck hauls under a permit of its own, revoked
 * through the platform API while it hauls loaded on its first trip at least 10 min into the run).
 */
export const WORLD_EVENT_TYPES = ['REVOKE'] as const;
export const INJECTION_TYPES = [...VIOLATION_CODES, ...FAULT_TYPES, ...WORLD_EVENT_TYPES] as const;
export type InjectionType = (typeof INJECTION_TYPES)[number];

/** Injected per vehicle (its permit is changed when the world is built, or during the run), not per trip. */
export const VEHICLE_LEVEL_TYPES = ['NO_PERMIT', 'OFF_HOURS', 'REVOKE'] as const;
export type VehicleLevelType = (typeof VEHICLE_LEVEL_TYPES)[number];

/**
 * What a sanitation vehicle or a body camera may be given by name (issue 15): the plans' twists, on the
 * occurrences listed in `trips` (its collection visits in window order, or its shifts; default all), and
 * OFFLINE (silent for the allowance + 2-4 min while working or on duty).
 */
export const PLAN_TWISTS: Record<'sanitation' | 'body_camera', readonly string[]> = {
  sanitation: [
    'MISSED_COLLECTION',
    'LATE_COLLECTION',
    'SWEEP_OVERSPEED',
    'SWEEP_COVERAGE',
    'OUT_OF_AREA',
    'OFFLINE',
  ],
  body_camera: [
    'NOT_RECORDING',
    'OUT_OF_GRID',
    'LOW_BATTERY',
    'LOW_STORAGE',
    'NOT_UPLOADED',
    'SOS',
    'OFFLINE',
  ],
};

/** Whether a type may name a vehicle (trip twists, vehicle-level types, device faults) or takes a rate only. */
export function takesVehicle(type: string): boolean {
  return (
    !(FAULT_TYPES as readonly string[]).includes(type) ||
    (DEVICE_FAULT_TYPES as readonly string[]).includes(type)
  );
}
