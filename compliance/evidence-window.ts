import { EVIDENCE_MARGIN_MS } from '../geofence/evidence.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { EvidenceDone, EvidenceDueRow } from './engine-state-store.ts';

/**
 * The evidence queue's window (compliance/evidence-queue.ts runs the jobs): the due rows held in memory
 * (at most `size`), refilled by sweeping the durable rows in id order, the rows stored and not yet
 * deleted by a commit, and the batching of one vehicle's ready jobs into one track query. A violation
 * id starts with its vehicle, so the window holds a vehicle's due jobs side by side.
 */

/** The durable due rows, in violation-id order. */
export interface EvidenceDueSource {
  /** rows with violation id > afterId ('' for the first), in id order, at most `limit` */
  evidenceDuePage(afterId: string, limit: number): EvidenceDueRow[];
  /** rows in all */
  evidenceDueCount(): number;
}

export interface EvidenceJob {
  id: string;
  /** the due row's body: its row is deleted only while it still holds this (engine-state-store.ts) */
  body: string;
  vehicle: string;
  event: ViolationEvent;
  from: number;
  to: number;
  endTs: number;
  /** ready once fixProgress().stored reaches this */
  readyAt: number;
  /** wall clock: not before */
  notBefore: number;
  incomplete: number;
  running: boolean;
}

export interface EvidenceWindowOptions {
  source: EvidenceDueSource;
  /** due jobs held in memory */
  size: number;
  /** jobs of one vehicle per track query */
  maxBatch: number;
  /** longest time range one track query covers */
  maxSpanMs: number;
  /** an unreadable row (it is dropped: marked done) */
  unreadable: (violationId: string, err: Error) => void;
}

export class EvidenceWindow {
  /** loaded due jobs by id, in load order */
  readonly jobs = new Map<string, EvidenceJob>();
  /** stored, their rows not yet deleted (the next commit does it) */
  private readonly doneUncommitted = new Set<string>();
  /** stored since the last takeDone() */
  private doneFresh: EvidenceDone[] = [];
  /** sweep: last id looked at, the commit generation the current pass started in, rows to look at */
  private cursor = '';
  private passStartedAt = -1;
  private commits = 0;
  private dirty = true;

  constructor(private readonly opts: EvidenceWindowOptions) {}

  get size(): number {
    return this.jobs.size;
  }

  /** New rows were committed: look for them at the next fill. */
  rowsCommitted(): void {
    this.commits++;
    this.dirty = true;
  }

  /** Rows stored since the last call (with the body each package was built from). */
  takeDone(): EvidenceDone[] {
    const done = this.doneFresh;
    this.doneFresh = [];
    return done;
  }

  /** The commit that deleted these rows succeeded: returns whether there were any (refill then). */
  doneCommitted(done: readonly EvidenceDone[]): boolean {
    for (const d of done) this.doneUncommitted.delete(d.violationId);
    if (done.length > 0) this.dirty = true;
    return done.length > 0;
  }

  /** The commit failed: these rows stay; hand them back to the next takeDone(). */
  doneNotCommitted(done: readonly EvidenceDone[]): void {
    this.doneFresh.push(...done);
  }

  /** durable rows in all, less those stored and not yet deleted */
  due(): number {
    return Math.max(0, this.opts.source.evidenceDueCount() - this.doneUncommitted.size);
  }

  /**
   * Loads due rows into the window while it has room, sweeping them in id order from a cursor. Rows
   * appear only through commits (counted by rowsCommitted), so the sweep is done once a pass has run from
   * the first row to the end with no commit since the pass began: every row was then loaded (or is done).
   * A pass stopped by a full window goes on from its cursor next time.
   */
  fill(accepted: number): void {
    for (let passes = 0; this.dirty && passes < 3; ) {
      let room = this.opts.size - this.jobs.size;
      if (room <= 0) return;
      if (this.cursor === '') this.passStartedAt = this.commits;
      const limit = room + 64;
      const rows = this.opts.source.evidenceDuePage(this.cursor, limit);
      for (const row of rows) {
        if (!this.jobs.has(row.violationId) && !this.doneUncommitted.has(row.violationId)) {
          if (room <= 0) return; // full: the pass goes on from the cursor next time
          const job = this.jobOf(row, accepted);
          if (job) {
            this.jobs.set(job.id, job);
            room--;
          }
        }
        this.cursor = row.violationId;
      }
      if (rows.length < limit) {
        if (this.passStartedAt === this.commits) this.dirty = false;
        this.cursor = '';
        passes++;
      }
    }
  }

  private jobOf(row: EvidenceDueRow, accepted: number): EvidenceJob | undefined {
    let event: ViolationEvent;
    try {
      event = JSON.parse(row.body) as ViolationEvent;
    } catch (err) {
      this.opts.unreadable(row.violationId, err as Error);
      this.markDone(row.violationId, row.body);
      return undefined;
    }
    const v = event.violation;
    const endTs = v.endTs ?? v.startTs;
    return {
      id: row.violationId,
      body: row.body,
      vehicle: v.vehicle,
      event,
      from: v.startTs - EVIDENCE_MARGIN_MS,
      to: endTs + EVIDENCE_MARGIN_MS,
      endTs,
      readyAt: accepted,
      notBefore: 0,
      incomplete: 0,
      running: false,
    };
  }

  /** `first` and the ready jobs of its vehicle in the window that one track query can cover with it. */
  batchFrom(first: EvidenceJob, stored: number, now: number): EvidenceJob[] {
    const batch = [first];
    first.running = true;
    let from = first.from;
    let to = first.to;
    for (const job of this.jobs.values()) {
      if (batch.length >= this.opts.maxBatch) break;
      if (job.running || job.vehicle !== first.vehicle || job.readyAt > stored || job.notBefore > now)
        continue;
      const f = Math.min(from, job.from);
      const t = Math.max(to, job.to);
      if (t - f > this.opts.maxSpanMs) continue;
      from = f;
      to = t;
      job.running = true;
      batch.push(job);
    }
    return batch;
  }

  /** the job is over (stored, or dropped): its row goes in the next commit */
  markDone(id: string, body: string): void {
    this.jobs.delete(id);
    this.doneUncommitted.add(id);
    this.doneFresh.push({ violationId: id, body });
  }
}
