/**
 * The monthly scorecard's sections for sanitation teams and enforcement squads (issue 15 item 4), as pure
 * functions of the month's report rows and violations: no store, no clock. The route (api/scorecards.ts)
 * reads the rows day by day from the tracks (geofence/coverage-report.ts, geofence/duty-report.ts: the
 * daily reports' own figures) and the violations from the event store.
 *
 * A firm's sanitation section: its vehicles (named by its sweep plans and collection points, or
 * registered as sanitation vehicles of the firm), the violations of those vehicles by code (the
 * sanitation codes, OFFLINE and TRACK_GAP as for trucks, any other), the month's ended sweep shifts with their planned and swept
 * length (coverage = swept / planned over all shifts), and its collection windows on time, late and
 * missed (onTimeShare = on time / decided windows; a window still pending is not decided).
 * A firm's enforcement section: its cameras (named by its duty plans, or registered body cameras of the
 * firm), their violations by code, the ended shifts reported and their length, and the shares of
 * that length heard, recording and inside the grid (the duty report's figures summed over the month).
 * Withdrawn violations never count, nor do platform gaps (never violations). Sections are not ranked:
 * the 考核 rank stays the haulage one (per 100 trips); a city compares its teams by these shares.
 */
import type { CoverageDayRow } from '../../geofence/coverage-report.ts';
import type { DutyShiftRow } from '../../geofence/duty-report.ts';
import { VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';

export interface SanitationSection {
  vehicles: number;
  violations: number;
  /** every code, zeros included (as the card's) */
  violationsByCode: Record<ViolationCode, number>;
  sweepShifts: number;
  plannedKm: number;
  sweptKm: number;
  /** sweptKm / plannedKm, 0..1 (4 decimals); null without a shift */
  coverage: number | null;
  collectionWindows: number;
  onTime: number;
  late: number;
  missed: number;
  /** onTime / (onTime + late + missed), 0..1 (4 decimals); null without a decided window */
  onTimeShare: number | null;
}

export interface EnforcementSection {
  cameras: number;
  violations: number;
  violationsByCode: Record<ViolationCode, number>;
  shifts: number;
  /** the shifts' length, hours (2 decimals) */
  dutyHours: number;
  /** shares of the shifts' length, 0..1 (4 decimals); null without a shift */
  heardShare: number | null;
  recordingShare: number | null;
  inGridShare: number | null;
}

type CountedViolation = { code: ViolationCode; startTs: number; phase?: string };

const round = (n: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
};

function tally(
  violations: readonly CountedViolation[],
  fromMs: number,
  toMs: number,
): { total: number; byCode: Record<ViolationCode, number> } {
  const byCode = Object.fromEntries(VIOLATION_CODES.map((c) => [c, 0])) as Record<ViolationCode, number>;
  let total = 0;
  for (const v of violations) {
    if (v.phase === 'withdrawn' || v.startTs < fromMs || v.startTs >= toMs) continue;
    byCode[v.code] += 1;
    total += 1;
  }
  return { total, byCode };
}

/** One firm's sanitation section from its vehicles' daily coverage rows and their violations. */
export function sanitationSection(
  vehicles: number,
  rows: readonly CoverageDayRow[],
  violations: readonly CountedViolation[],
  range: { fromMs: number; toMs: number },
): SanitationSection {
  const { total, byCode } = tally(violations, range.fromMs, range.toMs);
  let shifts = 0;
  let planned = 0;
  let swept = 0;
  let windows = 0;
  let onTime = 0;
  let late = 0;
  let missed = 0;
  for (const r of rows) {
    for (const c of r.collections) {
      if (c.status === 'on_time') onTime++;
      else if (c.status === 'late') late++;
      else if (c.status === 'missed') missed++;
    }
    for (const s of r.sweeps) {
      // a shift still on is not scored (its figures are so far)
      if (!s.ended) continue;
      shifts += 1;
      planned += s.plannedM;
      swept += s.sweptM;
    }
    windows += r.collections.length;
  }
  const decided = onTime + late + missed;
  return {
    vehicles,
    violations: total,
    violationsByCode: byCode,
    sweepShifts: shifts,
    plannedKm: round(planned / 1000, 3),
    sweptKm: round(swept / 1000, 3),
    coverage: shifts === 0 ? null : planned > 0 ? round(swept / planned, 4) : 1,
    collectionWindows: windows,
    onTime,
    late,
    missed,
    onTimeShare: decided === 0 ? null : round(onTime / decided, 4),
  };
}

/** One firm's enforcement section from its cameras' duty rows (one per shift) and their violations. */
export function enforcementSection(
  cameras: number,
  rows: readonly DutyShiftRow[],
  violations: readonly CountedViolation[],
  range: { fromMs: number; toMs: number },
): EnforcementSection {
  const { total, byCode } = tally(violations, range.fromMs, range.toMs);
  let duty = 0;
  let heard = 0;
  let recording = 0;
  let inGrid = 0;
  for (const r of rows) {
    duty += r.shiftEnd - r.shiftStart;
    heard += r.heardMs;
    recording += r.recordingMs;
    inGrid += r.inGridMs;
  }
  const share = (x: number) => (duty === 0 ? null : round(x / duty, 4));
  return {
    cameras,
    violations: total,
    violationsByCode: byCode,
    shifts: rows.length,
    dutyHours: round(duty / 3_600_000, 2),
    heardShare: share(heard),
    recordingShare: share(recording),
    inGridShare: share(inGrid),
  };
}
