import type { Logger } from 'pino';
import type { Fix } from '../core/fix.ts';
import {
  type Emitted,
  type HistoryEntry,
  isCheckpoint,
  type RejudgeInput,
  type RejudgeOutput,
  rejudgeWith,
} from '../geofence/backfill.ts';
import type { Judge, JudgeOutput, JudgeState } from '../geofence/judge.ts';
import type { PlatformGap } from '../geofence/platform-gaps.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { SqliteHistory } from './backfill-history.ts';

/**
 * The compliance shell's side of late fixes (issue 17; the pure part is geofence/backfill.ts): what the
 * history needs from every judged fix, the late fixes waiting for the next flush, and, inside that
 * flush's commit transaction, the history written and the vehicles with late fixes re-judged from it.
 * Memory: the fixes of one flush interval (bounded by MAX_PENDING_HISTORY when commits fail) and a set
 * of the vehicle ids with a history; everything else is in compliance/backfill-history.ts on disk.
 */

/** Late fixes judged in time order (the figures of GET /healthz `compliance.late`). */
export interface LateFigures {
  /** late fixes received (older than their vehicle's newest) */
  received: number;
  /** re-judgings run (a vehicle with late fixes, per flush) */
  rejudgings: number;
  /** late fixes at the instant of one already judged: nothing to do */
  duplicates: number;
  /** late fixes older than the vehicle's history reaches (past the horizon, or from before an upgrade) */
  beyondHistory: number;
  /** events a re-judging published (withdrawn, opened, updated, closed) */
  published: number;
}

/** What the re-judgings of one commit found (applied only once the commit is through). */
export interface Rejudgings {
  states: Map<string, JudgeState>;
  violations: ViolationEvent[];
  trips: TripEvent[];
  gaps: PlatformGap[];
  figures: Omit<LateFigures, 'received'>;
}

/** vehicles whose history is pruned past the horizon per commit */
const PRUNE_PER_COMMIT = 16;
/** judged fixes kept for the history while the state file cannot be written, at most */
export const MAX_PENDING_HISTORY = 500_000;

export class LateFixes {
  readonly figures: LateFigures = {
    received: 0,
    rejudgings: 0,
    duplicates: 0,
    beyondHistory: 0,
    published: 0,
  };
  /** vehicles with a history (their late fixes can be re-judged) */
  private readonly started = new Set<string>();
  /** judged fixes and emitted events of this flush interval, not yet in the history */
  private entries = new Map<string, { entries: HistoryEntry[]; floor: boolean }>();
  private emitted = new Map<string, Emitted[]>();
  private count = 0;
  /** late fixes waiting for the next flush's re-judging */
  private late = new Map<string, Fix[]>();
  private pruneCursor: Iterator<string> | undefined;

  constructor(
    private readonly judge: Judge,
    private readonly logger: Logger,
  ) {}

  /** the vehicles whose history is on disk (at a start) */
  restored(vehicles: readonly string[]): void {
    for (const v of vehicles) this.started.add(v);
  }

  get withHistory(): number {
    return this.started.size;
  }

  /** anything to write or re-judge at the next commit */
  get pending(): boolean {
    return this.late.size > 0 || this.emitted.size > 0 || this.entries.size > 0;
  }

  /** A late fix (at or before its vehicle's newest): re-judged at the next flush. */
  queue(fix: Fix): void {
    const list = this.late.get(fix.vehicle);
    if (list) list.push(fix);
    else this.late.set(fix.vehicle, [fix]);
    this.figures.received++;
  }

  /** An in-order fix was judged (`prevTs`: the vehicle's newest before it). */
  stepped(fix: Fix, prevTs: number | undefined, out: JudgeOutput): void {
    const vehicle = fix.vehicle;
    let p = this.entries.get(vehicle);
    if (p === undefined) {
      // the first entry of a vehicle judged before its history began: nothing older re-judges
      p = { entries: [], floor: !this.started.has(vehicle) && prevTs !== undefined };
      this.entries.set(vehicle, p);
    }
    const started = this.started.has(vehicle) || p.entries.length > 0;
    p.entries.push(
      isCheckpoint(started ? prevTs : undefined, fix.ts) ? { fix, checkpoint: out.state } : { fix },
    );
    this.count++;
    if (out.events.length === 0 && out.trips.length === 0) return;
    const emitted = this.emittedOf(vehicle);
    for (const event of out.events) emitted.push({ afterTs: fix.ts, tick: false, kind: 'violation', event });
    for (const event of out.trips) emitted.push({ afterTs: fix.ts, tick: false, kind: 'trip', event });
  }

