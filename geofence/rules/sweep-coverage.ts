import type { Fix } from '../../core/fix.ts';
import { metresPerDegree } from '../geo/ruler.ts';
import type { Position, Thresholds } from '../model.ts';
import { firstStartingAt } from '../plan-windows.ts';
import { SWEEP_PIECE_M, type SweepLayout, type SweepPlan } from '../plans.ts';
import { thresholds } from '../thresholds/sweep-coverage.ts';
import type { RuleModule, StepResult, Violation, ViolationEvent, World } from '../types.ts';
import { idleAsNull, NO_EVENTS, quietResult, unchanged, violationId } from './lifecycle.ts';
import { allowanceM, isSweeping, r1 } from './plan-facts.ts';

/**
 * SWEEP_COVERAGE (清扫覆盖率不足): at the end of each shift of a sweep plan, the share of the plan's
 * road length the vehicle swept; under `sweepCoverageMin` it is a violation with the unswept stretches.
 *
 * The plan is cut into pieces of SWEEP_PIECE_M (20 m) along each stretch (compile.ts). A fix sweeping
 * (brush on or task `sweeping`) inside the shift with a valid position within the plan's corridor plus
 * the GNSS allowance marks the piece it projects onto; two such consecutive fixes on the same stretch
 * at most `sweepLinkMaxMs` apart mark every piece between them (the road between two reports was swept:
 * a sweeper at 10 km/h reports every ~30 m; not farther apart than twice the sweeping speed limit
 * allows, plus two pieces). 15 m of noise moves a projection by less than a piece.
 * Shifts are watched from the first one that STARTS at or after the first judged fix with the plan (a
 * shift already running when the platform first hears of the vehicle is not judged). The judgement is
 * made at the first fix or silence tick at or after the shift's end: a sweeper that never came out
 * swept nothing. Instantaneous: startTs = the shift's start, endTs = its end, id `vehicle:CODE:start:plan`.
 * details: shiftEnd (the platform's outages in the shift void it: platform-gaps.ts), coveragePct, plannedM, sweptM, unsweptM, unswept (the unswept stretches as a GeoJSON
 * MultiLineString geometry in a JSON string, WGS-84, 6 decimals).
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

/** Per plan: the shift watched [s, e), the swept pieces (32 per number) and the last sweeping match. */
export interface SweepShift {
  s: number;
  e: number;
  bits: readonly number[];
  /** stretch, metres along, ts of the last sweeping fix on the plan (l = -1 none) */
  l: number;
  a: number;
  t: number;
}

export interface SweepCoverageState {
  p: Readonly<Record<string, SweepShift>>;
}

const IDLE: SweepCoverageState = Object.freeze({ p: Object.freeze({}) });
const QUIET = quietResult(IDLE);
const VERSION = 1;
const MAX_SHIFTS_PER_STEP = 64;

export function freshShift(s: number, e: number): SweepShift {
  return { s, e, bits: [], l: -1, a: 0, t: 0 };
}

function pieceOf(layout: SweepLayout, line: number, alongM: number): number {
  const n = pieceCount(layout, line);
  return layout.offsets[line]! + Math.min(n - 1, Math.max(0, Math.floor(alongM / SWEEP_PIECE_M)));
}

function pieceCount(layout: SweepLayout, line: number): number {
  const next = line + 1 < layout.offsets.length ? layout.offsets[line + 1]! : layout.totalPieces;
  return next - layout.offsets[line]!;
}

function mark(bits: readonly number[], from: number, to: number): readonly number[] {
  let out: number[] | undefined;
  for (let k = Math.min(from, to); k <= Math.max(from, to); k++) {
    const word = k >>> 5;
    const bit = 1 << (k & 31);
    const cur = (out ?? bits)[word] ?? 0;
    if ((cur & bit) !== 0) continue;
    out ??= bits.slice();
    while (out.length <= word) out.push(0);
    out[word] = cur | bit;
  }
  return out ?? bits;
}

const isSet = (bits: readonly number[], k: number) => (((bits[k >>> 5] ?? 0) >>> (k & 31)) & 1) === 1;

