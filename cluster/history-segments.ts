/**
 * One unit's history for re-judging late fixes in the cluster (geofence/backfill.ts), without I/O: the
 * single process keeps the same history in SQLite (compliance/backfill-history.ts); a worker keeps it in
 * segments, one per CHECKPOINT_EVERY_MS window of the unit's time, so that a segment is one KV value
 * (cluster/history-store.ts) and a takeover on another machine finds the history where the last owner
 * left it. A segment holds:
 *  - the judged fixes of its window, each with the stream sequence it came from; the first one carries
 *    the judge's state right after it (a checkpoint, as the single process takes one at the first fix of
 *    every window), so a re-judging can start at any segment;
 *  - the events emitted while the unit's newest fix was in the window (`afterTs`, `tick` as in the
 *    single process's `emitted` table), with the stream sequence they were emitted at;
 *  - `start` on the segment where the unit's judgement began from the initial state (nothing older can
 *    exist: a late fix before it re-judges from the initial state); without it the oldest segment is a
 *    floor (history pruned, or begun after an upgrade), as the single process's `floor`.
 * In memory a partition keeps each unit's newest segment (where the next fix goes) and the segments
 * changed since they were last written; a re-judging loads the unit's other segments first.
 * Stepping and ticking only append to a segment (cut at a sequence, it is what it was then); a
 * re-judging replaces what follows its base, so the segments it changes keep a copy of themselves as of
 * the last checkpoint (`bases`), written with them until the next checkpoint: a successor that restores
 * that checkpoint reads the copy, not what its predecessor re-judged after it (cluster/history-store.ts).
 */
import type { Fix } from '../core/fix.ts';
import {
  CHECKPOINT_EVERY_MS,
  type Emitted,
  type HistorySource,
  isCheckpoint,
  type RejudgeOutput,
} from '../geofence/backfill.ts';
import type { JudgeState } from '../geofence/judge.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';

export interface SegmentEntry {
  /** the stream sequence the fix came from (a late fix: the sequence it arrived at) */
  seq: number;
  fix: Fix;
  checkpoint?: JudgeState;
}

export type SegmentEmitted = Emitted & { seq: number };

export interface Segment {
  /** the window: floor(ts / CHECKPOINT_EVERY_MS) */
  w: number;
  /** the unit's judgement began here, from the initial state */
  start?: boolean;
  entries: SegmentEntry[];
  emitted: SegmentEmitted[];
}

export const windowOf = (ts: number): number => Math.floor(ts / CHECKPOINT_EVERY_MS);

/** Is the emitted event after the step of the fix at `ts` (its ticks included)? (as SqliteHistory) */
const after = (e: Emitted, ts: number | undefined): boolean =>
  ts === undefined || e.afterTs > ts || (e.afterTs === ts && e.tick);

export class UnitHistory implements HistorySource {
  /** the segments in memory, by window */
  private readonly segments = new Map<number, Segment>();
  /** windows changed since they were last written */
  readonly dirty = new Set<number>();
  /** windows a re-judging changed since the last checkpoint, as they were at it */
  readonly bases = new Map<number, Segment>();

  constructor(readonly unit: string) {}

  /** a segment read back (from the store); one in memory wins (it is newer) */
  loaded(segment: Segment): void {
    if (!this.segments.has(segment.w)) this.segments.set(segment.w, segment);
  }

