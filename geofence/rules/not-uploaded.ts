import type { EntityRef } from '../model.ts';
import { thresholds } from '../thresholds/not-uploaded.ts';
import type { RuleModule, TickContext, Violation } from '../types.ts';
import { close, idleAsNull, NO_EVENTS, quietResult, unchanged, violationId } from './lifecycle.ts';

/**
 * NOT_UPLOADED (未按时上传): footage recorded by a body camera that has not been docked at an upload
 * station (采集站) within `uploadMaxMs` (policy: 24 h) of the first recording since its last docking.
 * The clock starts at the first fix with `recording: true` after a docking (or ever); a fix with
 * `docked: true` uploads everything (the state restarts). When the time runs out the violation opens,
 * at the first fix after it or at the silence tick (a camera switched off in a drawer still owes its
 * footage), with startTs = first recording + uploadMaxMs; it closes at the docking fix. The station is
 * named in refs when the docking fix lies within one's radius. details: recordedSince.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export interface NotUploadedState {
  /** first recording fix since the last docking, -1 none */
  since: number;
  open: Violation | null;
}

const IDLE: NotUploadedState = Object.freeze({ since: -1, open: null });
const QUIET = quietResult(IDLE);
const VERSION = 1;

function opened(
  unit: string,
  firm: string,
  since: number,
  at: number,
  pos: [number, number],
  ctx: Pick<TickContext, 'world' | 'thresholds'>,
): Violation {
  const startTs = since + ctx.thresholds.uploadMaxMs;
  const refs: EntityRef[] = [ctx.world.thresholdsRef];
  return {
    id: violationId(unit, 'NOT_UPLOADED', startTs),
    code: 'NOT_UPLOADED',
    vehicle: unit,
    firm,
    startTs,
    detectedTs: at,
    level: 0,
    startPos: pos,
    lastPos: pos,
    refs,
    thresholds: { uploadMaxMs: ctx.thresholds.uploadMaxMs },
    ruleVersion: VERSION,
    details: { recordedSince: since },
  };
}

export const notUploaded: RuleModule<NotUploadedState | null> = idleAsNull<NotUploadedState>(
  {
    code: 'NOT_UPLOADED',
    version: VERSION,
    thresholds,
    appliesTo: ['body_camera'],
    initial: () => IDLE,
    step(state, ctx) {
      const { fix } = ctx;
      if (fix.docked === true) {
        if (state.open === null) return state.since < 0 ? unchanged(state, QUIET) : QUIET;
        const closed = close(state.open, Math.max(fix.ts, state.open.startTs), [fix.lon, fix.lat]);
        const station = fix.valid ? ctx.world.uploadStationAt(ctx.facts.pos) : undefined;
        if (station !== undefined) {
          closed.violation.refs = [
            ...closed.violation.refs,
            { kind: 'upload_station', id: station.id, version: station.version },
          ];
          closed.violation.details = { ...closed.violation.details, station: station.id };
        }
        return { state: IDLE, events: [closed] };
      }
      let since = state.since;
      if (since < 0 && fix.recording === true) since = fix.ts;
      if (since < 0) return unchanged(state, QUIET);
      if (state.open === null && fix.ts > since + ctx.thresholds.uploadMaxMs) {
        const v = opened(fix.vehicle, fix.firm, since, fix.ts, [fix.lon, fix.lat], ctx);
        return { state: { since, open: v }, events: [{ phase: 'opened', violation: v }] };
      }
      return since === state.since
        ? { state, events: NO_EVENTS }
        : { state: { since, open: state.open }, events: NO_EVENTS };
    },
    tick(state, ctx) {
      const last = ctx.last;
      if (state.open !== null || state.since < 0 || last === undefined) return unchanged(state, QUIET);
      if (ctx.nowMs <= state.since + ctx.thresholds.uploadMaxMs) return unchanged(state, QUIET);
      const v = opened(ctx.vehicle, last.firm, state.since, ctx.nowMs, [last.lon, last.lat], ctx);
      return { state: { since: state.since, open: v }, events: [{ phase: 'opened', violation: v }] };
    },
  },
  IDLE,
);
