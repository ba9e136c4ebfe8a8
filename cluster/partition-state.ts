/**
 * One partition's judgement, without I/O: the judge states (geofence/judge.ts: engine, trip tracker and
 * the ledger of what is open) of the partition's units, stepped by the fixes of the partition in stream
 * order, and the checkpoint that saves them together with the stream sequence they cover. The same judge
 * and the same step as the single process (compliance/service.ts stepFix: silence judged at the fix
 * that ends it, the outlier screen, trips from the fixes the engine judged), so the same fixes give the
 * same events with the same ids; restored from a checkpoint at sequence S and fed the stream after S, it
 * gives what an uninterrupted run gives.
 *
 * Not judged here (yet): a late fix (at or before its unit's newest stepped fix: blind-area backfill
 * arriving after the live fix). The single process re-judges its unit from a history
 * (compliance/late-fixes.ts); a worker has no such history yet, so it counts the fix (`late`) and leaves
 * the judgement as it was. The fix itself is still stored. Nor are the platform's own outages known
 * here: no silence verdict is voided as a platform gap.
 *
 * The evidence due (violations closed or withdrawn whose package is not stored yet) is part of the
 * checkpoint, so a package a crash cut off is built by the next owner (cluster/worker.ts).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeVehicleState } from '../compliance/engine-state-codec.ts';
import type { Fix } from '../core/fix.ts';
import type { VehicleState } from '../geofence/engine.ts';
import { type Judge, type JudgeState, newestStepped } from '../geofence/judge.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';

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
}

export interface StepOutput {
  violations: ViolationEvent[];
  trips: TripEvent[];
  /** late fixes left unjudged (see above) */
  late: number;
}

export class PartitionState {
  private readonly states = new Map<string, JudgeState>();
  /** violations closed or withdrawn whose evidence package is not stored yet (id -> event JSON) */
  private readonly due = new Map<string, string>();
  /** the last stream sequence stepped */
  seq = 0;

  constructor(
    private readonly judge: Judge,
    private readonly fingerprint: string,
  ) {}

  get units(): number {
    return this.states.size;
  }

  /** steps one fix taken from stream sequence `seq`, appending its events to `out` */
  step(fix: Fix, seq: number, world: World, out: StepOutput): void {
    this.seq = seq;
    const state = this.states.get(fix.vehicle) ?? this.judge.initial(fix.vehicle);
    const newest = newestStepped(state);
    if (newest !== undefined && fix.ts <= newest) {
      out.late++;
      return;
    }
    const result = this.judge.step(state, fix, world);
    this.states.set(fix.vehicle, result.state);
    for (const e of result.trips) out.trips.push(e);
    for (const e of result.events) out.violations.push(e);
  }

  /**
   * The live silence tick (the single process's ComplianceService.tick): every unit judged at `nowMs`,
   * so OFFLINE opens while the device is still silent, not when its next fix comes. The events have the
   * ids a replay gives (an OFFLINE starts at the last fix plus the allowance, whenever it is seen), so a
   * takeover that replays the fix ending the silence finds the same violation.
   */
  tick(nowMs: number, world: World, out: StepOutput): void {
    for (const [unit, state] of this.states) {
      const result = this.judge.tick(state, nowMs, world);
      if (result.state !== state) this.states.set(unit, result.state);
      for (const e of result.events) out.violations.push(e);
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

  encode(): Uint8Array {
    const checkpoint: PartitionCheckpoint = {
      engine: this.fingerprint,
      seq: this.seq,
      units: [...this.states],
      evidence: [...this.due],
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
    this.seq = checkpoint.seq ?? 0;
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