  /** A tick raised events while `afterTs` was the vehicle's newest fix. */
  ticked(vehicle: string, afterTs: number, events: readonly ViolationEvent[]): void {
    const emitted = this.emittedOf(vehicle);
    for (const event of events) emitted.push({ afterTs, tick: true, kind: 'violation', event });
  }

  private emittedOf(vehicle: string): Emitted[] {
    let list = this.emitted.get(vehicle);
    if (list === undefined) {
      list = [];
      this.emitted.set(vehicle, list);
    }
    return list;
  }

  /**
   * Inside the commit's transaction: writes the history of this flush, then re-judges every vehicle with
   * late fixes from it. Changes nothing here (the transaction may still fail): `committed()` does.
   */
  write(
    history: SqliteHistory,
    context: Omit<RejudgeInput, 'vehicle' | 'late' | 'base' | 'judged' | 'emitted'>,
  ): Rejudgings {
    for (const [vehicle, p] of this.entries) {
      history.write({
        vehicle,
        entries: p.entries,
        emitted: this.emitted.get(vehicle) ?? [],
        floor: p.floor,
      });
    }
    for (const [vehicle, emitted] of this.emitted) {
      if (!this.entries.has(vehicle) && this.started.has(vehicle))
        history.write({ vehicle, entries: [], emitted });
    }
    const out: Rejudgings = {
      states: new Map(),
      violations: [],
      trips: [],
      gaps: [],
      figures: { rejudgings: 0, duplicates: 0, beyondHistory: 0, published: 0 },
    };
    for (const [vehicle, late] of this.late) {
      const started = this.started.has(vehicle) || this.entries.has(vehicle);
      const r: RejudgeOutput | undefined = started
        ? rejudgeWith(this.judge, history, { ...context, vehicle, late })
        : undefined;
      if (r === undefined) {
        out.figures.beyondHistory += late.length;
        continue;
      }
      out.figures.duplicates += r.duplicates;
      out.figures.beyondHistory += r.beforeBase;
      if (r.judgedLate === 0) continue;
      out.figures.rejudgings++;
      history.write(
        r.baseTs === undefined
          ? { vehicle, replaceAll: true, entries: r.entries, emitted: r.emitted }
          : { vehicle, replaceAfter: r.baseTs, entries: r.entries, emitted: r.emitted },
      );
      history.deleteGapsAfter(vehicle, r.baseTs ?? Number.MIN_SAFE_INTEGER);
      out.states.set(vehicle, r.state);
      for (const g of r.gaps) out.gaps.push(g);
      for (const e of r.events) out.violations.push(e);
      for (const e of r.trips) out.trips.push(e);
      out.figures.published += r.events.length + r.trips.length;
    }
    return out;
  }

  /** The commit holding `write`'s work is through. */
  committed(done: Rejudgings): void {
    const f = this.figures;
    f.rejudgings += done.figures.rejudgings;
    f.duplicates += done.figures.duplicates;
    f.beyondHistory += done.figures.beyondHistory;
    f.published += done.figures.published;
    for (const vehicle of this.entries.keys()) this.started.add(vehicle);
    this.entries = new Map();
    this.emitted = new Map();
    this.late = new Map();
    this.count = 0;
  }

  /** No state file: the late fixes cannot be re-judged (as before the history existed). */
  dropLate(): void {
    for (const late of this.late.values()) this.figures.beyondHistory += late.length;
    this.late = new Map();
  }

  /**
   * A commit failed: the history waits for the next one, up to MAX_PENDING_HISTORY judged fixes; past
   * that it is let go, and those vehicles' late fixes are no longer re-judged before what follows.
   */
  failed(): void {
    if (this.count <= MAX_PENDING_HISTORY) return;
    let dropped = 0;
    for (const [vehicle, p] of this.entries) {
      dropped += p.entries.length;
      this.started.delete(vehicle);
    }
    this.logger.error(
      { dropped, lateVehicles: this.late.size },
      'compliance: the engine state cannot be saved; history of judged fixes let go (late fixes for these vehicles are no longer re-judged)',
    );
    this.dropLate();
    this.entries = new Map();
    this.emitted = new Map();
    this.count = 0;
  }

  /** the next vehicles whose history is pruned past the horizon (a few per commit, round robin) */
  pruneBatch(): string[] {
    const out: string[] = [];
    for (let i = 0; i < PRUNE_PER_COMMIT && i < this.started.size; i++) {
      let next = this.pruneCursor?.next();
      if (next === undefined || next.done) {
        this.pruneCursor = this.started.values();
        next = this.pruneCursor.next();
        if (next.done) break;
      }
      out.push(next.value);
    }
    return out;
  }
}
