/**
 * One partition's judgement, without I/O: the judge states (geofence/judge.ts: engine, trip tracker and
 * the ledger of what is open) of the partition's units, stepped by the fixes of the partition in stream
 * order, and the checkpoint that saves them together with the stream sequence they cover. The same judge
 * and the same step as the single process (compliance/service.ts stepFix: silence judged at the fix
 * that ends it, the outlier screen, trips from the fixes the engine judged), so the same fixes give the
 * same events with the same ids; restored from a checkpoint at sequence S and fed the stream after S, it
 * gives what an uninterrupted run gives.
 *
 * Late fixes (at or before their unit's newest stepped fix: blind-area backfill arriving after the live
 * fix) are re-judged as the single process re-judges them (compliance/late-fixes.ts, geofence/backfill.ts):
 * each unit keeps its history (cluster/history-segments.ts: judged fixes, a checkpoint per window,
 * emitted events), a late fix waits until the end of its batch (the single process's flush), and the
 * runner, once it has loaded the unit's history (cluster/history-store.ts), re-judges the unit from the
 * newest checkpoint before it and publishes the difference (`rejudge`).
 *
 * The platform's own outages (cluster/outages.ts) are handed to every step, tick and re-judging: the
 * silences they overlap are platform gaps, not violations (geofence/platform-gaps.ts).
 *
 * The evidence due (violations closed or withdrawn whose package is not stored yet) is part of the
 * checkpoint, so a package a crash cut off is built by the next owner (cluster/worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeVehicleState } from '../compliance/engine-state-codec.ts';
import type { Fix } from '../core/fix.ts';
import { rejudgeWith } from '../geofence/backfill.ts';
import type { VehicleState } from '../geofence/engine.ts';
import { type Judge, type JudgeState, newestStepped } from '../geofence/judge.ts';
import { NO_OUTAGES, type Outage, type PlatformGap } from '../geofence/platform-gaps.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { GapReset } from './gap-store.ts';
import { UnitHistory } from './history-segments.ts';

/** what a checkpoint holds (JSON, gzipped in the KV bucket) */
export interface PartitionCheckpoint {
  /** engineFingerprint(): a checkpoint of another engine version is not fed to this one */
  engine: string;
  /** the last stream sequence whose fix is in these states (0: none) */
  seq: number;
  units: [string, JudgeState][];
  /**
   * the sealed evidence still to build: violation id -> its closing (or withdrawal) event as JSON, as
   * the single process's `evidence_due` rows (compliance/evidence-queue.ts); absent in checkpoints
   * written before the workers built evidence
   */
  evidence?: [string, string][];
  /** the instant the live ticks judged silence up to (a re-judging ticks there again) */
  tickedTo?: number;
  /**
   * the runner lives whose checkpoints led to this one, each with the sequence of its last checkpoint:
   * history segments they wrote up to it are committed, later ones are not (history-store.ts)
   */
  lives?: [string, number][];
}

/** lives kept in a checkpoint (older ones wrote history long pruned, or append-only) */
const MAX_LIVES = 1024;

export interface StepOutput {
  violations: ViolationEvent[];
  trips: TripEvent[];
  /** silences the platform's outages voided (not violations): stored by the worker (gap-store.ts) */
  gaps: PlatformGap[];
  /** units whose stored gaps a re-judging replaced from a base on (deleted before `gaps` are put) */
  gapResets: GapReset[];
  /** late fixes received (queued for the re-judging at the end of the batch) */
  late: number;
}

export const newStepOutput = (): StepOutput => ({
  violations: [],
  trips: [],
  gaps: [],
  gapResets: [],
  late: 0,
});

/** What one unit's re-judging did (the single process's `compliance.late` figures). */
export interface RejudgeFigures {
  /** a re-judging ran and changed the history */
  rejudged: boolean;
  /** late fixes at the instant of one already judged */
  duplicates: number;
  /** late fixes older than the unit's history reaches: stored, not judged */
  beyondHistory: number;
}

interface LateFix {
  fix: Fix;
  seq: number;
}

