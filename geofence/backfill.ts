import type { Fix } from '../core/fix.ts';
import { diffTrips, diffViolations, type Emitted } from './backfill-diff.ts';
import type { Judge, JudgeState } from './judge.ts';
import { NO_OUTAGES, type Outage, type PlatformGap } from './platform-gaps.ts';
import type { TripEvent } from './trips.ts';
import type { Rejudged, ViolationEvent, World } from './types.ts';

export { type Emitted, withoutRetracted } from './backfill-diff.ts';

/**
 * Late fixes judged in the vehicle's time order (issue 17; domain.md: blind-area backfill, JT/T 808
 * 0x0704 type 1, arrives minutes to days late, often after the live fix). Pure: the shell keeps the
 * history (compliance/backfill-history.ts) and hands it in; this module re-judges and says what changed.
 *
 * History. Per vehicle the shell keeps every judged fix within the backfill horizon, a checkpoint (the
 * judge's state right after a fix, before any tick) at the first fix of every CHECKPOINT_EVERY_MS of
 * vehicle time, and every event it emitted, each tagged with the newest fix at the time (`afterTs`)
 * and whether a tick raised it.
 *
 * Re-judging. When fixes older than the vehicle's newest arrive, the shell picks the newest checkpoint
 * before the earliest of them and `rejudge` steps every fix after it, old and late merged in time order
 * (a late fix at the instant of a judged one is a duplicate), then ticks once at the instant the live
 * ticks had reached. What it returns replaces the history after the checkpoint.
 *
 * The difference. Consumers (the event store, webhooks, the live stream, MQTT alerts) were told the old
 * verdicts; `rejudge` compares what they were told after the checkpoint (the ledger of open violations
 * at the checkpoint plus the emitted events after it) with the new run, per violation id, and emits only
 * the difference, every event marked `rejudged`:
 *  - a violation the new run does not have: `withdrawn` (reason backfill, the earliest late fix, and the
 *    violation that replaced it when one of the same code overlaps it);
 *  - a violation only the new run has: `opened` (and `closed` when it is over), with its true times;
 *  - a violation both have whose verdict differs (times, level, figures, open or closed): its new latest
 *    event (`updated` for one still going on, `closed` with the new end).
 * Times that change. A violation's id is `vehicle:code:startTs`, so a new onset is a new id: the old id
 * is withdrawn (supersededBy the new one) and the new one opened, rather than an update that would keep
 * an id the in-order judgement never gives. That is what makes the final violations of the same fixes the
 * same whatever their arrival order and batching (test/geofence/backfill.test.ts: random permutations and batches
 * of the scenario tracks). A change of end, level or figures keeps the id and is an update. The instant
 * a violation was raised (`detectedTs`) is not a difference: a live tick raises OFFLINE earlier than the
 * fix after the silence does.
 * Trips the same way: a trip the new run does not have is `withdrawn`, a new one `started` (and
 * `completed`), a changed one (end, distance, compliance) its new latest event.
 */

/** a checkpoint every this much vehicle time (the first fix of each such interval) */
export const CHECKPOINT_EVERY_MS = 120_000;

/** Is the fix at `ts`, after one at `prevTs` (undefined: none), a checkpoint? */
export function isCheckpoint(prevTs: number | undefined, ts: number): boolean {
  return (
    prevTs === undefined || Math.floor(ts / CHECKPOINT_EVERY_MS) !== Math.floor(prevTs / CHECKPOINT_EVERY_MS)
  );
}

/** A judged fix of the history, with the judge's state after it when it is a checkpoint. */
export interface HistoryEntry {
  fix: Fix;
  checkpoint?: JudgeState;
}

export interface RejudgeInput {
  vehicle: string;
  /**
   * the checkpoint to start from: its fix's instant and the judge's state right after that fix, before
   * any tick; undefined: from before the vehicle's first fix (the initial state)
   */
  base: { ts: number; state: JudgeState } | undefined;
  /** the judged fixes after the base, oldest first */
  judged: readonly Fix[];
  /** everything emitted after the base's step (its ticks' events, and all later), in emission order */
  emitted: readonly Emitted[];
  /** the late fixes, any order */
  late: readonly Fix[];
  world: World;
  outages?: readonly Outage[];
  /** the instant the live ticks had judged silence up to (a final tick there); undefined: none */
  tickedTo?: number;
}

export interface RejudgeOutput {
  /** the base it started from (undefined: the initial state): the history after it is replaced */
  baseTs: number | undefined;
  /** the judge's state after the newest fix and the final tick */
  state: JudgeState;
  /** the new history after the base: every fix (old and late), checkpoints at CHECKPOINT_EVERY_MS */
  entries: HistoryEntry[];
  /** the new run's events, as the history records them (they replace the old ones after the base) */
  emitted: Emitted[];
  /** the difference to publish, every event marked `rejudged` */
  events: ViolationEvent[];
  trips: TripEvent[];
  /** silences the platform's outages void (platform-gaps.ts) in the new run */
  gaps: PlatformGap[];
  /** late fixes at the instant of a judged one (or of another late one): nothing to judge */
  duplicates: number;
  /** late fixes at or before the base: not re-judged (the shell picks a base before them) */
  beforeBase: number;
  /** the late fixes judged */
  judgedLate: number;
}

