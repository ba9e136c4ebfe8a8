/** The world of the camera rule tests. */
import type { Fix } from '../../../core/fix.ts';
import { uf } from '../plans-matrix.ts';
import type { Item } from './track-kit.ts';

/*
 * Rule matrix, body cameras (issue 15): SOS, NOT_RECORDING, OUT_OF_GRID, LOW_BATTERY, LOW_STORAGE,
 * NOT_UPLOADED and OFFLINE during duty, through the real engine (ALL_RULES) and the compiled world of
 * test/support/plans-matrix.ts: camera C1 on duty plan DP1 (grid: 1000 m square centred on (0,-3000),
 * shift 08:00-12:00; officer off-2 is on it too), upload station US1 at the grid's centre.
 */

export const CAM = [
  'SOS',
  'NOT_RECORDING',
  'OUT_OF_GRID',
  'LOW_BATTERY',
  'LOW_STORAGE',
  'NOT_UPLOADED',
  'OFFLINE',
];
export const OK: Partial<Fix> = {
  recording: true,
  battery: 80,
  storageFree: 20_000,
  sos: false,
  docked: false,
};
export const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

/** C1 on foot patrol inside the grid: back and forth along y = -3000 from x = -300 to 300, a fix per 15 s */
export function patrol(
  t0: number,
  minutes: number,
  each: (i: number) => Partial<Fix> = () => ({}),
  unit = 'C1',
): Fix[] {
  const out: Fix[] = [];
  for (let i = 0; i < minutes * 4; i++) {
    const d = (i * 20) % 1200;
    const x = -300 + (d <= 600 ? d : 1200 - d);
    out.push(uf(unit, t0 + i * 15_000, x, -3000, { speed: 4.8, ...OK, ...each(i) }));
  }
  return out;
}
