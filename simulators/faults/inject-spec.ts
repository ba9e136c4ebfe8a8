import {
  PLAN_VIOLATION_CODES,
  type PlanViolationCode,
  VIOLATION_CODES,
  type ViolationCode,
} from '../../geofence/model.ts';
import type { ScenarioInjection } from '../scenario/file-schema.ts';
import {
  FAULT_TYPES,
  type FaultType,
  INJECTION_TYPES,
  type InjectionType,
  takesVehicle,
} from '../scenario/injection-types.ts';

/**
 * The injections of a run: the command line's --inject specs, merged with the scenario file's, and the
 * fault rates they add up to (inject.ts plans the trips that carry them).
 */

/** Rules broken by changing a trip (NO_PERMIT and OFF_HOURS change the permit instead: scenario/world.ts). */
export type TripTwistType = Exclude<ViolationCode, 'NO_PERMIT' | 'OFF_HOURS' | PlanViolationCode>;
export const TRIP_TWISTS: readonly TripTwistType[] = VIOLATION_CODES.filter(
  (c): c is TripTwistType =>
    c !== 'NO_PERMIT' && c !== 'OFF_HOURS' && !(PLAN_VIOLATION_CODES as readonly string[]).includes(c),
);

export interface Twist {
  type: TripTwistType;
  variant?: 'cover' | 'weight';
}

/** `OFF_ROUTE:0.1,SPILLAGE/weight:0.05,veh-d2002=OVERSPEED,DUPLICATE:0.01` as injections. */
export function parseInjectSpec(spec: string): ScenarioInjection[] {
  const out: ScenarioInjection[] = [];
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(?:([^=]+)=)?([A-Z_]+)(?:\/(cover|weight))?(?::([0-9.]+))?$/.exec(raw);
    const fail = (why: string): never => {
      throw new RangeError(
        `--inject "${raw}": ${why} (expected TYPE:RATE or VEHICLE=TYPE, e.g. OFF_ROUTE:0.1)`,
      );
    };
    if (!m) fail('cannot read it');
    const [, vehicle, type, variant, rateText] = m as RegExpExecArray;
    if (!(INJECTION_TYPES as readonly string[]).includes(type!))
      fail(`unknown type; one of ${INJECTION_TYPES.join(', ')}`);
    if (variant && type !== 'SPILLAGE') fail('a /cover or /weight variant applies to SPILLAGE only');
    if ((vehicle === undefined) === (rateText === undefined)) fail('give a rate or a vehicle');
    const rate = rateText === undefined ? undefined : Number(rateText);
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) fail('a rate is a probability, 0..1');
    if (vehicle && !takesVehicle(type!)) fail(`${type} is injected by rate only`);
    out.push({
      type: type as InjectionType,
      ...(vehicle ? { vehicle } : {}),
      ...(rate !== undefined ? { rate } : {}),
      ...(variant ? { variant: variant as 'cover' | 'weight' } : {}),
    });
  }
  return out;
}

/** File injections with the command line's on top: a rate given again for the same type replaces it. */
export function mergeInjections(
  file: readonly ScenarioInjection[],
  cli: readonly ScenarioInjection[],
): ScenarioInjection[] {
  const key = (i: ScenarioInjection) =>
    i.vehicle ? `v:${i.vehicle}:${i.type}` : `r:${i.type}:${i.variant ?? ''}`;
  const byKey = new Map<string, ScenarioInjection>();
  for (const i of [...file, ...cli]) byKey.set(key(i), i);
  return [...byKey.values()];
}

/** Per-message fault rates. */
export function faultRates(injections: readonly ScenarioInjection[]): Record<FaultType, number> {
  const out = Object.fromEntries(FAULT_TYPES.map((f) => [f, 0])) as Record<FaultType, number>;
  for (const i of injections)
    if ((FAULT_TYPES as readonly string[]).includes(i.type) && i.rate !== undefined)
      out[i.type as FaultType] = i.rate;
  return out;
}
