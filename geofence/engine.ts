import type { Fix } from '../ingest/fix.ts';
import type { Permit, Position } from './model.ts';
import type { FixFacts, RuleContext, RuleModule, TickContext, ViolationEvent, World } from './types.ts';

/**
 * The engine core: per vehicle, `step(state, fix, world)` returns the new state and the violation
 * events; `tick(state, vehicle, now, world)` detects silence. Pure: no I/O, no clock, no globals. The
 * rules are passed in (geofence/rules/index.ts lists them), each owning one slot of `slices`.
 *
 * Fixes are judged in the vehicle's time order. A fix at or before the last judged one (a duplicate, or
 * a late backfill) does not move the state: it is counted in `skippedLate` and stored by ingest as usual.
 */

export interface VehicleState {
  vehicle: string;
  last: Fix | undefined;
  /** one slot per rule, in the order of the rule list */
  slices: unknown[];
  skippedLate: number;
}

/** Local-time helpers the core needs (geofence/geo/windows.ts implements them). */
export interface Calendar {
  localDate(utcMs: number): string;
  inWindows(windows: readonly string[], utcMs: number): boolean;
}

export interface EngineResult {
  state: VehicleState;
  events: ViolationEvent[];
}

/** A loaded truck: load state half/full, or a weight reading above this floor (tonnes). */
const LOADED_WEIGHT_FLOOR_T = 1;

export function isLoaded(fix: Fix): boolean {
  if (fix.load !== undefined) return fix.load !== 'empty';
  return fix.weight !== undefined && fix.weight >= LOADED_WEIGHT_FLOOR_T;
}

export function createEngine(
  // biome-ignore lint/suspicious/noExplicitAny: each rule owns its own slice type
  rules: readonly RuleModule<any>[],
  calendar: Calendar,
) {
  function initial(vehicle: string): VehicleState {
    return { vehicle, last: undefined, slices: rules.map((r) => r.initial()), skippedLate: 0 };
  }

  function facts(fix: Fix, world: World): FixFacts {
    const pos: Position = [fix.lon, fix.lat];
    const localDate = calendar.localDate(fix.ts);
    const validPermits = world
      .permitsOf(fix.vehicle)
      .filter((p: Permit) => p.validFrom <= localDate && localDate <= p.validTo);
    const coveringPermit = validPermits.find((p) => calendar.inWindows(p.windows, fix.ts));
    return {
      pos,
      loaded: isLoaded(fix),
      sites: world.sitesAt(pos),
      zones: world.zonesAt(pos),
      validPermits,
      coveringPermit,
      localDate,
    };
  }

  function step(state: VehicleState, fix: Fix, world: World): EngineResult {
    if (state.last !== undefined && fix.ts <= state.last.ts) {
      return { state: { ...state, skippedLate: state.skippedLate + 1 }, events: [] };
    }
    const f = facts(fix, world);
    const permit = f.coveringPermit ?? f.validPermits[0];
    const ctx: RuleContext = {
      fix,
      prev: state.last,
      facts: f,
      world,
      vehicle: world.vehicle(fix.vehicle),
      thresholds: world.thresholds(permit),
    };
    const events: ViolationEvent[] = [];
    const slices = new Array<unknown>(rules.length);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.appliesTo !== undefined && !rule.appliesTo.includes(fix.kind)) {
        slices[i] = state.slices[i];
        continue;
      }
      const result = rule.step(state.slices[i], ctx);
      slices[i] = result.state;
      for (const e of result.events) events.push(e);
    }
    return { state: { vehicle: state.vehicle, last: fix, slices, skippedLate: state.skippedLate }, events };
  }

  function tick(state: VehicleState, nowMs: number, world: World): EngineResult {
    const permit = state.last ? world.permitsOf(state.vehicle)[0] : undefined;
    const ctx: TickContext = {
      vehicle: state.vehicle,
      nowMs,
      last: state.last,
      world,
      thresholds: world.thresholds(permit),
    };
    const events: ViolationEvent[] = [];
    let changed = false;
    const slices = state.slices.slice();
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.tick === undefined) continue;
      if (rule.appliesTo !== undefined && state.last && !rule.appliesTo.includes(state.last.kind)) continue;
      const result = rule.tick(state.slices[i], ctx);
      if (result.state !== state.slices[i]) changed = true;
      slices[i] = result.state;
      for (const e of result.events) events.push(e);
    }
    return { state: changed ? { ...state, slices } : state, events };
  }

  return { initial, step, tick, rules };
}

export type Engine = ReturnType<typeof createEngine>;
