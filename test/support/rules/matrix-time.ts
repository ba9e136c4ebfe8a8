/** The world of the matrix-time rule tests. */

import type { Fix } from '../../../core/fix.ts';
import { EMPTY, FULL, fixAt, type Sensors } from './matrix/tracks.ts';

/*
 * Rule matrix, time rules: OFF_HOURS and OFFLINE through the real engine with ALL_RULES
 * (test/support/rules/matrix/world.ts: P1 22:00-06:00, valid 2026-11-01..30; V1 reports every 10 s).
 * Complements test/geofence/rules/route-time.test.ts: exact stop threshold, gaps, two windows around midnight,
 * a permit edited mid-violation, invalid fixes, backfill after silence, windows after midnight.
 */

/** a loaded V1 on the first leg of R1; `i` moves it 80 m east per fix (back and forth, never leaving R1) */
export function loaded(ts: number, i: number, s: Sensors = {}): Fix {
  const d = (i * 80) % 6000;
  return fixAt('V1', ts, 300 + (d <= 3000 ? d : 6000 - d) * 0.8, 0, { ...FULL, ...s });
}

/** one loaded fix every `every` ms from `from` to `to` inclusive, speed by offset */
export function drive(
  from: number,
  to: number,
  speed: (dtMs: number) => number,
  every = 10_000,
  k0 = 0,
): Fix[] {
  const out: Fix[] = [];
  for (let ts = from, k = k0; ts <= to; ts += every, k++)
    out.push(loaded(ts, k, { speed: speed(ts - from) }));
  return out;
}

// ---------------------------------------------------------------------------------------------- OFFLINE

/** an empty V1 parked at O1 with the ignition as given */
export const parked = (ts: number, ign: boolean, vehicle = 'V1', s: Sensors = {}): Fix =>
  fixAt(vehicle, ts, 0, 0, { ...EMPTY, speed: 0, ign, ...s });

export const MIN = 60_000;
