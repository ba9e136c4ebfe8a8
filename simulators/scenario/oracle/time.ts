/**
 * Local time for the ground-truth oracle: China Standard Time (UTC+8 all year), daily "HH:MM-HH:MM"
 * windows (half-open, crossing midnight when the end is not after the start, "00:00-24:00" all day), and
 * permit coverage where a window belongs to the local date on which it starts (domain.md: a night window
 * counts for the date it started). Written from the domain brief for the oracle alone, WITHOUT the
 * engine's window code (geofence/geo/windows.ts), by another route (calendar fields of a shifted Date,
 * dates as strings): a window bug in the engine must show up as a scoring error, not be shared by the
 * truth.
 */

const SHIFT_MS = 8 * 60 * 60 * 1000;

/** A window as minutes after local midnight; `cross` when it runs past midnight into the next day. */
export interface LocalWindow {
  from: number;
  to: number;
  cross: boolean;
}

/** "HH:MM-HH:MM" as minutes; throws on anything else (scenario files are validated before this). */
export function parseLocalWindow(text: string): LocalWindow {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(text.trim());
  if (m === null) throw new SyntaxError(`not a time window: "${text}"`);
  const from = Number(m[1]) * 60 + Number(m[2]);
  let to = Number(m[3]) * 60 + Number(m[4]);
  if (to === 0) to = 24 * 60;
  return { from, to, cross: to <= from };
}

/** The local calendar of an instant: its date 'YYYY-MM-DD' and minute of the day (fractional). */
export function localCalendar(ts: number): { date: string; minute: number } {
  const d = new Date(ts + SHIFT_MS);
  const date = d.toISOString().slice(0, 10);
  const minute =
    d.getUTCHours() * 60 + d.getUTCMinutes() + (d.getUTCSeconds() + d.getUTCMilliseconds() / 1000) / 60;
  return { date, minute };
}

/** The local date before a 'YYYY-MM-DD' date. */
export function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/**
 * The local date on which the window containing the instant started, or undefined when none of the
 * windows contains it (the latest-starting one when several do).
 */
export function windowStartDate(windows: readonly LocalWindow[], ts: number): string | undefined {
  const { date, minute } = localCalendar(ts);
  let today = false;
  let yesterday = false;
  for (const w of windows) {
    if (!w.cross) {
      if (minute >= w.from && minute < w.to) today = true;
    } else if (minute >= w.from) {
      today = true;
    } else if (minute < w.to) {
      yesterday = true;
    }
  }
  return today ? date : yesterday ? dayBefore(date) : undefined;
}

/** Whether the instant is inside any of the windows, dates aside (an empty list: never). */
export function inLocalWindows(windows: readonly LocalWindow[], ts: number): boolean {
  return windowStartDate(windows, ts) !== undefined;
}

/** Whether a window that started on a date from..to (inclusive, local) covers the instant. */
export function coveredOnDates(
  windows: readonly LocalWindow[],
  from: string,
  to: string,
  ts: number,
): boolean {
  const started = windowStartDate(windows, ts);
  if (started !== undefined && from <= started && started <= to) return true;
  // a window that started yesterday may cover it while another started today does not: ask both
  const { date, minute } = localCalendar(ts);
  const y = dayBefore(date);
  if (!(from <= y && y <= to)) return false;
  return windows.some((w) => w.cross && minute < w.to);
}

/** Whether the instant's local date lies in from..to (inclusive). */
export function onDates(from: string, to: string, ts: number): boolean {
  const { date } = localCalendar(ts);
  return from <= date && date <= to;
}

// ---------------------------------------------------------------------------------------------------------
// Window occurrences of the plans oracle (plans.ts): spans in epoch ms

export interface Span {
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}
function prevDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}

/** The occurrence of a window on the local date it starts. */
function occurrenceOn(w: LocalWindow, date: string): Span {
  const midnight = Date.parse(`${date}T00:00:00+08:00`);
  return {
    start: midnight + w.from * MIN_MS,
    end: midnight + (w.cross ? w.to + 24 * 60 : w.to) * MIN_MS,
  };
}

/** The first occurrence starting at or after t. */
export function firstFrom(ws: readonly LocalWindow[], t: number): Span | undefined {
  const today = localCalendar(t).date;
  let best: Span | undefined;
  for (const date of [today, nextDate(today)])
    for (const w of ws) {
      const o = occurrenceOn(w, date);
      if (o.start >= t && (best === undefined || o.start < best.start)) best = o;
    }
  return best;
}

/** The occurrence containing t (the latest-starting when several do). */
export function holding(ws: readonly LocalWindow[], t: number): Span | undefined {
  const today = localCalendar(t).date;
  let best: Span | undefined;
  for (const date of [prevDate(today), today])
    for (const w of ws) {
      const o = occurrenceOn(w, date);
      if (o.start <= t && t < o.end && (best === undefined || o.start > best.start)) best = o;
    }
  return best;
}
