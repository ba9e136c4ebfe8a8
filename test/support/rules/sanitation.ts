/** The world of the sanitation rule tests. */
import type { Fix } from '../../../core/fix.ts';
import { stay, uf, walk } from '../plans-matrix.ts';
import { type Item, local } from './track-kit.ts';

/*
 * Rule matrix, sanitation (issue 15): MISSED_COLLECTION, LATE_COLLECTION, SWEEP_OVERSPEED, SWEEP_COVERAGE
 * and OUT_OF_AREA through the real engine (ALL_RULES) and the real compiled world with the plans of
 * test/support/plans-matrix.ts: CP1 (500,500) 08:00-08:30, CP2 (1500,500) 23:50-00:20, SP1 (0,1000) ->
 * (1000,1000) 06:00-07:00, all of S1. Positive and negative cases, windows across midnight, 15 m noise,
 * gaps, duplicates and out-of-order delivery, restarts.
 */

export const COLLECT: Partial<Fix> = { task: 'collecting' };
export const SAN = [
  'MISSED_COLLECTION',
  'LATE_COLLECTION',
  'SWEEP_OVERSPEED',
  'SWEEP_COVERAGE',
  'OUT_OF_AREA',
];

/** S1 drives from the depot (0,0) at `t0` to CP1, stops there `stopMin` minutes collecting from `stopAt` */
export function collectionDay(stopAt: number, extra: Partial<Fix> = COLLECT, stopMin = 2): Fix[] {
  const t0 = local(7, 50);
  const approach = walk('S1', t0, [0, 0], [480, 480], 20, 10_000);
  // idle at the roadside until the stop
  const last = approach[approach.length - 1]!.ts;
  const idle: Fix[] = [];
  for (let t = last + 60_000; t < stopAt; t += 60_000) idle.push(uf('S1', t, 480, 480, { speed: 0 }));
  const atPoint = stay('S1', stopAt, [500, 500], stopMin * 6, 10_000, extra);
  const leave = walk('S1', stopAt + stopMin * 60_000, [500, 500], [900, 0], 20, 10_000);
  return [...approach, ...idle, ...atPoint, ...leave];
}

export const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

// -------------------------------------------------------------------------------------------- SWEEP_OVERSPEED

export const SWEEP: Partial<Fix> = { task: 'sweeping', brush: true };

// --------------------------------------------------------------------------------------------- SWEEP_COVERAGE

/** S1 out of the depot at 05:55, sweeps SP1 from (0,1000) to (toX,1000) at 10 km/h from 06:05, back */
export function sweepDay(toX: number): Fix[] {
  const out = walk('S1', local(5, 55), [0, 0], [0, 990], 20, 10_000);
  out.push(...walk('S1', local(6, 5), [0, 1000], [toX, 1000], 10, 10_000, SWEEP));
  const end = out[out.length - 1]!.ts;
  out.push(...walk('S1', end + 10_000, [toX, 990], [toX, 0], 20, 10_000));
  return out;
}
