import type { Fix } from '../../core/fix.ts';
import type { EntityRef, Thresholds } from '../model.ts';
import { containing, type Occurrence } from '../plan-windows.ts';
import type { DutyPlan } from '../plans.ts';
import type { PlanRefKind, World } from '../types.ts';

/**
 * Small facts the sanitation and body-camera rules share (issue 15). Pure functions of the fix and the
 * compiled world; each rule calls only the ones it needs, so a muck truck's fix costs nothing here.
 */

/** Sweeping: the brush is running or the task says so (domain.md: sweepers report both). */
export function isSweeping(fix: Pick<Fix, 'brush' | 'task'>): boolean {
  return fix.brush === true || fix.task === 'sweeping';
}

/** Working a road (sweeping or spraying): what OUT_OF_AREA watches. Collecting goes wherever the points are. */
export function isRoadWork(fix: Pick<Fix, 'brush' | 'task'>): boolean {
  return fix.brush === true || fix.task === 'sweeping' || fix.task === 'spraying';
}

/** The GNSS allowance of one fix: never judged closer than the accuracy floor (15 m, JT/T 794). */
export function allowanceM(fix: Pick<Fix, 'accuracy'>, th: Pick<Thresholds, 'accuracyFloorM'>): number {
  return Math.max(th.accuracyFloorM, fix.accuracy ?? 0);
}

export interface Duty {
  plan: DutyPlan;
  shift: Occurrence;
}

/**
 * The duty a body camera is on at an instant: the first duty plan (by id) naming the camera or the
 * officer wearing it whose shift contains the instant; undefined when off duty.
 */
export function dutyAt(
  world: World,
  unit: string,
  officer: string | undefined,
  ts: number,
): Duty | undefined {
  for (const plan of world.dutyPlansOf(unit, officer)) {
    const shift = containing(plan.windows, ts);
    if (shift !== undefined) return { plan, shift };
  }
  return undefined;
}

/** The city thresholds and the plan a violation rests on, with their versions. */
export function planRefs(
  world: World,
  kind: PlanRefKind,
  plan: { id: string; version: number } | undefined,
): EntityRef[] {
  const refs: EntityRef[] = [world.thresholdsRef];
  if (plan !== undefined) refs.push({ kind, id: plan.id, version: plan.version });
  return refs;
}

/** Rounds to 0.1 (figures in details). */
export function r1(x: number): number {
  return Math.round(x * 10) / 10;
}
