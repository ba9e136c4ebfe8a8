import type { Fix } from '../core/fix.ts';
import type { Engine, VehicleState } from './engine.ts';
import type { ViolationCode } from './model.ts';
import {
  NO_OUTAGES,
  type Outage,
  type PlatformGap,
  platformGapOf,
  RESTARTED_RUNS,
  RETRIED_SILENCES,
} from './platform-gaps.ts';
import { initialTrips, stepTrips, type TripEvent, type TripState, tripInput } from './trips.ts';
import type { ViolationEvent, World } from './types.ts';

/**
 * One vehicle's judgement as the shell runs it, in-order fix by fix and again when late fixes re-judge
 * it (geofence/backfill.ts): the engine's step, the trip tracker, silence at the fix that ends it, the
 * platform's own outages, and a ledger of what is open. Pure, like the engine: the same state, fixes,
 * world and outages give the same output.
 *
 * - Silence is judged at the fix that ends it, too: before a fix is stepped, the engine's silence rules
 *   look at the gap as a tick at that fix's instant would. The shell's live ticks raise OFFLINE while a
 *   device is silent; this makes the verdict a function of the fixes alone (same id: the rule dates the
 *   onset from the last fix), so a re-judging finds the same silences the live ticks found, and a
 *   silence the ticks missed (the platform was busy) is still judged.
 * - Outages of the platform (platform-gaps.ts) void the silence verdicts they overlap: they are returned
 *   as `gaps`, never as violations (with the events of the same violation in the batch: an instant's
 *   closing). A voided plan verdict (a window, a shift, a run) is over: the rule's state moves on, and
 *   a voided run (NOT_RECORDING, NOT_UPLOADED) is restarted: its rule's slice goes back to its initial
 *   value, so the next run is counted from the next fix. A tick that would open an OFFLINE or a TRACK_GAP
 *   that an outage voids leaves the state as it was
 *   (tried again at the next tick, recorded once: `gap` holds the last id noted). Once an outage has
 *   ended, a silence that began before it is counted from its end: a device that stays silent after
 *   the platform is back is OFFLINE after its allowance, as if its last fix were the outage's end.
 * - No zero-length violation: one published open and then closed at (or before) its own start is
 *   withdrawn (the fix that ended the silence was recorded before the onset and arrived late). An
 *   instant by design (opened and closed by one fix: a tip at the roadside) is not zero-length.
 * - The ledger (`open`, `trip`): the latest event of every violation still open and the started trip, so
 *   that a re-judging from a checkpoint knows what consumers had been told was going on at that point.
 */

export interface JudgeState {
  engine: VehicleState;
  /** the trip tracker's state (muck trucks only) */
  trips?: TripState;
  /** the latest event of every violation still open, in the order they were opened */
  open: readonly ViolationEvent[];
  /** the started event of the trip under way */
  trip?: TripEvent;
  /** id of the last platform gap noted ('' none) */
  gap: string;
}

export interface JudgeOutput {
  state: JudgeState;
  events: readonly ViolationEvent[];
  trips: readonly TripEvent[];
  gaps: readonly PlatformGap[];
}

const NONE: readonly never[] = Object.freeze([]);

