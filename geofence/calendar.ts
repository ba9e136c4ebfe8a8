import type { Calendar } from './engine.ts';
import { type DailyWindow, inWindows, localDate, parseWindows } from './geo/windows.ts';

/**
 * China Standard Time calendar for the engine. Registry arrays are immutable per snapshot, so parsed
 * windows are memoized by array identity: parsing happens once per registry change, not per fix. The
 * cache holds only derived values of its keys, so results stay pure.
 */
const parsed = new WeakMap<readonly string[], readonly DailyWindow[]>();

function parsedWindows(windows: readonly string[]): readonly DailyWindow[] {
  let p = parsed.get(windows);
  if (p === undefined) {
    p = parseWindows(windows);
    parsed.set(windows, p);
  }
  return p;
}

export const chinaCalendar: Calendar = {
  localDate,
  inWindows: (windows, utcMs) => inWindows(parsedWindows(windows), utcMs),
};
