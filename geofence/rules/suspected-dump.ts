import { thresholds } from '../thresholds/suspected-dump.ts';
import type { RuleContext, RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, quietResult, unchanged } from './lifecycle.ts';
import { namedSites, nearestSite, refsWith, unloadedAt } from './load-refs.ts';

/**
 * SUSPECTED_DUMP (疑似偷倒): a loaded truck (`facts.loaded`) slower than `suspectedDumpSpeedKmh` for MORE
 * than `suspectedDumpMinMs` (domain.md: "> 5 min") outside every site. Opens at the fix where the slow
 * run has lasted longer than the minimum, with startTs = the first slow fix of the run; closes at the
 * first fix that is moving again, inside a site, or no longer loaded.
 *
 * "Outside every site": no site contains the position, and the fix is not within `accuracyFloorM` of a
 * site named by the vehicle's valid permits (a truck queueing at the gate of its disposal site). A fix
 * without a valid position (`fix.valid === false`) continues a run already under way but never starts
 * one. A fix without speed counts as stopped.
 *
 * State: the start of the slow run (-1 when none), its first position, and the open violation.
 * details: stoppedMs (at open: the run so far; at close: the whole duration), endReason at close
 * (moving|site|unloaded).
 */

export interface SuspectedDumpState {
  /** ts of the first slow loaded fix outside sites, -1 when no run */
  since: number;
  lon: number;
  lat: number;
  open: Violation | null;
}

/** No slow run, nothing open (shared by every such vehicle). */
const IDLE: SuspectedDumpState = Object.freeze({ since: -1, lon: 0, lat: 0, open: null });
const QUIET = quietResult(IDLE);

function atSite(ctx: RuleContext): boolean {
  if (ctx.facts.sites.length > 0) return true;
  const permits = ctx.facts.validPermits;
  if (permits.length === 0) return false;
  const ids = [...namedSites(permits, 'origins'), ...namedSites(permits, 'disposals')];
  const near = nearestSite(ctx, ids);
  return near !== null && near.distanceM <= ctx.thresholds.accuracyFloorM;
}

/**
 * 2: judged on the confirmed load (`facts.loaded`, rules/confirm.ts), a violation that ends because the
 * truck unloaded ending at the unloading's onset (1: on the raw load reading of each fix).
 */
const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const suspectedDump: RuleModule<SuspectedDumpState> = {
  code: 'SUSPECTED_DUMP',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx) {
    const { fix, thresholds: t } = ctx;
    const slow = (fix.speed ?? 0) < t.suspectedDumpSpeedKmh;
    // "at a site" costs boundary distances: asked only when it decides something (a loaded truck that
    // is slow, or that has a violation open whose end reason it names)
    const loaded = ctx.facts.loaded;
    const site = loaded && (slow || state.open !== null) && (fix.valid ? atSite(ctx) : state.since < 0);
    const cond = loaded && slow && !site;

    if (!cond) {
      if (state.open === null) return state.since < 0 ? unchanged(state, QUIET) : QUIET;
      const endReason = !ctx.facts.loaded ? 'unloaded' : site ? 'site' : 'moving';
      // an unloading confirmed after its onset (load-events.ts) ended the stop at that onset
      const endTs = endReason === 'unloaded' ? unloadedAt(ctx, state.since) : fix.ts;
      const closed = close(state.open, endTs, [fix.lon, fix.lat]);
      closed.violation.details = { ...closed.violation.details, stoppedMs: endTs - state.since, endReason };
      return { state: IDLE, events: [closed] };
    }

    const since = state.since < 0 ? fix.ts : state.since;
    const lon = state.since < 0 ? fix.lon : state.lon;
    const lat = state.since < 0 ? fix.lat : state.lat;
    if (state.open !== null || fix.ts - since <= t.suspectedDumpMinMs) {
      const same = since === state.since;
      return { state: same ? state : { since, lon, lat, open: state.open }, events: NO_EVENTS };
    }
    const o = open(ctx, {
      code: 'SUSPECTED_DUMP',
      ruleVersion: RULE_VERSION,
      startTs: since,
      startPos: [lon, lat],
      refs: refsWith(ctx, [], []),
      thresholds: {
        suspectedDumpSpeedKmh: t.suspectedDumpSpeedKmh,
        suspectedDumpMinMs: t.suspectedDumpMinMs,
        accuracyFloorM: t.accuracyFloorM,
      },
      details: { stoppedMs: fix.ts - since },
    });
    return { state: { since, lon, lat, open: o.violation }, events: [o.event] };
  },
};
