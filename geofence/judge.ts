import type { Fix } from '../ingest/fix.ts';
import type { Calendar, Engine, VehicleState } from './engine.ts';
import { NO_OUTAGES, type Outage, type PlatformGap, platformGapOf } from './platform-gaps.ts';
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
 *   as `gaps`, never as violations. A tick that would open such an OFFLINE leaves the state as it was
 *   (tried again at the next tick, recorded once: `gap` holds the last id noted).
 * - No zero-length violation: a violation closed at (or before) its own start is dropped when it was
 *   opened in the same step, else withdrawn (the fix that ended the silence was recorded before the
 *   onset and arrived late).
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

export function createJudge(engine: Engine, calendar: Calendar) {
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

  /** Voids the silence verdicts the outages cover; the state is left as it was when any is voided. */
  function tick(
    s: JudgeState,
    nowMs: number,
    world: World,
    outages: readonly Outage[] = NO_OUTAGES,
  ): JudgeOutput {
    const r = engine.tick(s.engine, nowMs, world);
    if (r.state === s.engine && r.events.length === 0)
      return { state: s, events: NONE, trips: NONE, gaps: NONE };
    const lastTs = s.engine.last?.ts;
    for (const e of r.events) {
      const gap = platformGapOf(e, lastTs, nowMs, outages);
      if (gap === undefined) continue;
      // the platform's silence: the rule is asked again at the next tick (the outage may end first)
      if (gap.id === s.gap) return { state: s, events: NONE, trips: NONE, gaps: NONE };
      return { state: { ...s, gap: gap.id }, events: NONE, trips: NONE, gaps: [gap] };
    }
    const ledger = fold(s, r.events, NONE);
    return { state: { ...s, engine: r.state, ...ledger }, events: r.events, trips: NONE, gaps: NONE };
  }

  function step(s: JudgeState, fix: Fix, world: World, outages: readonly Outage[] = NO_OUTAGES): JudgeOutput {
    const prev = s.engine.last;
    let before = s;
    let events: ViolationEvent[] | readonly ViolationEvent[] = NONE;
    let gaps: PlatformGap[] | readonly PlatformGap[] = NONE;
    if (prev !== undefined && fix.ts > prev.ts) {
      // the silence this fix ends, judged as a tick at its instant would have
      const t = tick(s, fix.ts, world, outages);
      before = t.state;
      events = t.events;
      gaps = t.gaps;
    }
    const r = engine.step(before.engine, fix, world);
    if (r.events.length > 0) {
      const out: ViolationEvent[] = events.slice();
      let dropped: Set<string> | undefined;
      for (const e of r.events) {
        const gap = platformGapOf(e, prev?.ts, fix.ts, outages);
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
      const tr = stepTrips(before.trips ?? initialTrips(), tripInput(fix, world, calendar), events);
      tripState = tr.state;
      if (tr.events.length > 0) trips = tr.events;
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
 * A violation closed at or before its start: dropped with its opening when both are in these events,
 * else withdrawn (it was published open; the fix that closed it was recorded before its onset).
 */
function dropZeroLength(events: ViolationEvent[], atTs: number): readonly ViolationEvent[] {
  let out = events;
  for (const e of events) {
    const v = e.violation;
    if (e.phase !== 'closed' || v.endTs === undefined || v.endTs > v.startTs) continue;
    const openedHere = events.some((o) => o.phase === 'opened' && o.violation.id === v.id);
    if (openedHere) {
      out = out.filter((o) => o.violation.id !== v.id);
    } else {
      const { endTs: _e, durationMs: _d, ...rest } = v;
      const withdrawn: ViolationEvent = {
        phase: 'withdrawn',
        violation: { ...rest, withdrawal: { reason: 'backfill', lateTs: atTs } },
        rejudged: { reason: 'backfill', lateTs: atTs },
      };
      out = out.map((o) => (o === e ? withdrawn : o));
    }
  }
  return out;
}
