import {
  containingWindowStartOnDates,
  containingWindowStartUtcMs,
  type DailyWindow,
  type DateRange,
  dateOfDayNumber,
  dayNumberOf,
  inWindows,
  localDayNumber,
  parseWindow,
} from './geo/windows.ts';
import type { Permit } from './model.ts';
import type { Calendar } from './types.ts';

/**
 * China Standard Time calendar for the engine and its rules. Registry arrays are immutable per snapshot,
 * so parsed windows are memoized by array identity: parsing happens once per registry change, not per
 * fix. The cache holds only derived values of its keys, so results stay pure. Malformed windows never
 * match: the registry refuses them, and a bad threshold value must not stop the engine.
 */
const parsed = new WeakMap<readonly string[], readonly DailyWindow[]>();

function parsedWindows(windows: readonly string[]): readonly DailyWindow[] {
  let p = parsed.get(windows);
  if (p === undefined) {
    p = windows.flatMap((text) => {
      try {
        return [parseWindow(text)];
      } catch {
        return [];
      }
    });
    parsed.set(windows, p);
  }
  return p;
}

/** Whether the instant is inside any of the daily local-time windows (an empty list is never). */
export function inLocalWindows(windows: readonly string[], utcMs: number): boolean {
  return inWindows(parsedWindows(windows), utcMs);
}

/** UTC instant at which the (latest-starting) window containing the instant began, or undefined. */
export function windowStartUtcMs(windows: readonly string[], utcMs: number): number | undefined {
  return containingWindowStartUtcMs(parsedWindows(windows), utcMs);
}

// Validity ranges by permit object (immutable per registry snapshot, like the windows arrays).
const ranges = new WeakMap<object, DateRange>();
const NEVER: DateRange = Object.freeze({ fromDay: 1, toDay: 0 });

function rangeOf(p: Pick<Permit, 'validFrom' | 'validTo'>): DateRange {
  let r = ranges.get(p);
  if (r === undefined) {
    try {
      r = { fromDay: dayNumberOf(p.validFrom), toDay: dayNumberOf(p.validTo) };
    } catch {
      // malformed dates never cover (the registry refuses them; the engine must not stop)
      r = NEVER;
    }
    ranges.set(p, r);
  }
  return r;
}

/**
 * When the permit window covering the instant began (UTC), or undefined when no window of the permit
 * covers it. A window belongs to the local date on which it STARTS (geo/windows.ts): 01:00 on 1 December
 * in a 22:00-06:00 window is covered by a permit valid to 30 November, 03:00 on 1 November is not
 * covered by one valid from 1 November. The one test of "this permit covers this instant": the engine
 * facts, the trip tracker and OFFLINE all ask it.
 */
export function permitWindowStartUtcMs(
  p: Pick<Permit, 'windows' | 'validFrom' | 'validTo'>,
  utcMs: number,
): number | undefined {
  return containingWindowStartOnDates(parsedWindows(p.windows), rangeOf(p), utcMs);
}

// One-entry memo of the date string: every fix asks, and consecutive fixes share a day almost always.
// It holds a derived value of its key only, so the answer is the same as without it.
let memoDay = Number.NaN;
let memoDate = '';

/** Local date 'YYYY-MM-DD' of an instant (same as windows.ts `localDate`, without rebuilding the string). */
export function localDateOf(utcMs: number): string {
  const day = localDayNumber(utcMs);
  if (day !== memoDay) {
    memoDate = dateOfDayNumber(day);
    memoDay = day;
  }
  return memoDate;
}

export const chinaCalendar: Calendar = {
  localDate: localDateOf,
  inWindows: inLocalWindows,
  permitWindowStart: permitWindowStartUtcMs,
};
