import { CST_OFFSET_MS, type DailyWindow, localDayNumber, parseWindow } from './geo/windows.ts';

/**
 * Occurrences of a plan's daily windows as UTC intervals (collection windows, shifts). A window
 * "22:00-06:00" that starts on a day ends the next morning: one occurrence, belonging to the day it
 * starts. Pure arithmetic on the instant (China Standard Time has no daylight saving); parsed windows
 * are memoized by array identity (registry arrays are immutable per snapshot), so parsing happens once
 * per registry change. Malformed windows never occur (the registry refuses them; the engine must not stop).
 */

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

/** One occurrence [start, end) of a daily window, UTC epoch ms. */
export interface Occurrence {
  start: number;
  end: number;
}

const parsed = new WeakMap<readonly string[], readonly DailyWindow[]>();

function windowsOf(texts: readonly string[]): readonly DailyWindow[] {
  let p = parsed.get(texts);
  if (p === undefined) {
    p = texts.flatMap((text) => {
      try {
        return [parseWindow(text)];
      } catch {
        return [];
      }
    });
    parsed.set(texts, p);
  }
  return p;
}

function occurrence(w: DailyWindow, day: number): Occurrence {
  const midnight = day * DAY_MS - CST_OFFSET_MS;
  const start = midnight + w.startMin * MIN_MS;
  const endMin = w.endMin > w.startMin ? w.endMin : w.endMin + 1440;
  return { start, end: midnight + endMin * MIN_MS };
}

/** The first occurrence that starts at or after `t` (undefined when the list has no valid window). */
export function firstStartingAt(texts: readonly string[], t: number): Occurrence | undefined {
  const ws = windowsOf(texts);
  let best: Occurrence | undefined;
  const day = localDayNumber(t);
  for (const w of ws) {
    for (let d = day; d <= day + 1; d++) {
      const o = occurrence(w, d);
      if (o.start >= t && (best === undefined || o.start < best.start)) best = o;
    }
  }
  return best;
}

/** The occurrence containing `t` (the latest-starting one when windows overlap), or undefined. */
export function containing(texts: readonly string[], t: number): Occurrence | undefined {
  const ws = windowsOf(texts);
  let best: Occurrence | undefined;
  const day = localDayNumber(t);
  for (const w of ws) {
    for (let d = day - 1; d <= day; d++) {
      const o = occurrence(w, d);
      if (o.start <= t && t < o.end && (best === undefined || o.start > best.start)) best = o;
    }
  }
  return best;
}