/** The part of a line between two distances along it. */
function slice(line: readonly Position[], fromM: number, toM: number): Position[] {
  const out: Position[] = [];
  let along = 0;
  const at = (a: Position, b: Position, f: number): Position => [
    Math.round((a[0] + (b[0] - a[0]) * f) * 1e6) / 1e6,
    Math.round((a[1] + (b[1] - a[1]) * f) * 1e6) / 1e6,
  ];
  for (let i = 0; i + 1 < line.length; i++) {
    const a = line[i]!;
    const b = line[i + 1]!;
    const { kx, ky } = metresPerDegree((a[1] + b[1]) / 2);
    const len = Math.hypot((b[0] - a[0]) * kx, (b[1] - a[1]) * ky);
    const s0 = along;
    const s1 = along + len;
    along = s1;
    if (s1 < fromM || s0 > toM || len === 0) continue;
    if (out.length === 0) out.push(at(a, b, Math.max(0, (fromM - s0) / len)));
    out.push(at(a, b, Math.min(1, (toM - s0) / len)));
    if (s1 >= toM) break;
  }
  return out;
}

/** The swept length of a shift's pieces and the unswept stretches (the rule and the coverage report). */
export function sweptOf(
  plan: SweepPlan,
  layout: SweepLayout,
  bits: readonly number[],
): { sweptM: number; unswept: Position[][] } {
  let sweptM = 0;
  const unswept: Position[][] = [];
  for (let line = 0; line < layout.offsets.length; line++) {
    const n = pieceCount(layout, line);
    const len = layout.lengthsM[line]!;
    let runFrom = -1;
    for (let k = 0; k <= n; k++) {
      const swept = k < n && isSet(bits, layout.offsets[line]! + k);
      const pieceM = k < n ? Math.min(SWEEP_PIECE_M, len - k * SWEEP_PIECE_M) : 0;
      if (swept) sweptM += pieceM;
      if (k < n && !swept && runFrom < 0) runFrom = k;
      if ((swept || k === n) && runFrom >= 0) {
        const part = slice(plan.lines[line]!, runFrom * SWEEP_PIECE_M, Math.min(len, k * SWEEP_PIECE_M));
        if (part.length >= 2) unswept.push(part);
        runFrom = -1;
      }
    }
  }
  return { sweptM, unswept };
}

function judge(
  plan: SweepPlan,
  layout: SweepLayout,
  shift: SweepShift,
  vehicle: string,
  firm: string,
  at: number,
  world: World,
  th: Thresholds,
): ViolationEvent[] {
  const { sweptM, unswept } = sweptOf(plan, layout, shift.bits);
  const coverage = layout.totalM > 0 ? sweptM / layout.totalM : 1;
  if (coverage >= th.sweepCoverageMin) return [];
  const pos: [number, number] = [plan.lines[0]![0]![0], plan.lines[0]![0]![1]];
  const violation: Violation = {
    id: `${violationId(vehicle, 'SWEEP_COVERAGE', shift.s)}:${plan.id}`,
    code: 'SWEEP_COVERAGE',
    vehicle,
    firm,
    startTs: shift.s,
    detectedTs: at,
    level: 0,
    startPos: pos,
    lastPos: pos,
    refs: [world.thresholdsRef, { kind: 'sweep_plan', id: plan.id, version: plan.version }],
    thresholds: { sweepCoverageMin: th.sweepCoverageMin, sweepLinkMaxMs: th.sweepLinkMaxMs },
    ruleVersion: VERSION,
    details: {
      plan: plan.id,
      shiftEnd: shift.e,
      coveragePct: r1(coverage * 100),
      plannedM: r1(layout.totalM),
      sweptM: r1(sweptM),
      unsweptM: r1(layout.totalM - sweptM),
      unswept: JSON.stringify({ type: 'MultiLineString', coordinates: unswept }),
    },
  };
  return [
    { phase: 'opened', violation },
    { phase: 'closed', violation: { ...violation, endTs: shift.e, durationMs: shift.e - shift.s } },
  ];
}

