import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { createEngine, type VehicleState } from '../geofence/engine.ts';
import type { RuleContext, RuleModule, World } from '../geofence/types.ts';

/**
 * The engine benchmark's step loop (bench/engine.ts, engine-state.ts): fixes through the engine with a
 * state per vehicle, the events counted by code, and a rule that throws found and reported, not hidden.
 */

// ---- engine loop --------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: each rule owns its own slice type
export type AnyRule = RuleModule<any>;

export interface StepError {
  rule: string;
  message: string;
  fix: Fix;
}

/** Which rule throws on this (state, fix): re-run with every rule wrapped. */
export function diagnose(
  rules: readonly AnyRule[],
  state: VehicleState,
  fix: Fix,
  world: World,
  err: unknown,
): StepError {
  let found: StepError | undefined;
  const wrapped: AnyRule[] = rules.map((r) => ({
    ...r,
    step(s: unknown, ctx: RuleContext) {
      try {
        return r.step(s, ctx);
      } catch (e) {
        found ??= { rule: r.code, message: (e as Error).message ?? String(e), fix: ctx.fix };
        throw e;
      }
    },
  }));
  try {
    createEngine(wrapped, chinaCalendar).step(state, fix, world);
  } catch {
    // found is set (or the core itself threw)
  }
  return found ?? { rule: '(engine core)', message: (err as Error).message ?? String(err), fix };
}

export interface LoopResult {
  events: number;
  errors: number;
  byCode: Map<string, number>;
  firstErrors: StepError[];
}

export function runLoop(
  engine: ReturnType<typeof createEngine>,
  rules: readonly AnyRule[],
  world: World,
  states: Map<string, VehicleState>,
  fixes: readonly Fix[],
  from: number,
  to: number,
  out: LoopResult,
): void {
  let events = 0;
  for (let i = from; i < to; i++) {
    const f = fixes[i]!;
    const st = states.get(f.vehicle) ?? engine.initial(f.vehicle);
    let r: ReturnType<typeof engine.step>;
    try {
      r = engine.step(st, f, world);
    } catch (err) {
      out.errors++;
      if (out.firstErrors.length < 20) out.firstErrors.push(diagnose(rules, st, f, world, err));
      continue;
    }
    states.set(f.vehicle, r.state);
    const n = r.events.length;
    if (n > 0) {
      events += n;
      for (const e of r.events) {
        const key = `${e.violation.code}:${e.phase}`;
        out.byCode.set(key, (out.byCode.get(key) ?? 0) + 1);
      }
    }
  }
  out.events += events;
}

export function errorSummary(errs: readonly StepError[]): string {
  const byRule = new Map<string, StepError>();
  for (const e of errs) if (!byRule.has(e.rule)) byRule.set(e.rule, e);
  return [...byRule.values()].map((e) => `${e.rule}: ${e.message}`).join('; ');
}

// ---- naive baselines ----------------------------------------------------------------------------------
