import type { Fix } from '../../core/fix.ts';
import { metresPerDegree } from '../geo/ruler.ts';
import type { Thresholds } from '../model.ts';
import { firstStartingAt } from '../plan-windows.ts';
import type { CollectionPoint } from '../plans.ts';
import { thresholds } from '../thresholds/collection-visits.ts';
import type {
  RuleContext,
  RuleModule,
  StepResult,
  TickContext,
  Violation,
  ViolationEvent,
  World,
} from '../types.ts';
import { idleAsNull, NO_EVENTS, quietResult, unchanged, violationId } from './lifecycle.ts';
import { allowanceM } from './plan-facts.ts';

/**
 * 定点定时收运 (issue 15): each collection point assigned to a vehicle must be visited in each of its
 * windows. One judgement, two codes (rules/missed-collection.ts, rules/late-collection.ts), each module
 * keeping its own copy of this small state so that a rule stays one module:
 *
 * - A VISIT is a fix with a valid position within the point's radius plus the GNSS allowance
 *   (max(accuracyFloorM, accuracy)), stopped (speed <= collectionStopSpeedKmh), with evidence of work:
 *   task `collecting`, or the bin-lift counter up since the previous reading (domain.md: "stop within
 *   the point's radius with a bin lift or collecting task"). Driving past is never a visit.
 * - Each point is watched one window occurrence at a time, from the first occurrence that STARTS at or
 *   after the vehicle's first judged fix with the point assigned (a window already running when the
 *   platform first hears of the vehicle or the plan is not judged: its earlier visits are unknown).
 * - A visit in [start, end) serves the window: nothing is raised. A first visit in [end, end + grace]
 *   is LATE_COLLECTION (startTs = the window's end, endTs = the visit: durationMs is the lateness). No
 *   visit by end + collectionLateGraceMs is MISSED_COLLECTION (startTs = the window's start, endTs = its
 *   end), decided at the first fix or silence tick after that instant: a parked, silent truck still
 *   misses its points. A visit serves one window only. Windows may cross midnight.
 * Both are instantaneous (opened and closed at once) with id `vehicle:CODE:startTs:point`.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

/** Per point: the window occurrence watched [s, e), the first visit in it (v, -1 none) and where. */
interface Watch {
  s: number;
  e: number;
  v: number;
  x: number;
  y: number;
  n?: number;
}

export interface CollectionState {
  /** the last bin-lift counter reading (-1 none) */
  bins: number;
  /** point id -> its watch */
  w: Readonly<Record<string, Watch>>;
}

const IDLE: CollectionState = Object.freeze({ bins: -1, w: Object.freeze({}) });
const QUIET = quietResult(IDLE);
const MAX_WINDOWS_PER_STEP = 64;

type Outcome = { point: CollectionPoint; watch: Watch; late: boolean };

export function isVisit(fix: Fix, point: CollectionPoint, th: Thresholds, binsUp: boolean): boolean {
  if (!fix.valid || (fix.speed ?? 0) > th.collectionStopSpeedKmh) return false;
  if (fix.task !== 'collecting' && !binsUp) return false;
  const { kx, ky } = metresPerDegree(fix.lat);
  const dx = (fix.lon - point.position[0]) * kx;
  const dy = (fix.lat - point.position[1]) * ky;
  return Math.sqrt(dx * dx + dy * dy) <= point.radiusM + allowanceM(fix, th);
}

/** Advances every point's watch to `t` (a visit at `fix` when given); returns the decided windows. */
function advance(
  state: CollectionState,
  world: World,
  vehicle: string,
  t: number,
  th: Thresholds,
  fix: Fix | undefined,
): { state: CollectionState; missed: Outcome[]; late: Outcome[] } {
  const points = world.collectionPointsOf(vehicle);
  const missed: Outcome[] = [];
  const late: Outcome[] = [];
  let bins = state.bins;
  let binsUp = false;
  if (fix?.binLifts !== undefined) {
    binsUp = bins >= 0 && fix.binLifts > bins;
    bins = fix.binLifts;
  }
  if (points.length === 0) {
    return { state: bins === state.bins && state === IDLE ? state : { bins, w: IDLE.w }, missed, late };
  }
  let changed = bins !== state.bins || Object.keys(state.w).length !== points.length;
  const w: Record<string, Watch> = {};
  for (const p of points) {
    let watch: Watch | undefined = state.w[p.id];
    if (watch === undefined) {
      const o = firstStartingAt(p.windows, t);
      if (o === undefined) continue;
      watch = { s: o.start, e: o.end, v: -1, x: 0, y: 0 };
      changed = true;
    }
    let visiting = fix !== undefined && isVisit(fix, p, th, binsUp);
    for (let i = 0; i < MAX_WINDOWS_PER_STEP; i++) {
      const deadline = watch.e + th.collectionLateGraceMs;
      if (visiting && fix !== undefined && watch.v < 0 && fix.ts >= watch.s && fix.ts <= deadline) {
        const n = fix.binLifts !== undefined && binsUp ? fix.binLifts - state.bins : undefined;
        watch = { ...watch, v: fix.ts, x: fix.lon, y: fix.lat, ...(n === undefined ? {} : { n }) };
        visiting = false;
        changed = true;
      }
      let decided = false;
      if (watch.v >= 0) {
        if (watch.v >= watch.e) late.push({ point: p, watch, late: true });
        decided = true;
      } else if (t > deadline) {
        missed.push({ point: p, watch, late: false });
        decided = true;
      }
      if (!decided) break;
      changed = true;
      const o = firstStartingAt(p.windows, watch.e);
      if (o === undefined) {
        watch = undefined;
        break;
      }
      watch = { s: o.start, e: o.end, v: -1, x: 0, y: 0 };
    }
    if (watch !== undefined) w[p.id] = watch;
  }
  return { state: changed ? { bins, w } : state, missed, late };
}