export class PartitionState {
  private readonly states = new Map<string, JudgeState>();
  /** violations closed or withdrawn whose evidence package is not stored yet (id -> event JSON) */
  private readonly due = new Map<string, string>();
  /** each unit's history (its newest segment, and what changed since it was written) */
  private readonly histories = new Map<string, UnitHistory>();
  /** late fixes waiting for the re-judging at the end of the batch, by unit */
  private late = new Map<string, LateFix[]>();
  /** the last stream sequence stepped */
  seq = 0;
  /** the instant the live ticks judged silence up to */
  tickedTo: number | undefined;
  /** this life of the partition's judgement (a runner's life: random) */
  readonly life = randomBytes(6).toString('hex');
  /** the sequence this life restored (0: none), and the last it checkpointed */
  restoredSeq = 0;
  private checkpointSeq = 0;
  /** the lives that led to the restored checkpoint, with the sequence each had checkpointed */
  private lives = new Map<string, number>();

  constructor(
    private readonly judge: Judge,
    private readonly fingerprint: string,
  ) {}

  get units(): number {
    return this.states.size;
  }

  historyOf(unit: string): UnitHistory {
    let h = this.histories.get(unit);
    if (h === undefined) {
      h = new UnitHistory(unit);
      this.histories.set(unit, h);
    }
    return h;
  }

  /** every unit's history in memory (written before each checkpoint) */
  allHistories(): UnitHistory[] {
    return [...this.histories.values()];
  }

  /** the units judged so far with their newest fix (a restore reads their newest history segment) */
  newestFixes(): { history: UnitHistory; newestTs: number }[] {
    const out: { history: UnitHistory; newestTs: number }[] = [];
    for (const [unit, state] of this.states) {
      const newestTs = newestStepped(state);
      if (newestTs !== undefined) out.push({ history: this.historyOf(unit), newestTs });
    }
    return out;
  }

  /** steps one fix taken from stream sequence `seq`, appending its events to `out` */
  step(fix: Fix, seq: number, world: World, out: StepOutput, outages: readonly Outage[] = NO_OUTAGES): void {
    this.seq = seq;
    const state = this.states.get(fix.vehicle) ?? this.judge.initial(fix.vehicle);
    const newest = newestStepped(state);
    if (newest !== undefined && fix.ts <= newest) {
      // late (or a duplicate of the newest): re-judged in time order at the end of the batch
      const list = this.late.get(fix.vehicle);
      if (list) list.push({ fix, seq });
      else this.late.set(fix.vehicle, [{ fix, seq }]);
      out.late++;
      return;
    }
    const result = this.judge.step(state, fix, world, outages);
    this.states.set(fix.vehicle, result.state);
    this.historyOf(fix.vehicle).stepped(fix, seq, newest, result.state, result.events, result.trips);
    for (const e of result.trips) out.trips.push(e);
    for (const e of result.events) out.violations.push(e);
    for (const g of result.gaps) out.gaps.push(g);
  }

  /** the late fixes of the batch, by unit (the queue is emptied) */
  takeLate(): Map<string, LateFix[]> {
    const late = this.late;
    this.late = new Map();
    return late;
  }

  /**
   * Re-judges a unit with its late fixes from its history (loaded: cluster/history-store.ts loadAll),
   * as the single process's flush does (compliance/late-fixes.ts write): the history after the base is
   * replaced, the unit's state is the re-judging's, and the difference goes to `out`.
   */
  rejudge(
    unit: string,
    late: readonly LateFix[],
    world: World,
    out: StepOutput,
    outages: readonly Outage[] = NO_OUTAGES,
  ): RejudgeFigures {
    const history = this.historyOf(unit);
    const fixes = late.map((l) => l.fix);
    const r = history.judged
      ? rejudgeWith(this.judge, history, {
          vehicle: unit,
          late: fixes,
          world,
          outages,
          ...(this.tickedTo !== undefined ? { tickedTo: this.tickedTo } : {}),
        })
      : undefined;
    if (r === undefined) return { rejudged: false, duplicates: 0, beyondHistory: late.length };
    const figures = { rejudged: r.judgedLate > 0, duplicates: r.duplicates, beyondHistory: r.beforeBase };
    if (r.judgedLate === 0) return figures;
    history.replace(r, late.at(-1)!.seq, this.checkpointSeq);
    this.states.set(unit, r.state);
    for (const e of r.events) out.violations.push(e);
    for (const e of r.trips) out.trips.push(e);
    // the unit's gaps from the base on are the re-judging's (the single process's deleteGapsAfter):
    // those this batch found before it are dropped, those stored before are deleted (only when an
    // outage reaches past the base: a gap needs one overlapping its silence)
    const from = r.baseTs ?? Number.MIN_SAFE_INTEGER;
    out.gaps = out.gaps.filter((g) => g.vehicle !== unit || g.fromTs < from);
    if (outages.some((o) => o.end > from)) out.gapResets.push({ unit, fromTs: from });
    for (const g of r.gaps) out.gaps.push(g);
    return figures;
  }