  /** windows held in memory */
  windows(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  segment(w: number): Segment | undefined {
    return this.segments.get(w);
  }

  private hasEntries(): boolean {
    for (const s of this.segments.values()) if (s.entries.length > 0) return true;
    return false;
  }

  private at(w: number): Segment {
    let s = this.segments.get(w);
    if (s === undefined) {
      s = { w, entries: [], emitted: [] };
      this.segments.set(w, s);
    }
    this.dirty.add(w);
    return s;
  }

  /** An in-order fix was judged (`prevTs`: the unit's newest before it; `state`: the judge's after it). */
  stepped(
    fix: Fix,
    seq: number,
    prevTs: number | undefined,
    state: JudgeState,
    events: readonly ViolationEvent[],
    trips: readonly TripEvent[],
  ): void {
    // a unit without history here (pruned, begun before the history existed) starts it with a checkpoint
    const checkpoint = isCheckpoint(this.hasEntries() ? prevTs : undefined, fix.ts);
    const s = this.at(windowOf(fix.ts));
    if (prevTs === undefined) s.start = true;
    s.entries.push(checkpoint ? { seq, fix, checkpoint: state } : { seq, fix });
    for (const event of events)
      s.emitted.push({ seq, afterTs: fix.ts, tick: false, kind: 'violation', event });
    for (const event of trips) s.emitted.push({ seq, afterTs: fix.ts, tick: false, kind: 'trip', event });
  }

  /** A tick raised events while `afterTs` was the unit's newest fix. */
  ticked(afterTs: number, seq: number, events: readonly ViolationEvent[]): void {
    if (events.length === 0) return;
    const s = this.at(windowOf(afterTs));
    for (const event of events) s.emitted.push({ seq, afterTs, tick: true, kind: 'violation', event });
  }

  /**
   * A re-judging's result replaces the history after its base (`lateSeq`: the sequence the late fixes
   * were judged at; the judged fixes keep theirs).
   */
  replace(r: RejudgeOutput, lateSeq: number, checkpointSeq: number): void {
    const seqOf = new Map<number, number>();
    for (const s of this.segments.values()) for (const e of s.entries) seqOf.set(e.fix.ts, e.seq);
    // what the windows it changes were at the last checkpoint (appends since are cut off)
    const keepBase = (w: number) => {
      if (this.bases.has(w)) return;
      const s = this.segments.get(w);
      this.bases.set(w, s === undefined ? { w, entries: [], emitted: [] } : segmentUpTo(s, checkpointSeq));
    };
    for (const e of r.entries) keepBase(windowOf(e.fix.ts));
    for (const e of r.emitted) keepBase(windowOf(e.afterTs));
    const base = r.baseTs;
    for (const s of this.segments.values()) {
      const entries = s.entries.filter((e) => base !== undefined && e.fix.ts <= base);
      const emitted = s.emitted.filter((e) => !after(e, base));
      const changed = entries.length !== s.entries.length || emitted.length !== s.emitted.length;
      if (changed || (base === undefined && s.start)) keepBase(s.w);
      if (changed) {
        s.entries = entries;
        s.emitted = emitted;
        this.dirty.add(s.w);
      }
      // re-judged from the initial state: the start moves to the oldest segment (below)
      if (base === undefined && s.start) {
        s.start = false;
        this.dirty.add(s.w);
      }
    }
    for (const e of r.entries) {
      const entry: SegmentEntry = { seq: seqOf.get(e.fix.ts) ?? lateSeq, fix: e.fix };
      if (e.checkpoint !== undefined) entry.checkpoint = e.checkpoint;
      this.at(windowOf(e.fix.ts)).entries.push(entry);
    }
    for (const e of r.emitted) this.at(windowOf(e.afterTs)).emitted.push({ ...e, seq: lateSeq });
    if (base === undefined) {
      const oldest = this.windows().find((w) => this.segments.get(w)!.entries.length > 0);
      if (oldest !== undefined) this.segments.get(oldest)!.start = true;
    }
  }

  /** After a write: keeps only the newest segment (where the next fix goes) in memory. */
  trim(): void {
    const newest = this.windows().at(-1);
    for (const w of [...this.segments.keys()])
      if (w !== newest && !this.dirty.has(w)) this.segments.delete(w);
  }

  /** a checkpoint covers what was written: the re-judged windows' copies are not needed any more */
  checkpointed(): void {
    this.bases.clear();
  }

  /** every entry in memory, oldest first */
  private entries(): SegmentEntry[] {
    return this.windows().flatMap((w) => this.segments.get(w)!.entries);
  }

  // HistorySource (over the segments in memory: a re-judging loads the unit's segments first)
  checkpointBefore(_unit: string, ts: number): { ts: number; state: JudgeState } | 'none' | 'floor' {
    const entries = this.entries();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.fix.ts < ts && e.checkpoint !== undefined) return { ts: e.fix.ts, state: e.checkpoint };
    }
    const oldest = this.windows().find((w) => this.segments.get(w)!.entries.length > 0);
    return oldest !== undefined && this.segments.get(oldest)!.start ? 'none' : 'floor';
  }

  fixesAfter(_unit: string, ts: number | undefined): Fix[] {
    return this.entries()
      .filter((e) => ts === undefined || e.fix.ts > ts)
      .map((e) => e.fix);
  }

  emittedAfter(_unit: string, ts: number | undefined): Emitted[] {
    return this.windows()
      .flatMap((w) => this.segments.get(w)!.emitted)
      .filter((e) => after(e, ts))
      .map(({ seq: _s, ...e }) => e as Emitted);
  }

  oldestCheckpoint(): number | undefined {
    return this.entries().find((e) => e.checkpoint !== undefined)?.fix.ts;
  }

  /** any judged fix in memory (a unit without one has no history to re-judge from) */
  get judged(): boolean {
    return this.hasEntries();
  }
}

/** A segment as read back, less what a runner's successor has not judged (after `seq`). */
export function segmentUpTo(s: Segment, seq: number): Segment {
  return {
    w: s.w,
    ...(s.start ? { start: true } : {}),
    entries: s.entries.filter((e) => e.seq <= seq),
    emitted: s.emitted.filter((e) => e.seq <= seq),
  };
}