/**
 * A shift's pieces after one sweeping fix with a valid position (the caller checks both): the piece the
 * fix marks, linked to the previous sweeping fix (see the header); the same object when nothing changed.
 * Shared by the rule and the coverage report (geofence/coverage-report.ts).
 */
export function sweepShiftStep(
  shift: SweepShift,
  plan: SweepPlan,
  layout: SweepLayout,
  fix: Fix,
  world: World,
  th: Thresholds,
): SweepShift {
  if (fix.ts < shift.s || fix.ts >= shift.e) return shift;
  const m = world.sweepMatch(plan.id, [fix.lon, fix.lat]);
  if (m !== undefined && m.distanceM <= plan.corridorM + allowanceM(fix, th)) {
    const k = pieceOf(layout, m.line, m.alongM);
    // linked: the same stretch, soon after, and no farther along than a sweeper could have gone
    const dt = fix.ts - shift.t;
    const reachM = (dt / 3_600_000) * th.sweepSpeedLimitKmh * 1000 * 2 + 2 * SWEEP_PIECE_M;
    const linked = shift.l === m.line && dt <= th.sweepLinkMaxMs && Math.abs(m.alongM - shift.a) <= reachM;
    const bits = mark(shift.bits, linked ? pieceOf(layout, m.line, shift.a) : k, k);
    return { ...shift, bits, l: m.line, a: m.alongM, t: fix.ts };
  }
  return shift.l === -1 ? shift : { ...shift, l: -1 };
}

function advance(
  state: SweepCoverageState,
  world: World,
  vehicle: string,
  firm: string,
  t: number,
  th: Thresholds,
  fix: Fix | undefined,
): StepResult<SweepCoverageState> {
  const plans = world.sweepPlansOf(vehicle);
  if (plans.length === 0) return state === IDLE ? QUIET : { state: IDLE, events: NO_EVENTS };
  let events: ViolationEvent[] | undefined;
  let changed = Object.keys(state.p).length !== plans.length;
  const out: Record<string, SweepShift> = {};
  const sweeping = fix?.valid === true && isSweeping(fix);
  for (const plan of plans) {
    const layout = world.sweepLayout(plan.id);
    if (layout === undefined) continue;
    let shift: SweepShift | undefined = state.p[plan.id];
    if (shift === undefined) {
      const o = firstStartingAt(plan.windows, t);
      if (o === undefined) continue;
      shift = freshShift(o.start, o.end);
      changed = true;
    }
    for (let i = 0; i < MAX_SHIFTS_PER_STEP && t >= shift.e; i++) {
      const es = judge(plan, layout, shift, vehicle, firm, t, world, th);
      if (es.length > 0) events = events === undefined ? es : [...events, ...es];
      const o = firstStartingAt(plan.windows, shift.e);
      changed = true;
      if (o === undefined) {
        shift = undefined;
        break;
      }
      shift = freshShift(o.start, o.end);
    }
    if (shift === undefined) continue;
    if (sweeping && fix !== undefined) {
      const next = sweepShiftStep(shift, plan, layout, fix, world, th);
      if (next !== shift) {
        shift = next;
        changed = true;
      }
    }
    out[plan.id] = shift;
  }
  if (!changed && events === undefined) return unchanged(state, QUIET);
  return { state: changed ? { p: out } : state, events: events ?? NO_EVENTS };
}

export const sweepCoverage: RuleModule<SweepCoverageState | null> = idleAsNull<SweepCoverageState>(
  {
    code: 'SWEEP_COVERAGE',
    version: VERSION,
    thresholds,
    appliesTo: ['sanitation'],
    initial: () => IDLE,
    step(state, ctx) {
      return advance(state, ctx.world, ctx.fix.vehicle, ctx.fix.firm, ctx.fix.ts, ctx.thresholds, ctx.fix);
    },
    tick(state, ctx) {
      if (ctx.last === undefined || Object.keys(state.p).length === 0) return unchanged(state, QUIET);
      return advance(state, ctx.world, ctx.vehicle, ctx.last.firm, ctx.nowMs, ctx.thresholds, undefined);
    },
  },
  IDLE,
);
