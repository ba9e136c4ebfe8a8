import type { ViolationCode } from './model.ts';
import type { ViolationEvent } from './types.ts';

/**
 * Platform gaps (issue 10 item 6: the platform never charges a firm for its own downtime). A silence in
 * a vehicle's track while the platform itself was down, restarting, or behind its own queues is the
 * platform's, not the firm's: the device may well have reported into a closed socket. The shell knows
 * its own outages (when it last saved its state before a start, how far its intake lagged) and passes
 * them in as plain intervals; this module decides, purely, which silence verdicts they void.
 *
 * The rule, for the two silence verdicts:
 *  - OFFLINE (no fix for longer than the allowance): voided when an outage overlaps the allowance, i.e.
 *    the interval from the last fix to the onset (startTs). A silence whose allowance ran out while the
 *    platform was up is the firm's even if the platform went down later (the onset came first).
 *  - TRACK_GAP for a gap in time (details.reason 'gap'): voided when an outage overlaps the gap between
 *    the two fixes. A jump in position (reason 'speed') is not about time: positions the device sent
 *    that no vehicle could have driven are the device's, outage or not.
 * The plans' verdicts (issue 15) that an unheard stretch of track can cause, each voided when an outage
 * overlaps the time in which what the platform did not hear would have changed the verdict:
 *  - MISSED_COLLECTION: the window and its late grace (a visit then was unheard);
 *  - LATE_COLLECTION: the window up to the late visit (an earlier, timely visit was unheard);
 *  - SWEEP_COVERAGE: the shift (the sweeping fixes of the outage are missing from the coverage);
 *  - NOT_UPLOADED: from the first recording to the deadline (a docking then was unheard);
 *  - NOT_RECORDING: the run of not-recording fixes up to the verdict (a recording fix was unheard).
 * OFFLINE during duty (rules/duty-offline.ts) is an OFFLINE and voided as above. What the device itself
 * reported (outside its grid or plan, a low battery, overspeed, SOS) is never voided: those are the
 * device's positions and readings, not a silence, as for trucks (OFF_ROUTE is not voided either).
 * A voided verdict is not a violation: it is recorded as a PlatformGap (the shell stores it beside the
 * outage, for operators) and never reaches the firm's violations or the scorecard.
 */

export interface Outage {
  /** epoch ms, inclusive */
  start: number;
  /** epoch ms; +Infinity while it lasts */
  end: number;
}

export interface PlatformGap {
  /** the id the violation would have had (`vehicle:code:startTs`): one gap per would-be violation */
  id: string;
  vehicle: string;
  firm: string;
  code: ViolationCode;
  /** the silence: the last fix before it (epoch ms) */
  fromTs: number;
  /** its end: the fix after it, or the instant the silence was judged at */
  toTs: number;
  /** the first outage that overlaps it */
  outageStart: number;
  outageEnd: number;
}

export const NO_OUTAGES: readonly Outage[] = Object.freeze([]);

/**
 * Silences the judge asks again at every tick while the outage may still end (judge.ts leaves the state
 * as it was): the device is judged afresh from the outage's end.
 */
export const RETRIED_SILENCES: ReadonlySet<ViolationCode> = new Set<ViolationCode>(['OFFLINE', 'TRACK_GAP']);

/**
 * Runs restarted once their verdict is voided (judge.ts resets the rule's slice): the next run counts
 * from the first fix after the verdict, so a camera that goes on not recording, or records again and
 * never docks, is judged on what the platform did hear. The other voided verdicts are over (a window, a
 * shift): the rule has moved past them.
 */
export const RESTARTED_RUNS: ReadonlySet<ViolationCode> = new Set<ViolationCode>([
  'NOT_RECORDING',
  'NOT_UPLOADED',
]);

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** The first outage overlapping the open interval (from, to), if any (outages in any order). */
export function outageWithin(outages: readonly Outage[], from: number, to: number): Outage | undefined {
  let first: Outage | undefined;
  for (const o of outages) {
    if (o.start < to && o.end > from && (first === undefined || o.start < first.start)) first = o;
  }
  return first;
}

/**
 * The silence a violation event stands for, when it is a silence verdict an outage can void: `lastFixTs`
 * is the vehicle's last fix before the event, `atTs` the instant it was judged at (the fix that ended a
 * gap, or the tick).
 */
export function silenceOf(
  event: ViolationEvent,
  lastFixTs: number | undefined,
  atTs: number,
): { code: ViolationCode; from: number; to: number } | undefined {
  const v = event.violation;
  if (event.phase !== 'opened' || lastFixTs === undefined) return undefined;
  if (v.code === 'OFFLINE') return { code: v.code, from: lastFixTs, to: v.startTs };
  // the gap is between the two fixes the rule names (with the outlier screen these need not be the last
  // fix heard and the fix stepped: a suspect held back is judged with the fix after it)
  if (v.code === 'TRACK_GAP' && v.details.reason !== 'speed')
    return { code: v.code, from: v.startTs, to: v.endTs ?? atTs };
  return plannedSilenceOf(v, atTs);
}

/** The time of a plan verdict in which the unheard could have changed it (see the header). */
function plannedSilenceOf(
  v: ViolationEvent['violation'],
  atTs: number,
): { code: ViolationCode; from: number; to: number } | undefined {
  const d = v.details;
  switch (v.code) {
    case 'MISSED_COLLECTION': {
      const end = num(d.windowEnd);
      const grace = num(v.thresholds.collectionLateGraceMs) ?? 0;
      return end === undefined ? undefined : { code: v.code, from: v.startTs, to: end + grace };
    }
    case 'LATE_COLLECTION': {
      const from = num(d.windowStart);
      const late = num(d.lateByMs);
      return from === undefined || late === undefined
        ? undefined
        : { code: v.code, from, to: v.startTs + late };
    }
    case 'SWEEP_COVERAGE': {
      const end = num(d.shiftEnd);
      return end === undefined ? undefined : { code: v.code, from: v.startTs, to: end };
    }
    case 'NOT_UPLOADED': {
      const since = num(d.recordedSince);
      return since === undefined ? undefined : { code: v.code, from: since, to: v.startTs };
    }
    case 'NOT_RECORDING':
      return { code: v.code, from: v.startTs, to: atTs };
    default:
      return undefined;
  }
}

/** The platform gap an event is, given the outages; undefined when it stands as a violation. */
export function platformGapOf(
  event: ViolationEvent,
  lastFixTs: number | undefined,
  atTs: number,
  outages: readonly Outage[],
): PlatformGap | undefined {
  if (outages.length === 0) return undefined;
  const silence = silenceOf(event, lastFixTs, atTs);
  if (silence === undefined) return undefined;
  const outage = outageWithin(outages, silence.from, silence.to);
  if (outage === undefined) return undefined;
  const v = event.violation;
  return {
    id: v.id,
    vehicle: v.vehicle,
    firm: v.firm,
    code: silence.code,
    fromTs: silence.from,
    toTs: Math.max(atTs, silence.to),
    outageStart: outage.start,
    outageEnd: outage.end,
  };
}
