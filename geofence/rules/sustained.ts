import type { EntityRef, Thresholds, ViolationCode } from '../model.ts';
import type { RuleContext, StepResult, Violation } from '../types.ts';
import { close, NO_EVENTS, open, quietResult } from './lifecycle.ts';

/**
 * A condition that must hold for a sustained time before it is a violation, and stop holding for a
 * sustained time before the violation ends: the shape of OUT_OF_AREA, OUT_OF_GRID, NOT_RECORDING,
 * LOW_BATTERY, LOW_STORAGE and SOS (issue 15). Each rule reads its fix into one of:
 * - 'on':   the condition holds (outside the grid, not recording, battery low...);
 * - 'off':  it does not hold: an open violation ends once 'off' has lasted `backMs` (from the first
 *           'off' fix, which is the end instant), a run not yet open is dropped;
 * - 'end':  the context is gone (off duty, shift over, not working): an open violation ends at once
 *           (at the first 'off' fix if one came before);
 * - 'skip': the fix says nothing (no reading, no valid position): nothing changes.
 * Opens at the fix where the run of 'on' fixes has lasted `minMs` and counted `minFixes`, with startTs =
 * the run's first fix (GNSS noise: a single fix outside proves nothing, domain.md).
 *
 * The idle slice is `null` (most units, most fixes: the state of a vehicle that these rules do not
 * judge stays a few bytes, issue 3's 1 KiB per vehicle).
 */

export type Reading = 'on' | 'off' | 'end' | 'skip';

export interface RunState {
  /** first 'on' fix of the run */
  since: number;
  /** 'on' fixes in the run */
  n: number;
  lon: number;
  lat: number;
  /** first 'off' fix while open, -1 when none */
  back: number;
  /** the run's extreme reading (the rule says which: maximum metres outside, minimum battery...) */
  x: number;
  open: Violation | null;
}

export type RunSlot = RunState | null;

export const RUN_QUIET: StepResult<RunSlot> = quietResult<RunSlot>(null);

export interface RunSpec {
  code: ViolationCode;
  version: number;
  minMs: number;
  minFixes: number;
  backMs: number;
  refs: EntityRef[];
  thresholds: Partial<Thresholds>;
  details?: Violation['details'];
  level?: number;
}

export interface RunOptions {
  /** the reading of this fix for the run's extreme, and whether the extreme is a maximum or a minimum */
  value?: number;
  extreme?: 'max' | 'min';
  /** figures added at close from the run's extreme */
  atClose?: (x: number) => Violation['details'];
}

export function stepRun(
  state: RunSlot,
  ctx: RuleContext,
  reading: Reading,
  spec: () => RunSpec,
  opts: RunOptions = {},
): StepResult<RunSlot> {
  const { fix } = ctx;
  if (reading === 'skip') return state === null ? RUN_QUIET : { state, events: NO_EVENTS };
  if (state === null || state.open === null) {
    if (reading !== 'on') return state === null ? RUN_QUIET : { state: null, events: NO_EVENTS };
    const v = opts.value ?? 0;
    const x = state === null ? v : opts.extreme === 'min' ? Math.min(state.x, v) : Math.max(state.x, v);
    const run: RunState = {
      since: state === null ? fix.ts : state.since,
      n: (state?.n ?? 0) + 1,
      lon: state === null ? fix.lon : state.lon,
      lat: state === null ? fix.lat : state.lat,
      back: -1,
      x,
      open: null,
    };
    const s = spec();
    if (run.n < s.minFixes || fix.ts - run.since < s.minMs) return { state: run, events: NO_EVENTS };
    const o = open(ctx, {
      code: s.code,
      ruleVersion: s.version,
      startTs: run.since,
      startPos: [run.lon, run.lat],
      refs: s.refs,
      thresholds: s.thresholds,
      details: s.details ?? {},
      level: s.level ?? 0,
    });
    return { state: { ...run, open: o.violation }, events: [o.event] };
  }
  if (reading === 'on') {
    const v = opts.value;
    const x =
      v === undefined ? state.x : opts.extreme === 'min' ? Math.min(state.x, v) : Math.max(state.x, v);
    if (state.back < 0 && x === state.x) return { state, events: NO_EVENTS };
    return { state: { ...state, back: -1, x }, events: NO_EVENTS };
  }
  const back = state.back < 0 ? fix.ts : state.back;
  if (reading === 'off' && fix.ts - back < spec().backMs) {
    return back === state.back
      ? { state, events: NO_EVENTS }
      : { state: { ...state, back }, events: NO_EVENTS };
  }
  const closed = close(state.open, back, [fix.lon, fix.lat]);
  closed.violation.details = {
    ...closed.violation.details,
    ...(opts.atClose?.(state.x) ?? {}),
    endReason: reading === 'end' ? 'ended' : 'back',
  };
  return { state: null, events: [closed] };
}
