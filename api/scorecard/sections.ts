import { type CoverageDayRow, coverageDayRow, coverageDaySpan } from '../../geofence/coverage-report.ts';
import {
  type DutyShiftRow,
  dutyDaySpan,
  dutyShiftRow,
  shiftsStartingOn,
} from '../../geofence/duty-report.ts';
import { CST_OFFSET_MS } from '../../geofence/geo/windows.ts';
import type { MonthRange } from './month.ts';
import type { Month, PlanSources } from './month-records.ts';
import {
  type EnforcementSection,
  enforcementSection,
  type SanitationSection,
  sanitationSection,
} from './plan-figures.ts';

/**
 * The scorecards' sections for sanitation teams and enforcement squads (issue 15): the month's coverage,
 * collection, recording and in-grid figures computed day by day from the stored tracks by the daily
 * reports' own functions (geofence/coverage-report.ts, geofence/duty-report.ts), then summed
 * (api/scorecard/plan-figures.ts).
 */

/** The local dates of the month up to `asOf`, YYYY-MM-DD. */
function datesOf(range: MonthRange, asOf: number): string[] {
  const out: string[] = [];
  for (let t = range.fromMs; t < range.toMs && t < asOf; t += 86_400_000) {
    out.push(new Date(t + CST_OFFSET_MS).toISOString().slice(0, 10));
  }
  return out;
}

const MAX_FIXES_PER_DAY = 100_000;
const OFFLINE_MIN_MS = 10 * 60_000;

/** A firm's sanitation rows: per vehicle of its plans, per day of the month so far (one track a day). */
async function coverageRows(plans: PlanSources, firm: string, range: MonthRange): Promise<CoverageDayRow[]> {
  const w = plans.world();
  const th = w.thresholds();
  const asOf = plans.now();
  const vehicles = new Set<string>();
  for (const p of [...plans.registry.list('sweep_plan'), ...plans.registry.list('collection_point')]) {
    if (p.firm === firm) for (const v of p.vehicles) vehicles.add(v);
  }
  // a plan counts from its first version: the windows and shifts of the days before it are not its
  const since = (kind: 'sweep_plan' | 'collection_point', id: string) => {
    const created = plans.registry.record(kind, id, 1)?.createdAt;
    return created === undefined ? Number.NEGATIVE_INFINITY : Date.parse(created);
  };
  const rows: CoverageDayRow[] = [];
  for (const vehicle of [...vehicles].sort()) {
    const own = {
      sweeps: w.sweepPlansOf(vehicle).filter((p) => p.firm === firm),
      points: w.collectionPointsOf(vehicle).filter((p) => p.firm === firm),
    };
    for (const date of datesOf(range, asOf)) {
      const span = coverageDaySpan(own, date, th);
      const fixes = await plans.tracks.track({
        vehicle,
        from: span.start,
        to: span.end,
        limit: MAX_FIXES_PER_DAY,
      });
      const row = coverageDayRow(w, firm, vehicle, date, fixes, asOf, th);
      rows.push({
        ...row,
        sweeps: row.sweeps.filter((x) => x.shiftStart >= since('sweep_plan', x.plan)),
        collections: row.collections.filter((x) => x.windowStart >= since('collection_point', x.point)),
      });
    }
  }
  return rows;
}

/** A firm's duty rows: per duty plan, camera and shift of the month that has ended. */
async function dutyRows(plans: PlanSources, firm: string, range: MonthRange): Promise<DutyShiftRow[]> {
  const w = plans.world();
  const asOf = plans.now();
  const rows: DutyShiftRow[] = [];
  for (const plan of plans.registry.list('duty_plan')) {
    if (plan.firm !== firm) continue;
    // counted from its first version, as the coverage
    const first = plans.registry.record('duty_plan', plan.id, 1)?.createdAt;
    const created = first === undefined ? Number.NEGATIVE_INFINITY : Date.parse(first);
    for (const camera of [...new Set(plan.cameras)].sort()) {
      const gapMs = Math.max(3 * (w.vehicle(camera)?.reportIntervalS ?? 15) * 1000, OFFLINE_MIN_MS);
      for (const date of datesOf(range, asOf)) {
        const shifts = shiftsStartingOn(plan.windows, date).filter(
          (s) => s.end <= asOf && s.start >= created,
        );
        if (shifts.length === 0) continue;
        const span = dutyDaySpan([plan], date, gapMs);
        const fixes = await plans.tracks.track({
          vehicle: camera,
          from: span.start,
          to: span.end,
          limit: MAX_FIXES_PER_DAY,
        });
        for (const shift of shifts) rows.push(dutyShiftRow(w, plan, shift, camera, fixes, gapMs));
      }
    }
  }
  return rows;
}

/** The sections of these firms (each firm's tracks read day by day, one after another: bounded). */
export async function sectionsOf(
  plans: PlanSources | undefined,
  month: Month,
  range: MonthRange,
  only: (firm: string) => boolean,
): Promise<{
  sanitation: Map<string, SanitationSection>;
  enforcement: Map<string, EnforcementSection>;
}> {
  const sanitation = new Map<string, SanitationSection>();
  const enforcement = new Map<string, EnforcementSection>();
  const ofFirm = (firm: string, kind: 'sanitation' | 'body_camera') =>
    month.planned.filter((v) => v.firm === firm && month.units.kindOf.get(v.vehicle) === kind);
  const firmsOf = (units: Map<string, Set<string>>, kind: 'sanitation' | 'body_camera') => {
    const firms = new Set(units.keys());
    for (const v of month.planned) if (month.units.kindOf.get(v.vehicle) === kind) firms.add(v.firm);
    return [...firms].filter(only).sort();
  };
  for (const firm of firmsOf(month.units.sanitation, 'sanitation')) {
    const rows = plans === undefined ? [] : await coverageRows(plans, firm, range);
    const count = month.units.sanitation.get(firm)?.size ?? 0;
    sanitation.set(firm, sanitationSection(count, rows, ofFirm(firm, 'sanitation'), range));
  }
  for (const firm of firmsOf(month.units.enforcement, 'body_camera')) {
    const rows = plans === undefined ? [] : await dutyRows(plans, firm, range);
    const count = month.units.enforcement.get(firm)?.size ?? 0;
    enforcement.set(firm, enforcementSection(count, rows, ofFirm(firm, 'body_camera'), range));
  }
  return { sanitation, enforcement };
}