export function createJudge(engine: Engine) {
  function initial(vehicle: string): JudgeState {
    return { engine: engine.initial(vehicle), open: NONE, gap: '' };
  }

  /** The ledger after these events (the same arrays when nothing opened or ended). */
  function fold(
    s: JudgeState,
    events: readonly ViolationEvent[],
    trips: readonly TripEvent[],
  ): Pick<JudgeState, 'open' | 'trip'> {
    let open = s.open;
    for (const e of events) {
      const i = open.findIndex((o) => o.violation.id === e.violation.id);
      if (e.phase === 'opened' || e.phase === 'updated') {
        const next = open.slice();
        if (i >= 0) next[i] = e;
        else next.push(e);
        open = next;
      } else if (i >= 0) {
        open = open.filter((_, j) => j !== i);
      }
    }
    let trip = s.trip;
    for (const e of trips) trip = e.kind === 'started' ? e : undefined;
    return { open, trip };
  }

  /**
   * Voids the silence verdicts the outages cover; the state is left as it was when any is voided. A
   * silence that began before an outage that has ended is counted from that outage's end (the device
   * gets its whole allowance again once the platform is back, and is judged on it).
   */
  function tick(
    s: JudgeState,
    nowMs: number,
    world: World,
    outages: readonly Outage[] = NO_OUTAGES,
  ): JudgeOutput {
    const raw = engine.tick(s.engine, nowMs, world);
    if (raw.state === s.engine && raw.events.length === 0)
      return { state: s, events: NONE, trips: NONE, gaps: NONE };
    const last = s.engine.last;
    const held = s.engine.held;
    // the device was last heard at its newest fix, a suspect held back by the outlier screen included
    const heardTs = newestStepped(s);
    // the plans' verdicts an outage voids are over (their runs restarted); silences are asked again below
    const r = settle(raw, heardTs, nowMs, outages, s.gap);
    const gap = voided(r.events, heardTs, nowMs, outages);
    if (gap === undefined) {
      // (a settled verdict's gap is noted once: the rule has moved past it)
      const ledger = fold(s, r.events, NONE);
      return {
        state: { ...s, engine: r.state, ...ledger },
        events: r.events,
        trips: NONE,
        gaps: r.gaps,
      };
    }
    // the platform's silence, recorded once (the rule is asked again at every tick: the outage may end)
    const noted: JudgeState = gap.id === s.gap ? s : { ...s, gap: gap.id };
    const gaps: readonly PlatformGap[] = gap.id === s.gap ? NONE : [gap];
    const quiet: JudgeOutput = { state: noted, events: NONE, trips: NONE, gaps };
    // once the outage has ended, the silence is judged again from its end: a whole allowance after it
    const resume =
      last === undefined || heardTs === undefined ? undefined : resumedAt(outages, heardTs, nowMs);
    if (last === undefined || resume === undefined) return quiet;
    const shifted: VehicleState = {
      ...s.engine,
      last: { ...last, ts: resume },
      held: held === undefined ? undefined : { ...held, ts: resume },
    };
    const again = settle(engine.tick(shifted, nowMs, world), resume, nowMs, outages, noted.gap);
    if (again.events.length === 0 || voided(again.events, resume, nowMs, outages) !== undefined) return quiet;
    const ledger = fold(noted, again.events, NONE);
    // the silence rules changed their slices; `last` and `held` stay the vehicle's real fixes
    return {
      state: { ...noted, engine: { ...again.state, last, held }, ...ledger },
      events: again.events,
      trips: NONE,
      gaps: again.gaps.length === 0 ? gaps : [...gaps, ...again.gaps],
    };
  }

  /**
   * Drops the plan verdicts (not the retried silences) the outages void, with the other events of the
   * same violations, and restarts the voided runs' rules; the gaps, less one already noted (`noted`).
   */
  function settle(
    r: { state: VehicleState; events: readonly ViolationEvent[] },
    lastTs: number | undefined,
    atTs: number,
    outages: readonly Outage[],
    noted: string,
  ): { state: VehicleState; events: readonly ViolationEvent[]; gaps: readonly PlatformGap[] } {
    if (outages.length === 0 || r.events.length === 0) return { ...r, gaps: NONE };
    let dropped: Set<string> | undefined;
    let restart: Set<ViolationCode> | undefined;
    const gaps: PlatformGap[] = [];
    for (const e of r.events) {
      if (RETRIED_SILENCES.has(e.violation.code)) continue;
      const gap = platformGapOf(e, lastTs, atTs, outages);
      if (gap === undefined) continue;
      dropped ??= new Set();
      dropped.add(e.violation.id);
      if (gap.id !== noted) gaps.push(gap);
      if (RESTARTED_RUNS.has(gap.code)) {
        restart ??= new Set();
        restart.add(gap.code);
      }
    }
    if (dropped === undefined) return { ...r, gaps: NONE };
    const events = r.events.filter((e) => !dropped.has(e.violation.id));
    return { state: restart === undefined ? r.state : restarted(r.state, restart), events, gaps };
  }

  /** The state with the slices of these codes' rules back at their initial value (a run restarted). */
  function restarted(state: VehicleState, codes: ReadonlySet<ViolationCode>): VehicleState {
    const slices = state.slices.slice();
    engine.rules.forEach((rule, i) => {
      if (codes.has(rule.code)) slices[i] = rule.initial();
    });
    return { ...state, slices };
  }

  function step(s: JudgeState, fix: Fix, world: World, outages: readonly Outage[] = NO_OUTAGES): JudgeOutput {
    const heardTs = newestStepped(s);
    let before = s;
    let events: ViolationEvent[] | readonly ViolationEvent[] = NONE;
    let gaps: PlatformGap[] | readonly PlatformGap[] = NONE;
    if (heardTs !== undefined && fix.ts > heardTs) {
      // the silence this fix ends, judged as a tick at its instant would have
      const t = tick(s, fix.ts, world, outages);
      before = t.state;
      events = t.events;
      gaps = t.gaps;
    }
    const stepped = engine.step(before.engine, fix, world);
    const r = { ...stepped, ...settle(stepped, heardTs, fix.ts, outages, before.gap) };
    if (r.gaps.length > 0) gaps = [...gaps, ...r.gaps];
    if (r.events.length > 0) {
      const out: ViolationEvent[] = events.slice();
      let dropped: Set<string> | undefined;
      for (const e of r.events) {
        const gap = platformGapOf(e, heardTs, fix.ts, outages);
        if (gap !== undefined) {
          if (dropped === undefined) dropped = new Set();
          dropped.add(e.violation.id);
          if (gap.id !== before.gap) gaps = [...gaps, gap];
          continue;
        }
        if (dropped?.has(e.violation.id)) continue;
        out.push(e);
      }
      events = dropZeroLength(out, fix.ts);
    }
    let trips: readonly TripEvent[] = NONE;
    let tripState = before.trips;
    if (fix.kind === 'muck_truck') {
      // the trip tracker steps the fixes the engine judged, with the facts (and the load transition) the
      // engine found at each: none while a suspect is held back or for an outlier, a released suspect
      // before the fix (outliers.ts); this step's events go with the last one
      const judged = r.judged;
      for (let i = 0; i < judged.length; i++) {
        const tr = stepTrips(
          tripState ?? initialTrips(),
          tripInput(judged[i]!, r.facts[i]!, world),
          i === judged.length - 1 ? events : NONE,
        );
        tripState = tr.state;
        if (tr.events.length > 0) trips = trips.length === 0 ? tr.events : [...trips, ...tr.events];
      }
    }
    const ledger = events.length === 0 && trips.length === 0 ? before : fold(before, events, trips);
    const state: JudgeState = {
      engine: r.state,
      ...(tripState !== undefined ? { trips: tripState } : {}),
      open: ledger.open,
      ...(ledger.trip !== undefined ? { trip: ledger.trip } : {}),
      gap: before.gap,
    };
    return { state, events, trips, gaps };
  }

  return { initial, step, tick, engine };
}