/** Re-judges the vehicle from the base with the late fixes merged in (see the header). */
export function rejudge(judge: Judge, input: RejudgeInput): RejudgeOutput {
  const outages = input.outages ?? NO_OUTAGES;
  const base = input.base;
  const baseState = base?.state ?? judge.initial(input.vehicle);
  const judgedTs = new Set<number>();
  for (const f of input.judged) judgedTs.add(f.ts);
  let duplicates = 0;
  let beforeBase = 0;
  const late: Fix[] = [];
  for (const f of [...input.late].sort((a, b) => a.ts - b.ts)) {
    if (base !== undefined && f.ts <= base.ts) beforeBase++;
    else if (judgedTs.has(f.ts)) duplicates++;
    else {
      judgedTs.add(f.ts);
      late.push(f);
    }
  }
  if (late.length === 0) {
    // nothing new: the history stands as it is (the caller changes nothing)
    return {
      baseTs: base?.ts,
      state: baseState,
      entries: [],
      emitted: [],
      events: [],
      trips: [],
      gaps: [],
      duplicates,
      beforeBase,
      judgedLate: 0,
    };
  }
  const all = mergeByTs(input.judged, late);
  let s = baseState;
  let prevTs = base?.ts;
  const entries: HistoryEntry[] = [];
  const emitted: Emitted[] = [];
  const gaps: PlatformGap[] = [];
  for (const fix of all) {
    const out = judge.step(s, fix, input.world, outages);
    s = out.state;
    entries.push(isCheckpoint(prevTs, fix.ts) ? { fix, checkpoint: s } : { fix });
    for (const event of out.events) emitted.push({ afterTs: fix.ts, tick: false, kind: 'violation', event });
    for (const event of out.trips) emitted.push({ afterTs: fix.ts, tick: false, kind: 'trip', event });
    for (const g of out.gaps) gaps.push(g);
    prevTs = fix.ts;
  }
  if (input.tickedTo !== undefined && prevTs !== undefined && input.tickedTo > prevTs) {
    const out = judge.tick(s, input.tickedTo, input.world, outages);
    s = out.state;
    for (const event of out.events) emitted.push({ afterTs: prevTs, tick: true, kind: 'violation', event });
    for (const g of out.gaps) gaps.push(g);
  }
  const rejudged: Rejudged = { reason: 'backfill', lateTs: late[0]?.ts ?? Number.NaN };
  const changed = late.length > 0;
  return {
    baseTs: base?.ts,
    state: s,
    entries,
    emitted,
    events: changed ? diffViolations(baseState, input.emitted, emitted, rejudged) : [],
    trips: changed ? diffTrips(baseState, input.emitted, emitted, rejudged) : [],
    gaps,
    duplicates,
    beforeBase,
    judgedLate: late.length,
  };
}

function mergeByTs(a: readonly Fix[], b: readonly Fix[]): Fix[] {
  const out: Fix[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.ts < b[j]!.ts)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/**
 * Where the history is kept (the shell's SQLite file, or memory in tests): what `rejudgeWith` reads.
 * Synchronous: the shell's store is better-sqlite3.
 */
export interface HistorySource {
  /**
   * The newest checkpoint strictly before `ts`. `none`: the vehicle has no judged fix before `ts` and
   * its history is complete (re-judge from the initial state); `floor`: the history does not reach back
   * that far (pruned past the horizon, or kept only since an upgrade): fixes before the oldest
   * checkpoint cannot be re-judged.
   */
  checkpointBefore(vehicle: string, ts: number): { ts: number; state: JudgeState } | 'none' | 'floor';
  /** judged fixes after `ts` (all when undefined), oldest first */
  fixesAfter(vehicle: string, ts: number | undefined): Fix[];
  /** the events emitted after the step of the fix at `ts` (all when undefined), in emission order */
  emittedAfter(vehicle: string, ts: number | undefined): Emitted[];
  /** the oldest checkpoint's instant (undefined: no history) */
  oldestCheckpoint(vehicle: string): number | undefined;
}

/** Picks the base for these late fixes in `source` and re-judges (see `rejudge`). */
export function rejudgeWith(
  judge: Judge,
  source: HistorySource,
  args: Omit<RejudgeInput, 'base' | 'judged' | 'emitted'>,
): RejudgeOutput | undefined {
  if (args.late.length === 0) return undefined;
  let earliest = Number.POSITIVE_INFINITY;
  for (const f of args.late) if (f.ts < earliest) earliest = f.ts;
  let found = source.checkpointBefore(args.vehicle, earliest);
  if (found === 'floor') {
    // start from the oldest checkpoint: the late fixes before it are past what the history holds
    const oldest = source.oldestCheckpoint(args.vehicle);
    if (oldest === undefined) return undefined;
    const at = source.checkpointBefore(args.vehicle, oldest + 1);
    if (typeof at === 'string') return undefined;
    found = at;
  }
  const base = found === 'none' ? undefined : found;
  return rejudge(judge, {
    ...args,
    base,
    judged: source.fixesAfter(args.vehicle, base?.ts),
    emitted: source.emittedAfter(args.vehicle, base?.ts),
  });
}
