import type { EntityRef, Thresholds, ViolationCode } from '../model.ts';
import type { RuleContext, RuleModule, StepResult, Violation, ViolationEvent } from '../types.ts';

/**
 * The violation lifecycle every rule shares: opened (first evidence) → updated (escalation, new
 * maximum) → closed (duration). Ids are deterministic (`vehicle:code:startTs`) so a replay of the same
 * fixes produces the same violations, and a rule emits each phase once because it keeps the open
 * violation in its own state slice.
 */

/**
 * What a rule returns on the (common) fix that produces no event: one shared frozen array instead of a
 * new [] per rule per fix.
 */
export const NO_EVENTS: readonly ViolationEvent[] = Object.freeze([]);

/** The answer "nothing changed, nothing happened" for a rule's shared idle slice, built once per rule. */
export function quietResult<S>(idle: S): StepResult<S> {
  return Object.freeze({ state: idle, events: NO_EVENTS });
}

/**
 * `{ state, events: NO_EVENTS }` without allocating when `state` is the idle slice of `quiet` (most
 * vehicles, most fixes: a result object per rule per fix was a measurable share of the engine's garbage).
 */
export function unchanged<S>(state: S, quiet: StepResult<S>): StepResult<S> {
  return state === quiet.state ? quiet : { state, events: NO_EVENTS };
}

export function violationId(vehicle: string, code: ViolationCode, startTs: number): string {
  return `${vehicle}:${code}:${startTs}`;
}

export interface OpenArgs {
  code: ViolationCode;
  ruleVersion: number;
  /** when the violation began (may be earlier than the current fix: the first fix of the pending run) */
  startTs: number;
  startPos: [number, number];
  refs: EntityRef[];
  thresholds: Partial<Thresholds>;
  details?: Violation['details'];
  level?: number;
}

/** Entity references of the permit in force and the city thresholds, with their versions. */
export function baseRefs(ctx: Pick<RuleContext, 'facts' | 'world'>): EntityRef[] {
  const refs: EntityRef[] = [ctx.world.thresholdsRef];
  const permit = ctx.facts.coveringPermit ?? ctx.facts.validPermits[0];
  if (permit) refs.push({ kind: 'permit', id: permit.id, version: permit.version });
  return refs;
}

export function open(ctx: RuleContext, args: OpenArgs): { violation: Violation; event: ViolationEvent } {
  const permit = ctx.facts.coveringPermit ?? ctx.facts.validPermits[0];
  const violation: Violation = {
    id: violationId(ctx.fix.vehicle, args.code, args.startTs),
    code: args.code,
    vehicle: ctx.fix.vehicle,
    firm: ctx.fix.firm,
    ...(permit ? { permit: permit.id } : {}),
    startTs: args.startTs,
    detectedTs: ctx.fix.ts,
    level: args.level ?? 0,
    startPos: args.startPos,
    lastPos: [ctx.fix.lon, ctx.fix.lat],
    refs: args.refs,
    thresholds: args.thresholds,
    ruleVersion: args.ruleVersion,
    details: args.details ?? {},
  };
  return { violation, event: { phase: 'opened', violation } };
}

/** A new version of an open violation (new level, new maximum, last position). */
export function update(
  violation: Violation,
  changes: Partial<Pick<Violation, 'level' | 'details' | 'lastPos'>>,
): { violation: Violation; event: ViolationEvent } {
  const next: Violation = {
    ...violation,
    ...changes,
    details: { ...violation.details, ...(changes.details ?? {}) },
  };
  return { violation: next, event: { phase: 'updated', violation: next } };
}

export function close(violation: Violation, endTs: number, lastPos?: [number, number]): ViolationEvent {
  const closed: Violation = {
    ...violation,
    endTs,
    durationMs: endTs - violation.startTs,
    ...(lastPos ? { lastPos } : {}),
  };
  return { phase: 'closed', violation: closed };
}

/**
 * A rule whose idle slice is one shared constant, stored as `null` instead: every unit's state holds a
 * slice of every rule, and a muck truck's would otherwise carry the sanitation and camera rules' idle
 * objects (issue 3: an idle vehicle's state under 1 KiB). The rule itself still sees its idle object.
 */
export function idleAsNull<S>(rule: RuleModule<S>, idle: S): RuleModule<S | null> {
  const quiet: StepResult<S | null> = Object.freeze({ state: null, events: NO_EVENTS });
  const out = (r: StepResult<S>): StepResult<S | null> => {
    if (r.state !== idle) return r;
    return r.events === NO_EVENTS ? quiet : { state: null, events: r.events };
  };
  const { tick } = rule;
  return {
    ...rule,
    initial: () => null,
    step: (state, ctx) => out(rule.step(state ?? idle, ctx)),
    ...(tick === undefined ? {} : { tick: (state, ctx) => out(tick.call(rule, state ?? idle, ctx)) }),
  };
}