export type Judge = ReturnType<typeof createJudge>;

/**
 * The instant of the newest fix the vehicle's judge has stepped: a suspect the outlier screen holds back
 * (geofence/outliers.ts) is newer than the last judged fix. A fix at or before it is late (or a duplicate).
 */
export function newestStepped(s: JudgeState): number | undefined {
  return s.engine.held?.ts ?? s.engine.last?.ts;
}

/** The first of these events an outage voids, as the platform gap it is. */
function voided(
  events: readonly ViolationEvent[],
  lastTs: number | undefined,
  atTs: number,
  outages: readonly Outage[],
): PlatformGap | undefined {
  for (const e of events) {
    const gap = platformGapOf(e, lastTs, atTs, outages);
    if (gap !== undefined) return gap;
  }
  return undefined;
}

/** The end of the latest outage that has ended before `nowMs` and overlaps the silence since `lastTs`. */
function resumedAt(outages: readonly Outage[], lastTs: number, nowMs: number): number | undefined {
  let resume: number | undefined;
  for (const o of outages) {
    if (o.end > lastTs && o.end < nowMs && o.start < nowMs && (resume === undefined || o.end > resume))
      resume = o.end;
  }
  return resume;
}

/**
 * A violation published open and now closed at or before its own start (the fix that closed it was
 * recorded before its onset and arrived late: an OFFLINE whose silence that fix fills) is withdrawn: it
 * never lasted. A violation opened and closed by the same step is an instant by design (a roadside tip,
 * an unloading at the wrong site) and stays as it is.
 */
function dropZeroLength(events: ViolationEvent[], atTs: number): readonly ViolationEvent[] {
  let out = events;
  for (const e of events) {
    const v = e.violation;
    if (e.phase !== 'closed' || v.endTs === undefined || v.endTs > v.startTs) continue;
    if (events.some((o) => o.phase === 'opened' && o.violation.id === v.id)) continue;
    const { endTs: _e, durationMs: _d, ...rest } = v;
    const withdrawn: ViolationEvent = {
      phase: 'withdrawn',
      violation: { ...rest, withdrawal: { reason: 'backfill', lateTs: atTs } },
      rejudged: { reason: 'backfill', lateTs: atTs },
    };
    out = out.map((o) => (o === e ? withdrawn : o));
  }
  return out;
}
