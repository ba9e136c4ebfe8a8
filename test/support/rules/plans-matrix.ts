/** The world of the plans-matrix rule tests. */

import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import type { DutyPlan, SweepPlan } from '../../../geofence/plans.ts';
import { CP1, CP2, DP1, SP1, US1, uf, walk } from '../plans-matrix.ts';
import { ENGINE, run } from './matrix/run.ts';
import { snapshot, square } from './matrix/world.ts';
import { type Item, isFix, type Logged, local } from './track-kit.ts';

/*
 * The plans' rule matrix, the cases rules-sanitation and rules-camera leave out (issue 15, "Done when"):
 * shifts crossing midnight for sweeping and duty (positive and negative), gaps in the track for the
 * sweep coverage and the sustained camera rules, and duplicates, swaps and restarts for SWEEP_OVERSPEED
 * and OUT_OF_AREA. Night plans beside the day ones of plans-matrix.ts:
 *
 *   SPN sweep plan of S2: (0,1000) -> (1000,1000), corridor 20 m, shift 22:00-02:00 (crosses midnight)
 *   DPN duty plan of C3: the 1000 m grid centred on (0,-3000), shift 22:00-02:00
 */

export const SPN: SweepPlan = { ...SP1, id: 'SPN', version: 1, windows: ['22:00-02:00'], vehicles: ['S2'] };
export const DPN: DutyPlan = {
  ...DP1,
  id: 'DPN',
  version: 1,
  polygons: [square(0, -3000, 500)],
  windows: ['22:00-02:00'],
  cameras: ['C3'],
  officers: [],
};
export const NIGHT = compileWorld(
  snapshot({
    collectionPoints: [CP1, CP2],
    sweepPlans: [SP1, SPN],
    dutyPlans: [DP1, DPN],
    uploadStations: [US1],
  }),
);

export const SWEEP: Partial<Fix> = { brush: true, task: 'sweeping' };
export const OK: Partial<Fix> = {
  recording: true,
  battery: 80,
  storageFree: 20_000,
  sos: false,
  docked: false,
};
export const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));
export const night = (items: readonly Item[]) => run(items, { world: NIGHT });

/** Runs `items` on NIGHT, the state through JSON after every `every`-th item (a restart). */
export function nightWithRestarts(items: readonly Item[], every: number): Logged[] {
  let state: ReturnType<typeof ENGINE.initial> | undefined;
  const log: Logged[] = [];
  let i = 0;
  for (const item of items) {
    if ('world' in item) continue;
    if (state === undefined) state = ENGINE.initial(isFix(item) ? item.vehicle : 'S2');
    const r = 'tick' in item ? ENGINE.tick(state, item.tick, NIGHT) : ENGINE.step(state, item, NIGHT);
    for (const event of r.events) log.push({ at: 'tick' in item ? item.tick : item.ts, event });
    state = r.state;
    if (++i % every === 0) state = JSON.parse(JSON.stringify(state)) as typeof state;
  }
  return log;
}

// ------------------------------------------------------------------------------- shifts crossing midnight

/** S2 out at 21:50; sweeps SPN from x=0 to `firstX` from 23:00, and from `firstX` to 1000 from 00:30 */
export function nightSweep(firstX: number, second: boolean): Fix[] {
  const out = [uf('S2', local(21, 50), 0, 0, { speed: 0 })];
  out.push(...walk('S2', local(23), [0, 1000], [firstX, 1000], 10, 10_000, SWEEP));
  // parked at the roadside, heard every 10 min (no TRACK_GAP, no OFFLINE)
  for (let t = local(23, 30); t < local(24, 30); t += 600_000) out.push(uf('S2', t, firstX, 990));
  if (second) out.push(...walk('S2', local(24, 30), [firstX, 1000], [1000, 1000], 10, 10_000, SWEEP));
  for (let t = local(25); t <= local(26, 30); t += 600_000) out.push(uf('S2', t, 1000, 990));
  return out.sort((a, b) => a.ts - b.ts);
}

/** C3 in its grid every 15 s from `t0` for `minutes`, `each` overriding a fix's fields (x = metres east) */
export function patrol(
  t0: number,
  minutes: number,
  each: (i: number) => Partial<Fix> & { x?: number } = () => ({}),
) {
  return Array.from({ length: minutes * 4 }, (_, i) => {
    const { x = 0, ...extra } = each(i);
    return uf('C3', t0 + i * 15_000, x, -3000, { speed: 4.8, ...OK, ...extra });
  });
}
