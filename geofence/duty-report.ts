import type { Fix } from '../core/fix.ts';
import { CST_OFFSET_MS, parseWindow } from './geo/windows.ts';
import type { Thresholds } from './model.ts';
import type { Occurrence } from './plan-windows.ts';
import type { DutyPlan } from './plans.ts';
import { allowanceM } from './rules/plan-facts.ts';
import type { World } from './types.ts';

/**
 * The duty report (issue 15, item 4), per body camera per shift of its duty plan: how long it was heard,
 * recording, and inside its grid. Pure: the plan, the shift, the camera's fixes and the compiled world.
 *
 * Time is attributed from each fix to the next (the state a fix reports holds until the next report),
 * at most `gapMs` past a fix (the OFFLINE allowance: a silence longer than that is time not heard, not
 * recorded, not in the grid), clipped to the shift. Inside the grid = within the grid or within the
 * fix's GNSS allowance of its edge (max(15 m, accuracy)), as OUT_OF_GRID judges it.
 */

export interface DutyShiftRow {
  plan: string;
  planVersion: number;
  firm: string;
  camera: string;
  /** the officers the camera's fixes named during the shift */
  officers: string[];
  shiftStart: number;
  shiftEnd: number;
  fixes: number;
  heardMs: number;
  recordingMs: number;
  inGridMs: number;
}

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

/** The shifts of a plan that start on a local (China Standard Time) date 'YYYY-MM-DD', in time order. */
export function shiftsStartingOn(windows: readonly string[], date: string): Occurrence[] {
  const midnight = Date.parse(`${date}T00:00:00Z`) - CST_OFFSET_MS;
  const out: Occurrence[] = [];
  for (const text of windows) {
    const w = parseWindow(text);
    const endMin = w.endMin > w.startMin ? w.endMin : w.endMin + 1440;
    out.push({ start: midnight + w.startMin * MIN_MS, end: midnight + endMin * MIN_MS });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The span a report for `date` must read fixes over: every shift of the day, plus the gap before. */
export function dutyDaySpan(plans: readonly DutyPlan[], date: string, gapMs: number): Occurrence {
  const midnight = Date.parse(`${date}T00:00:00Z`) - CST_OFFSET_MS;
  let end = midnight + DAY_MS;
  for (const p of plans) for (const s of shiftsStartingOn(p.windows, date)) end = Math.max(end, s.end);
  return { start: midnight - gapMs, end };
}

export function dutyShiftRow(
  world: World,
  plan: DutyPlan,
  shift: Occurrence,
  camera: string,
  /** the camera's fixes, any order; invalid ones are left out */
  fixes: readonly Fix[],
  gapMs: number,
  th: Pick<Thresholds, 'accuracyFloorM'> = world.thresholds(),
): DutyShiftRow {
  const track = fixes.filter((f) => f.valid && f.ts < shift.end).sort((a, b) => a.ts - b.ts);
  const row: DutyShiftRow = {
    plan: plan.id,
    planVersion: plan.version,
    firm: plan.firm,
    camera,
    officers: [],
    shiftStart: shift.start,
    shiftEnd: shift.end,
    fixes: 0,
    heardMs: 0,
    recordingMs: 0,
    inGridMs: 0,
  };
  const officers = new Set<string>();
  for (let i = 0; i < track.length; i++) {
    const f = track[i]!;
    const next = track[i + 1];
    const from = Math.max(f.ts, shift.start);
    const to = Math.min(next?.ts ?? Number.POSITIVE_INFINITY, f.ts + gapMs, shift.end);
    if (f.ts >= shift.start) {
      row.fixes++;
      if (f.officer !== undefined) officers.add(f.officer);
    }
    if (to <= from) continue;
    const ms = to - from;
    row.heardMs += ms;
    if (f.recording === true) row.recordingMs += ms;
    if (world.gridDistance(plan.id, [f.lon, f.lat]) <= allowanceM(f, th)) row.inGridMs += ms;
  }
  row.officers = [...officers].sort();
  return row;
}
