/**
 * Daily time windows and validity dates in China Standard Time (UTC+8 all year, no daylight saving since
 * 1991), so local time is plain arithmetic on the UTC instant: no Intl, no Date object per fix, no clock.
 * Instants are UTC epoch milliseconds (the fix's `ts`).
 *
 * Window semantics: "HH:MM-HH:MM" is half-open [start, end): exactly at the start is inside, exactly at
 * the end is outside. An end earlier than the start crosses midnight ("22:00-06:00"). "00:00-24:00" is the
 * whole day. An empty list is never.
 *
 * Dates: a window belongs to the local date on which it STARTS. A permit valid 2026-11-01..2026-11-30 with
 * hours 22:00-06:00 covers 2026-12-01 03:00 (that night's window started on the 30th) and does not cover
 * 2026-11-01 03:00 (that window started on 31 October). This is what `inWindowsOnDates` applies; plain
 * `inDateRange` asks only about the local date of the instant itself.
 */

export const CST_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

/** A daily window in minutes after local midnight; `endMin <= startMin` means it crosses midnight. */
export interface DailyWindow {
  readonly startMin: number;
  /** 1..1440 */
  readonly endMin: number;
}

/** Validity dates as local day numbers (days since 1970-01-01), both inclusive. */
export interface DateRange {
  readonly fromDay: number;
  readonly toDay: number;
}

const WINDOW_RE = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/;

/** Parses "HH:MM-HH:MM" (24:00 allowed as an end). Throws on anything else, and on an empty window. */
export function parseWindow(text: string): DailyWindow {
  const m = WINDOW_RE.exec(text);
  if (!m) throw new SyntaxError(`bad time window "${text}", expected HH:MM-HH:MM`);
  const sh = Number(m[1]);
  const sm = Number(m[2]);
  const eh = Number(m[3]);
  const em = Number(m[4]);
  if (sh > 23 || sm > 59) throw new RangeError(`bad start in time window "${text}"`);
  if (em > 59 || eh > 24 || (eh === 24 && em !== 0)) throw new RangeError(`bad end in time window "${text}"`);
  const startMin = sh * 60 + sm;
  const endMin = eh * 60 + em;
  // "06:00-06:00" could mean nothing or a full day; refuse instead of guessing (00:00-24:00 is a full day)
  if (startMin === endMin || (startMin === 0 && endMin === 0)) {
    throw new RangeError(`empty or ambiguous time window "${text}" (use 00:00-24:00 for all day)`);
  }
  // "22:00-00:00" ends at midnight: same as 22:00-24:00, and not crossing
  return { startMin, endMin: endMin === 0 ? 1440 : endMin };
}

/** Parses a list of windows (done once at registry time, never per fix). */
export function parseWindows(texts: readonly string[]): DailyWindow[] {
  return texts.map(parseWindow);
}

/** Local day number (days since 1970-01-01 in UTC+8) of an instant. */
export function localDayNumber(utcMs: number): number {
  return Math.floor((utcMs + CST_OFFSET_MS) / DAY_MS);
}

/** Milliseconds since local midnight, 0..86,399,999. */
export function localMsOfDay(utcMs: number): number {
  const t = (utcMs + CST_OFFSET_MS) % DAY_MS;
  return t < 0 ? t + DAY_MS : t;
}

/** Whether the instant falls in any of the windows (dates not considered). */
export function inWindows(windows: readonly DailyWindow[], utcMs: number): boolean {
  const t = localMsOfDay(utcMs);
  for (const w of windows) if (inWindow(w, t)) return true;
  return false;
}

function inWindow(w: DailyWindow, msOfDay: number): boolean {
  const s = w.startMin * MIN_MS;
  const e = w.endMin * MIN_MS;
  return s < e ? msOfDay >= s && msOfDay < e : msOfDay >= s || msOfDay < e;
}

/** Every date: a range no window start falls outside of. */
const ANY_DATE: DateRange = Object.freeze({
  fromDay: Number.NEGATIVE_INFINITY,
  toDay: Number.POSITIVE_INFINITY,
});

/** UTC instant at which the latest-starting occurrence of a window containing the instant began. */
export function containingWindowStartUtcMs(
  windows: readonly DailyWindow[],
  utcMs: number,
): number | undefined {
  return containingWindowStartOnDates(windows, ANY_DATE, utcMs);
}

/**
 * The local day number on which the window containing the instant started (the previous day for the
 * after-midnight part of a crossing window), or undefined when no window contains it. With overlapping
 * windows the latest start day wins (the day of the latest start).
 */
export function windowStartDay(windows: readonly DailyWindow[], utcMs: number): number | undefined {
  const start = containingWindowStartUtcMs(windows, utcMs);
  return start === undefined ? undefined : localDayNumber(start);
}

/** Inside a window that started on a date of the range (the permit rule: see the header). */
export function inWindowsOnDates(windows: readonly DailyWindow[], range: DateRange, utcMs: number): boolean {
  return containingWindowStartOnDates(windows, range, utcMs) !== undefined;
}

/**
 * UTC instant at which the latest-starting window containing the instant began, among the windows that
 * started on a date of the range (the permit rule: see the header); undefined when none.
 */
export function containingWindowStartOnDates(
  windows: readonly DailyWindow[],
  range: DateRange,
  utcMs: number,
): number | undefined {
  const day = localDayNumber(utcMs);
  const t = localMsOfDay(utcMs);
  const midnight = utcMs - t;
  let best: number | undefined;
  for (const w of windows) {
    if (!inWindow(w, t)) continue;
    const s = w.startMin * MIN_MS;
    // the after-midnight part of a crossing window started the day before
    const before = !(w.startMin < w.endMin || t >= s);
    const d = before ? day - 1 : day;
    if (d < range.fromDay || d > range.toDay) continue;
    const start = before ? midnight - DAY_MS + s : midnight + s;
    if (best === undefined || start > best) best = start;
  }
  return best;
}

/** Whether the local date of the instant is within the range (inclusive both ends). */
export function inDateRange(range: DateRange, utcMs: number): boolean {
  const d = localDayNumber(utcMs);
  return d >= range.fromDay && d <= range.toDay;
}

/** Parses inclusive local dates 'YYYY-MM-DD'. Throws when malformed or from > to. */
export function parseDateRange(from: string, to: string): DateRange {
  const range = { fromDay: dayNumberOf(from), toDay: dayNumberOf(to) };
  if (range.fromDay > range.toDay) throw new RangeError(`date range ${from}..${to} is reversed`);
  return range;
}

/** Local date 'YYYY-MM-DD' of an instant. */
export function localDate(utcMs: number): string {
  return dateOfDayNumber(localDayNumber(utcMs));
}

/** UTC instant of local midnight starting a local date (for building test fixtures and ranges). */
export function localMidnightUtcMs(date: string): number {
  return dayNumberOf(date) * DAY_MS - CST_OFFSET_MS;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Day number of a calendar date 'YYYY-MM-DD' (proleptic Gregorian; Hinnant's days_from_civil). */
export function dayNumberOf(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new SyntaxError(`bad date "${date}", expected YYYY-MM-DD`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) throw new RangeError(`no such date "${date}"`);
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Calendar date of a day number (Hinnant's civil_from_days). */
export function dateOfDayNumber(n: number): string {
  const z = n + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}
