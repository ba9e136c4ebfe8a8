import type { Calendar } from './engine.ts';
import {
  containingWindowStartUtcMs,
  type DailyWindow,
  inWindows,
  localDate,
  parseWindow,
} from './geo/windows.ts';

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

export const chinaCalendar: Calendar = { localDate, inWindows: inLocalWindows };