function instant(
  code: 'MISSED_COLLECTION' | 'LATE_COLLECTION',
  version: number,
  vehicle: string,
  firm: string,
  at: number,
  o: Outcome,
  world: World,
  th: Thresholds,
): ViolationEvent[] {
  const { point: p, watch } = o;
  const startTs = code === 'MISSED_COLLECTION' ? watch.s : watch.e;
  const endTs = code === 'MISSED_COLLECTION' ? watch.e : watch.v;
  const pos: [number, number] =
    code === 'MISSED_COLLECTION' ? [p.position[0], p.position[1]] : [watch.x, watch.y];
  const details: Violation['details'] = { point: p.id, windowStart: watch.s, windowEnd: watch.e };
  if (code === 'LATE_COLLECTION') {
    details.lateByMs = watch.v - watch.e;
    if (watch.n !== undefined) details.bins = watch.n;
  }
  if (p.binsExpected !== undefined) details.binsExpected = p.binsExpected;
  const violation: Violation = {
    id: `${violationId(vehicle, code, startTs)}:${p.id}`,
    code,
    vehicle,
    firm,
    startTs,
    detectedTs: at,
    level: 0,
    startPos: pos,
    lastPos: pos,
    refs: [world.thresholdsRef, { kind: 'collection_point', id: p.id, version: p.version }],
    thresholds: {
      collectionStopSpeedKmh: th.collectionStopSpeedKmh,
      collectionLateGraceMs: th.collectionLateGraceMs,
    },
    ruleVersion: version,
    details,
  };
  const closed: Violation = { ...violation, endTs, durationMs: endTs - startTs };
  return [
    { phase: 'opened', violation },
    { phase: 'closed', violation: closed },
  ];
}

/** The module for one of the two codes (see the header). */
export function collectionRule(
  code: 'MISSED_COLLECTION' | 'LATE_COLLECTION',
): RuleModule<CollectionState | null> {
  const VERSION = 1;
  const emit = (
    r: ReturnType<typeof advance>,
    prev: CollectionState,
    vehicle: string,
    firm: string,
    at: number,
    world: World,
    th: Thresholds,
  ): StepResult<CollectionState> => {
    const decided = code === 'MISSED_COLLECTION' ? r.missed : r.late;
    const events =
      decided.length === 0
        ? NO_EVENTS
        : decided.flatMap((o) => instant(code, VERSION, vehicle, firm, at, o, world, th));
    if (r.state === prev && events === NO_EVENTS) return unchanged(prev, QUIET);
    return { state: r.state, events };
  };
  return idleAsNull<CollectionState>(
    {
      code,
      version: VERSION,
      thresholds,
      appliesTo: ['sanitation'],
      initial: () => IDLE,
      step(state, ctx: RuleContext) {
        const { fix, world, thresholds: th } = ctx;
        const r = advance(state, world, fix.vehicle, fix.ts, th, fix);
        return emit(r, state, fix.vehicle, fix.firm, fix.ts, world, th);
      },
      tick(state, ctx: TickContext) {
        if (ctx.last === undefined || Object.keys(state.w).length === 0) return unchanged(state, QUIET);
        const r = advance(state, ctx.world, ctx.vehicle, ctx.nowMs, ctx.thresholds, undefined);
        return emit(r, state, ctx.vehicle, ctx.last.firm, ctx.nowMs, ctx.world, ctx.thresholds);
      },
    },
    IDLE,
  );
}
