import type { Fix } from '../../core/fix.ts';
import { compileWorld } from '../../geofence/compile.ts';
import type { VehicleState } from '../../geofence/engine.ts';
import type { CollectionPoint, DutyPlan, SweepPlan, UploadStation } from '../../geofence/plans.ts';
import { ENGINE, run } from './rules/matrix/run.ts';
import { fixAt } from './rules/matrix/tracks.ts';
import { pt, snapshot, square } from './rules/matrix/world.ts';
import { type Item, isFix, type Logged } from './rules/track-kit.ts';

/*
 * The plans of the rule matrix (issue 15), on the matrix world of rules/matrix/world.ts (local metres east /
 * north of 117.23 E, 31.82 N; DAY 2026-11-10). S1 is a sanitation vehicle, C1 a body camera worn by
 * officer off-1.
 *
 *   SP1 sweep plan of S1: (0,1000) -> (1000,1000), corridor 20 m, shift 06:00-07:00
 *   CP1 collection point of S1 at (500,500), radius 30 m, window 08:00-08:30
 *   CP2 collection point of S1 at (1500,500), radius 30 m, window 23:50-00:20 (crosses midnight)
 *   DP1 duty plan: grid 1000 m square centred on (0,-3000), shift 08:00-12:00, camera C1, officer off-2
 *   US1 upload station at (0,-3000), radius 50 m
 */

export const CP1: CollectionPoint = {
  id: 'CP1',
  version: 2,
  firm: 'F1',
  name: '收运点一',
  position: pt(500, 500),
  radiusM: 30,
  windows: ['08:00-08:30'],
  vehicles: ['S1'],
  binsExpected: 4,
};
export const CP2: CollectionPoint = {
  id: 'CP2',
  version: 1,
  firm: 'F1',
  name: '收运点二 (夜)',
  position: pt(1500, 500),
  radiusM: 30,
  windows: ['23:50-00:20'],
  vehicles: ['S1'],
};
export const SP1: SweepPlan = {
  id: 'SP1',
  version: 3,
  firm: 'F1',
  name: '清扫一',
  lines: [[pt(0, 1000), pt(1000, 1000)]],
  corridorM: 20,
  windows: ['06:00-07:00'],
  vehicles: ['S1'],
};
export const DP1: DutyPlan = {
  id: 'DP1',
  version: 1,
  firm: 'F1',
  name: '网格一',
  polygons: [square(0, -3000, 500)],
  windows: ['08:00-12:00'],
  cameras: ['C1'],
  officers: ['off-2'],
};
export const US1: UploadStation = {
  id: 'US1',
  version: 1,
  name: '采集站一',
  position: pt(0, -3000),
  radiusM: 50,
};

export const PLAN_WORLD = compileWorld(
  snapshot({ collectionPoints: [CP1, CP2], sweepPlans: [SP1], dutyPlans: [DP1], uploadStations: [US1] }),
);

/** a sanitation (S*) or body-camera (C*) fix at local metres (x, y) */
export function uf(unit: string, ts: number, x: number, y: number, extra: Partial<Fix> = {}): Fix {
  const kind = unit.startsWith('C') ? 'body_camera' : 'sanitation';
  const base = fixAt(unit, ts, x, y, { kind, speed: 0 });
  const { ign: _ign, ...rest } = base;
  return { ...(kind === 'sanitation' ? base : rest), ...extra };
}

/** fixes every `every` ms from (x0, y0) to (x1, y1) inclusive of both ends, starting at t0 */
export function walk(
  unit: string,
  t0: number,
  from: [number, number],
  to: [number, number],
  kmh: number,
  every: number,
  extra: Partial<Fix> = {},
): Fix[] {
  const dist = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const n = Math.max(1, Math.ceil(dist / (((kmh / 3.6) * every) / 1000) - 1e-9));
  const out: Fix[] = [];
  for (let i = 0; i <= n; i++) {
    const f = i / n;
    out.push(
      uf(unit, t0 + i * every, from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f, {
        speed: kmh,
        ...extra,
      }),
    );
  }
  return out;
}

/** `n` fixes `every` ms apart at one place, from t0 */
export function stay(
  unit: string,
  t0: number,
  at: [number, number],
  n: number,
  every: number,
  extra: Partial<Fix> = {},
): Fix[] {
  return Array.from({ length: n }, (_, i) => uf(unit, t0 + i * every, at[0], at[1], { speed: 0, ...extra }));
}

export function runPlans(items: readonly Item[], vehicle?: string) {
  return run(items, { world: PLAN_WORLD, ...(vehicle ? { vehicle } : {}) });
}

/** only the given codes, as `CODE:phase:start-end` */
export function codes(log: readonly Logged[], ...only: string[]): string[] {
  return log
    .filter((l) => only.length === 0 || only.includes(l.event.violation.code))
    .map(
      (l) =>
        `${l.event.violation.code}:${l.event.phase}:${l.event.violation.startTs}-${l.event.violation.endTs ?? ''}`,
    );
}

/** Runs `items`, persisting the state as JSON and reading it back after every `every`-th item (a restart). */
export function runWithRestarts(items: readonly Item[], every: number): Logged[] {
  let state: VehicleState | undefined;
  const log: Logged[] = [];
  let i = 0;
  for (const item of items) {
    if ('world' in item) continue;
    if (state === undefined) state = ENGINE.initial(isFix(item) ? item.vehicle : 'S1');
    const r =
      'tick' in item ? ENGINE.tick(state, item.tick, PLAN_WORLD) : ENGINE.step(state, item, PLAN_WORLD);
    for (const event of r.events) log.push({ at: 'tick' in item ? item.tick : item.ts, event });
    state = r.state;
    if (++i % every === 0) state = JSON.parse(JSON.stringify(state)) as VehicleState;
  }
  return log;
}
