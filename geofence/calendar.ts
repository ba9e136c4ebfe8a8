import {
  containingWindowStartUtcMs,
  type DailyWindow,
  dateOfDayNumber,
  inWindows,
  localDayNumber,
  parseWindow,
} from './geo/windows.ts';
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

export const chinaCalendar: Calendar = { localDate: localDateOf, inWindows: inLocalWindows };
