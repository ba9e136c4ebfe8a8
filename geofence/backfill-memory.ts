import type { Fix } from '../core/fix.ts';
import {
  type Emitted,
  type HistoryEntry,
  type HistorySource,
  isCheckpoint,
  rejudgeWith,
} from './backfill.ts';
import { canonicalJson } from './evidence.ts';
import { type Judge, type JudgeState, newestStepped } from './judge.ts';
import type { Outage, PlatformGap } from './platform-gaps.ts';
import type { TripEvent } from './trips.ts';
import type { ViolationEvent, World } from './types.ts';

/**
 * The compliance shell's late-fix machinery in memory (compliance/service.ts keeps the same history in
 * SQLite): one vehicle's judge state, history (fixes, checkpoints, emitted events), and what consumers
 * were told (`view`: the latest event per violation or trip id, as an event store keeps it). Fixes are
 * delivered in batches, as ingest hands them over; a batch's fixes newer than the vehicle's newest
 * stepped one (a suspect the outlier screen holds back included) are stepped, the others re-judged at
 * the end of the batch (the shell does it at its next flush). Pure data in memory, no clock: used by
 * the simulator's engine replay (simulators/scenario/replay-engine.ts) and the late-fix tests. The history is
 * kept whole (no horizon): for runs of hours, not for a platform.
 */
export class InMemoryLine implements HistorySource {
  state: JudgeState;
  readonly entries: HistoryEntry[] = [];
  emitted: Emitted[] = [];
  readonly view = new Map<string, ViolationEvent>();
  readonly tripView = new Map<string, TripEvent>();
  readonly published: ViolationEvent[] = [];
  readonly gaps: PlatformGap[] = [];
  rejudgings = 0;
  duplicates = 0;
  /** the newest instant silence was ticked to: a re-judging ticks there again (as the shell does) */
  private tickedTo: number | undefined;

  constructor(
    readonly judge: Judge,
    readonly vehicle: string,
    public world: World,
    readonly outages: readonly Outage[] = [],
  ) {
    this.state = judge.initial(vehicle);
  }

  deliver(batch: readonly Fix[]): void {
    const late: Fix[] = [];
    for (const fix of [...batch].sort((a, b) => a.ts - b.ts)) {
      const newest = newestStepped(this.state);
      if (newest !== undefined && fix.ts <= newest) {
        late.push(fix);
        continue;
      }
      const out = this.judge.step(this.state, fix, this.world, this.outages);
      const prevTs = this.entries.at(-1)?.fix.ts;
      this.state = out.state;
      this.entries.push(isCheckpoint(prevTs, fix.ts) ? { fix, checkpoint: out.state } : { fix });
      for (const event of out.events)
        this.emitted.push({ afterTs: fix.ts, tick: false, kind: 'violation', event });
      for (const event of out.trips) this.emitted.push({ afterTs: fix.ts, tick: false, kind: 'trip', event });
      this.gaps.push(...out.gaps);
      this.publish(out.events, out.trips);
    }
    if (late.length > 0) this.rejudge(late);
  }

  tick(nowMs: number): void {
    if (this.tickedTo === undefined || nowMs > this.tickedTo) this.tickedTo = nowMs;
    const out = this.judge.tick(this.state, nowMs, this.world, this.outages);
    this.state = out.state;
    const afterTs = newestStepped(this.state) ?? Number.NEGATIVE_INFINITY;
    for (const event of out.events) this.emitted.push({ afterTs, tick: true, kind: 'violation', event });
    this.gaps.push(...out.gaps);
    this.publish(out.events, []);
  }

  private rejudge(late: Fix[]): void {
    const r = rejudgeWith(this.judge, this, {
      vehicle: this.vehicle,
      late,
      world: this.world,
      outages: this.outages,
      ...(this.tickedTo !== undefined ? { tickedTo: this.tickedTo } : {}),
    });
    if (r === undefined) return;
    this.rejudgings++;
    this.duplicates += r.duplicates;
    if (r.judgedLate === 0) return;
    const firstTs = r.entries[0]?.fix.ts ?? Number.POSITIVE_INFINITY;
    const keep = this.entries.findIndex((e) => e.fix.ts >= firstTs);
    const baseTs = keep > 0 ? this.entries[keep - 1]!.fix.ts : undefined;
    this.entries.splice(keep < 0 ? this.entries.length : keep, this.entries.length, ...r.entries);
    this.emitted = [...this.emitted.filter((e) => !after(e, baseTs)), ...r.emitted];
    this.state = r.state;
    this.gaps.push(...r.gaps);
    this.publish(r.events, r.trips);
  }

  private publish(events: readonly ViolationEvent[], trips: readonly TripEvent[]): void {
    for (const e of events) {
      this.published.push(e);
      this.view.set(e.violation.id, e);
    }
    for (const e of trips) this.tripView.set(e.trip.id, e);
  }

  // HistorySource
  checkpointBefore(_vehicle: string, ts: number): { ts: number; state: JudgeState } | 'none' | 'floor' {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.fix.ts < ts && e.checkpoint !== undefined) return { ts: e.fix.ts, state: e.checkpoint };
    }
    return 'none';
  }
  fixesAfter(_vehicle: string, ts: number | undefined): Fix[] {
    return this.entries.filter((e) => ts === undefined || e.fix.ts > ts).map((e) => e.fix);
  }
  emittedAfter(_vehicle: string, ts: number | undefined): Emitted[] {
    return this.emitted.filter((e) => after(e, ts));
  }
  oldestCheckpoint(): number | undefined {
    return this.entries.find((e) => e.checkpoint !== undefined)?.fix.ts;
  }

  /** the violations that stand (not withdrawn), canonical, without the instant each was raised */
  finalViolations(): string[] {
    return [...this.view.values()]
      .filter((e) => e.phase !== 'withdrawn')
      .map((e) => {
        const { detectedTs: _d, ...v } = e.violation;
        return canonicalJson({ phase: e.phase === 'updated' ? 'opened' : e.phase, v });
      })
      .sort();
  }

  finalTrips(): string[] {
    return [...this.tripView.values()]
      .filter((e) => e.kind !== 'withdrawn')
      .map((e) => canonicalJson({ kind: e.kind, trip: e.trip }))
      .sort();
  }
}

/** Is the emitted event after the step of the fix at `ts` (its ticks included)? */
function after(e: Emitted, ts: number | undefined): boolean {
  return ts === undefined || e.afterTs > ts || (e.afterTs === ts && e.tick);
}
