import type { Fix } from '../../../core/fix.ts';
import { stay, uf, walk } from '../plans-matrix.ts';
import { local } from '../rules/track-kit.ts';

/**
 * The track of a sanitation day for the coverage report's tests (test/geofence/coverage-report.test.ts,
 * test/api/coverage-report.test.ts), on the plans of plans-matrix.ts: SP1 (0,1000)-(1000,1000) shift
 * 06:00-07:00, CP1 at (500,500) 08:00-08:30, CP2 at (1500,500) 23:50-00:20 (crosses midnight), all of S1
 * (firm F1); collectionLateGraceMs 1 h.
 */

export const SWEEP: Partial<Fix> = { brush: true, task: 'sweeping' };
const COLLECT: Partial<Fix> = { task: 'collecting' };
export const LATER = local(40); // long after every window's grace

/** S1 sweeps SP1 from x=0 to x=`toX` from 06:05, collects at CP1 at `cp1` and at CP2 at `cp2` */
export function day(toX: number, cp1?: number, cp2?: number): Fix[] {
  const out = walk('S1', local(5, 55), [0, 0], [0, 990], 20, 10_000);
  out.push(...walk('S1', local(6, 5), [0, 1000], [toX, 1000], 10, 10_000, SWEEP));
  out.push(uf('S1', local(7, 30), 480, 480));
  if (cp1 !== undefined) out.push(...stay('S1', cp1, [500, 500], 6, 10_000, COLLECT));
  out.push(uf('S1', local(10), 0, 0));
  out.push(uf('S1', local(23, 40), 1400, 400));
  if (cp2 !== undefined) out.push(...stay('S1', cp2, [1500, 500], 6, 10_000, COLLECT));
  out.push(uf('S1', local(26), 0, 0));
  return out.sort((a, b) => a.ts - b.ts);
}
