import type { Fix } from '../core/fix.ts';
import { shiftsStartingOn } from './duty-report.ts';
import { CST_OFFSET_MS } from './geo/windows.ts';
import type { Position, Thresholds } from './model.ts';
import type { Occurrence } from './plan-windows.ts';
import type { CollectionPoint, SweepPlan } from './plans.ts';
import { isVisit } from './rules/collection-visits.ts';
import { isSweeping } from './rules/plan-facts.ts';
import { freshShift, sweepShiftStep, sweptOf } from './rules/sweep-coverage.ts';
import type { World } from './types.ts';

/**
 * The sanitation coverage report (issue 15, item 4), per vehicle per local day: the planned road length
 * of each sweep plan's shifts starting that day against the length swept, with the unswept stretches;
 * and each collection window starting that day, on time, late, missed or still pending. Pure: the
 * vehicle's fixes, the compiled world and the instant the report is made at (`asOf`).
 *
 * The figures are the rules' own judgement replayed on the stored track, so the report and the
 * violations agree: a shift's pieces are marked by rules/sweep-coverage.ts (sweepShiftStep: a sweeping
 * fix within the corridor plus the GNSS allowance marks its 20 m piece, linked to the previous sweeping
 * fix), a visit is rules/collection-visits.ts's (a stop within the radius plus the allowance with the
 * task `collecting` or the bin-lift counter up). Fixes are taken in time order (a backfilled fix counts
 * where it belongs), a duplicate instant once, an invalid fix never (it still carries the bin counter,
 * as in the rule). Two differences from the live rules, both by design: every window and shift of the
 * day is reported, including one already running when the platform first heard of the vehicle (the rule
 * does not judge those), and the outlier screen is not applied (a report, not a verdict).
 *
 * A window with no visit is `missed` once its late grace (collectionLateGraceMs) has passed at `asOf`,
 * `pending` before; a shift not over at `asOf` is reported with `ended: false` and its figures so far.
 */

export type CollectionStatus = 'on_time' | 'late' | 'missed' | 'pending';

export interface SweepShiftFigures {
  plan: string;
  planVersion: number;
  shiftStart: number;
  shiftEnd: number;
  /** the shift had ended at `asOf` */
  ended: boolean;
  plannedM: number;
  sweptM: number;
  unsweptM: number;
  /** sweptM / plannedM, 0..1 (3 decimals) */
  coverage: number;
  /** the unswept stretches, WGS-84, 6 decimals */
  unswept: { type: 'MultiLineString'; coordinates: Position[][] };
}

export interface CollectionWindowFigures {
  point: string;
  pointVersion: number;
  windowStart: number;
  windowEnd: number;
  status: CollectionStatus;
  /** the visit that served the window (on time or late) */
  visitTs?: number;
  /** late visits: visitTs - windowEnd */
  lateByMs?: number;
}

export interface CoverageDayRow {
  date: string;
  firm: string;
  vehicle: string;
  /** valid fixes of the vehicle on the day's span */
  fixes: number;
  plannedM: number;
  sweptM: number;
  /** sweptM / plannedM over the day's shifts (3 decimals); null without a shift */
  coverage: number | null;
  onTime: number;
  late: number;
  missed: number;
  pending: number;
  sweeps: SweepShiftFigures[];
  collections: CollectionWindowFigures[];
}

const DAY_MS = 86_400_000;
/** bin-lift counter readings this long before the day's first window still tell a lift in it */
const BIN_READING_LEAD_MS = 3_600_000;

const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};

/** The plans and points of a vehicle for one firm (a vehicle may serve two firms' plans: one row each). */
export function coveragePlansOf(
  world: World,
  vehicle: string,
  firm: string,
): { sweeps: readonly SweepPlan[]; points: readonly CollectionPoint[] } {
  return {
    sweeps: world.sweepPlansOf(vehicle).filter((p) => p.firm === firm),
    points: world.collectionPointsOf(vehicle).filter((p) => p.firm === firm),
  };
}

/** The span a report for `date` must read fixes over: the day's windows and shifts, their grace, a lead. */
export function coverageDaySpan(
  plans: { sweeps: readonly SweepPlan[]; points: readonly CollectionPoint[] },
  date: string,
  th: Pick<Thresholds, 'collectionLateGraceMs'>,
): Occurrence {
  const midnight = Date.parse(`${date}T00:00:00Z`) - CST_OFFSET_MS;
  let end = midnight + DAY_MS;
  for (const p of plans.sweeps) for (const s of shiftsStartingOn(p.windows, date)) end = Math.max(end, s.end);
  for (const p of plans.points) {
    for (const w of shiftsStartingOn(p.windows, date)) end = Math.max(end, w.end + th.collectionLateGraceMs);
  }
  return { start: midnight - BIN_READING_LEAD_MS, end };
}