  /**
   * The live silence tick (the single process's ComplianceService.tick): every unit judged at `nowMs`,
   * so OFFLINE opens while the device is still silent, not when its next fix comes. The events have the
   * ids a replay gives (an OFFLINE starts at the last fix plus the allowance, whenever it is seen), so a
   * takeover that replays the fix ending the silence finds the same violation.
   */
  tick(nowMs: number, world: World, out: StepOutput, outages: readonly Outage[] = NO_OUTAGES): void {
    if (this.tickedTo === undefined || nowMs > this.tickedTo) this.tickedTo = nowMs;
    for (const [unit, state] of this.states) {
      const result = this.judge.tick(state, nowMs, world, outages);
      if (result.state !== state) this.states.set(unit, result.state);
      const afterTs = newestStepped(state);
      if (result.events.length > 0 && afterTs !== undefined)
        this.historyOf(unit).ticked(afterTs, this.seq, result.events);
      for (const e of result.events) out.violations.push(e);
      for (const g of result.gaps) out.gaps.push(g);
    }
  }

  /**
   * Stored events (their batch's fixes are in the fix store): the evidence of each violation they close
   * or withdraw is due, as the single process's commit makes it (compliance/service.ts); a withdrawn
   * violation's package says so. Returns how many became due.
   */
  evidenceDue(events: readonly ViolationEvent[]): number {
    let n = 0;
    for (const e of events) {
      if (e.phase !== 'closed' && e.phase !== 'withdrawn') continue;
      this.due.set(e.violation.id, JSON.stringify(e));
      n++;
    }
    return n;
  }

  /** the evidence still to build (violation id, event JSON) */
  dueEvidence(): IterableIterator<[string, string]> {
    return this.due.entries();
  }

  get dueCount(): number {
    return this.due.size;
  }

  /** The package built from `body` is stored: no longer due, unless a later event replaced the row. */
  evidenceStored(violationId: string, body: string): boolean {
    if (this.due.get(violationId) !== body) return false;
    this.due.delete(violationId);
    return true;
  }

  /** who wrote what in the history, for reading it back (history-store.ts) */
  historyView(): { life: string; restoredSeq: number; committed: ReadonlyMap<string, number> } {
    return { life: this.life, restoredSeq: this.restoredSeq, committed: this.lives };
  }

  /** the checkpoint `encode` gave is written: the history up to `seq` is committed */
  checkpointed(): void {
    this.checkpointSeq = this.seq;
    for (const h of this.histories.values()) h.checkpointed();
  }

  encode(): Uint8Array {
    const lives = [...this.lives].filter(([life]) => life !== this.life);
    lives.push([this.life, this.seq]);
    const checkpoint: PartitionCheckpoint = {
      engine: this.fingerprint,
      seq: this.seq,
      units: [...this.states],
      evidence: [...this.due],
      ...(this.tickedTo !== undefined ? { tickedTo: this.tickedTo } : {}),
      lives: lives.slice(-MAX_LIVES),
    };
    return gzipSync(JSON.stringify(checkpoint));
  }

  /**
   * Reads a checkpoint back. One written by another engine version (or by the worker before the judge
   * carried the ledger) gives its sequence but no states: the units start afresh, as the single process
   * does with such saved states; `stale` says so.
   */
  restore(bytes: Uint8Array): { stale: boolean } {
    const checkpoint = JSON.parse(gunzipSync(bytes).toString('utf8')) as Partial<PartitionCheckpoint>;
    this.states.clear();
    this.due.clear();
    this.histories.clear();
    this.late = new Map();
    this.seq = checkpoint.seq ?? 0;
    this.restoredSeq = this.seq;
    this.checkpointSeq = this.seq;
    this.lives = new Map(checkpoint.lives ?? []);
    this.tickedTo = checkpoint.tickedTo;
    // (evidence does not depend on the engine's version: what was due stays due)
    for (const [id, body] of checkpoint.evidence ?? []) this.due.set(id, body);
    if (checkpoint.engine !== this.fingerprint || !Array.isArray(checkpoint.units)) return { stale: true };
    for (const [unit, state] of checkpoint.units) {
      const engine: VehicleState = decodeVehicleState(JSON.stringify(state.engine));
      this.states.set(unit, { ...state, engine });
    }
    return { stale: false };
  }
}
