/**
 * A scorecard month ('YYYY-MM') as an interval of instants. Months are those of the city's calendar,
 * China Standard Time (UTC+8, no daylight saving): November 2026 is [2026-10-31T16:00:00Z,
 * 2026-11-30T16:00:00Z), so a trip loaded at 00:30 local on 1 December (16:30Z on 30 November) counts in
 * December, not November.
 */

const CST_OFFSET_MS = 8 * 3_600_000;
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface MonthRange {
  month: string;
  /** first instant of the month (epoch ms, inclusive) */
  fromMs: number;
  /** first instant of the next month (epoch ms, exclusive) */
  toMs: number;
}

/** The month's interval, or undefined when `month` is not 'YYYY-MM'. */
export function monthRange(month: string): MonthRange | undefined {
  const m = MONTH.exec(month);
  if (!m) return undefined;
  const year = Number(m[1]);
  const index = Number(m[2]) - 1;
  return {
    month,
    fromMs: Date.UTC(year, index, 1) - CST_OFFSET_MS,
    toMs: Date.UTC(year, index + 1, 1) - CST_OFFSET_MS,
  };
}

/** The local month (YYYY-MM, China Standard Time) containing an instant. */
export function monthOf(utcMs: number): string {
  return new Date(utcMs + CST_OFFSET_MS).toISOString().slice(0, 7);
}
