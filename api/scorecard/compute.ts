/**
 * The monthly firm scorecard (月度考核), as a pure function of the month's trips and violations: no store,
 * no clock. The route (api/scorecards.ts) reads the records and chooses which firms and violations count.
 *
 * What is counted, per firm, for a month [fromMs, toMs):
 *  - trips:            COMPLETED trips whose loading (startTs) falls in the month; a trip still under way
 *                      is counted in the month it started once it completes
 *  - km:               the distance of those trips (loaded legs: origin to disposal)
 *  - compliantTrips:   those the engine judged compliant; compliantShare = compliantTrips / trips
 *  - violations:       violations whose startTs falls in the month, in total and by code; a violation
 *                      the engine withdrew (phase `withdrawn`: late fixes showed it did not happen so)
 *                      is not one, nor is a platform gap (never a violation: geofence/platform-gaps.ts)
 *  - per100Trips:      violations / trips × 100;  per1000Km: violations / km × 1,000 (null without trips/km)
 *  - openViolations:   the month's violations whose enforcement status is not yet `closed` (unresolved)
 *
 * Ranking (1 = best), among the firms with at least one completed trip or one violation in the month
 * (a firm with neither has nothing to assess: rank null). Compared in this order, lower is better:
 *   1. violations per 100 trips  (the headline rate of the 考核; normalises for fleet size)
 *   2. violations per 1,000 km   (separates firms with equal trip rates but longer hauls)
 *   3. open violations           (a firm that leaves violations unresolved ranks below one that does not)
 * A rate that cannot be computed (no trips, or no km) counts as 0 when the firm has no violations and as
 * +infinity when it has some: violations without a completed trip are the worst case, not the best.
 * Firms equal on all three share a rank (standard competition ranking: 1, 2, 2, 4); ties are listed by
 * firm id. Ranks are computed on exact values, the published figures are rounded (rates and km to 2
 * decimals, the share to 4).
 */
import { VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';
import type { TripRecord, ViolationRecord } from '../../store/events-port.ts';

export interface ScorecardInput {
  month: string;
  fromMs: number;
  toMs: number;
  /** the firms to score: each gets a card, with zeros when it had nothing */
  firms: readonly string[];
  /** trips of the month (others, and trips not completed, are ignored) */
  trips: readonly TripRecord[];
  /** violations of the month (others, withdrawn ones, and violations of firms not scored, are ignored) */
  violations: readonly (Pick<ViolationRecord, 'firm' | 'code' | 'startTs' | 'status'> &
    Partial<Pick<ViolationRecord, 'phase'>>)[];
}

export interface FirmScorecard {
  month: string;
  firm: string;
  /** 1 = best; null when the firm had no trip and no violation */
  rank: number | null;
  /** how many firms were ranked */
  rankedFirms: number;
  trips: number;
  compliantTrips: number;
  /** 0..1, null without trips */
  compliantShare: number | null;
  km: number;
  violations: number;
  /** every code, zeros included */
  violationsByCode: Record<ViolationCode, number>;
  per100Trips: number | null;
  per1000Km: number | null;
  openViolations: number;
}

interface Tally {
  firm: string;
  trips: number;
  compliantTrips: number;
  km: number;
  violations: number;
  byCode: Record<ViolationCode, number>;
  open: number;
}

const round = (n: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
};

/** A rate for ranking: the exact value, or 0 / +infinity when the denominator is 0 (see above). */
function rankRate(count: number, base: number, per: number): number {
  if (base > 0) return (count / base) * per;
  return count === 0 ? 0 : Number.POSITIVE_INFINITY;
}

function rankKey(t: Tally): [number, number, number] {
  return [rankRate(t.violations, t.trips, 100), rankRate(t.violations, t.km, 1_000), t.open];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
  }
  return 0;
}

const zeroByCode = (): Record<ViolationCode, number> =>
  Object.fromEntries(VIOLATION_CODES.map((c) => [c, 0])) as Record<ViolationCode, number>;

/** One card per firm, ordered by rank (unranked firms last), then firm id. */
export function computeScorecards(input: ScorecardInput): FirmScorecard[] {
  const tallies = new Map<string, Tally>();
  for (const firm of input.firms) {
    if (!tallies.has(firm)) {
      tallies.set(firm, {
        firm,
        trips: 0,
        compliantTrips: 0,
        km: 0,
        violations: 0,
        byCode: zeroByCode(),
        open: 0,
      });
    }
  }
  const inMonth = (ts: number) => ts >= input.fromMs && ts < input.toMs;
  for (const trip of input.trips) {
    const t = tallies.get(trip.firm);
    if (t === undefined || trip.status !== 'completed' || !inMonth(trip.startTs)) continue;
    t.trips += 1;
    t.km += trip.distanceKm;
    if (trip.compliant) t.compliantTrips += 1;
  }
  for (const v of input.violations) {
    const t = tallies.get(v.firm);
    if (t === undefined || !inMonth(v.startTs) || v.phase === 'withdrawn') continue;
    t.violations += 1;
    t.byCode[v.code] += 1;
    if (v.status !== 'closed') t.open += 1;
  }

  const byFirm = (a: Tally, b: Tally) => (a.firm < b.firm ? -1 : a.firm > b.firm ? 1 : 0);
  const ranked = [...tallies.values()]
    .filter((t) => t.trips > 0 || t.violations > 0)
    .map((t) => ({ t, key: rankKey(t) }))
    .sort((a, b) => compareKeys(a.key, b.key) || byFirm(a.t, b.t));
  const ranks = new Map<string, number>();
  ranked.forEach((r, i) => {
    const prev = ranked[i - 1];
    const rank = prev !== undefined && compareKeys(prev.key, r.key) === 0 ? ranks.get(prev.t.firm)! : i + 1;
    ranks.set(r.t.firm, rank);
  });
  const unranked = [...tallies.values()].filter((t) => !ranks.has(t.firm)).sort(byFirm);

  return [...ranked.map((r) => r.t), ...unranked].map((t) => ({
    month: input.month,
    firm: t.firm,
    rank: ranks.get(t.firm) ?? null,
    rankedFirms: ranked.length,
    trips: t.trips,
    compliantTrips: t.compliantTrips,
    compliantShare: t.trips > 0 ? round(t.compliantTrips / t.trips, 4) : null,
    km: round(t.km, 2),
    violations: t.violations,
    violationsByCode: t.byCode,
    per100Trips: t.trips > 0 ? round((t.violations / t.trips) * 100, 2) : null,
    per1000Km: t.km > 0 ? round((t.violations / t.km) * 1_000, 2) : null,
    openViolations: t.open,
  }));
}