/** The fixes in time order, one per instant (the first stored wins, as the spool's dedupe keeps it). */
function inTimeOrder(fixes: readonly Fix[]): Fix[] {
  const sorted = fixes.slice().sort((a, b) => a.ts - b.ts);
  return sorted.filter((f, i) => i === 0 || sorted[i - 1]!.ts !== f.ts);
}

export function coverageDayRow(
  world: World,
  firm: string,
  vehicle: string,
  date: string,
  /** the vehicle's fixes over coverageDaySpan, any order */
  fixes: readonly Fix[],
  asOf: number,
  th: Thresholds = world.thresholds(),
): CoverageDayRow {
  const { sweeps: sweepPlans, points } = coveragePlansOf(world, vehicle, firm);
  const track = inTimeOrder(fixes);
  const valid = track.filter((f) => f.valid);
  const row: CoverageDayRow = {
    date,
    firm,
    vehicle,
    fixes: valid.length,
    plannedM: 0,
    sweptM: 0,
    coverage: null,
    onTime: 0,
    late: 0,
    missed: 0,
    pending: 0,
    sweeps: [],
    collections: [],
  };

  const sweepingFixes = valid.filter(isSweeping);
  for (const plan of sweepPlans) {
    const layout = world.sweepLayout(plan.id);
    if (layout === undefined) continue;
    for (const o of shiftsStartingOn(plan.windows, date)) {
      let shift = freshShift(o.start, o.end);
      for (const f of sweepingFixes) {
        if (f.ts >= o.end) break;
        shift = sweepShiftStep(shift, plan, layout, f, world, th);
      }
      const { sweptM, unswept } = sweptOf(plan, layout, shift.bits);
      row.sweeps.push({
        plan: plan.id,
        planVersion: plan.version,
        shiftStart: o.start,
        shiftEnd: o.end,
        ended: o.end <= asOf,
        plannedM: round(layout.totalM, 1),
        sweptM: round(sweptM, 1),
        unsweptM: round(layout.totalM - sweptM, 1),
        coverage: layout.totalM > 0 ? round(sweptM / layout.totalM, 3) : 1,
        unswept: { type: 'MultiLineString', coordinates: unswept },
      });
      row.plannedM += layout.totalM;
      row.sweptM += sweptM;
    }
  }
  row.sweeps.sort((a, b) => a.shiftStart - b.shiftStart || (a.plan < b.plan ? -1 : 1));
  row.coverage = row.sweeps.length > 0 ? (row.plannedM > 0 ? round(row.sweptM / row.plannedM, 3) : 1) : null;
  row.plannedM = round(row.plannedM, 1);
  row.sweptM = round(row.sweptM, 1);

  if (points.length > 0) {
    // the visits of each point, in time order: the bin counter is read from every fix, valid or not
    const visits = new Map<string, number[]>(points.map((p) => [p.id, []]));
    let bins = -1;
    for (const f of track) {
      let binsUp = false;
      if (f.binLifts !== undefined) {
        binsUp = bins >= 0 && f.binLifts > bins;
        bins = f.binLifts;
      }
      for (const p of points) if (isVisit(f, p, th, binsUp)) visits.get(p.id)!.push(f.ts);
    }
    for (const p of points) {
      const seen = visits.get(p.id)!;
      // a visit serves one window only; windows in time order (the rule watches them one at a time)
      let used = Number.NEGATIVE_INFINITY;
      for (const w of shiftsStartingOn(p.windows, date)) {
        const deadline = w.end + th.collectionLateGraceMs;
        const visitTs = seen.find((ts) => ts > used && ts >= w.start && ts <= deadline);
        const figures: CollectionWindowFigures = {
          point: p.id,
          pointVersion: p.version,
          windowStart: w.start,
          windowEnd: w.end,
          status: 'pending',
        };
        if (visitTs !== undefined) {
          used = visitTs;
          figures.visitTs = visitTs;
          if (visitTs < w.end) figures.status = 'on_time';
          else {
            figures.status = 'late';
            figures.lateByMs = visitTs - w.end;
          }
        } else if (asOf > deadline) figures.status = 'missed';
        row.collections.push(figures);
        if (figures.status === 'on_time') row.onTime++;
        else if (figures.status === 'late') row.late++;
        else if (figures.status === 'missed') row.missed++;
        else row.pending++;
      }
    }
    row.collections.sort((a, b) => a.windowStart - b.windowStart || (a.point < b.point ? -1 : 1));
  }
  return row;
}
