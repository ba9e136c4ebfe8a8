import type { Logger } from 'pino';
import type { Fix } from '../core/fix.ts';
import { buildEvidence } from '../geofence/evidence.ts';
import type { World } from '../geofence/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import type { EvidenceDone } from './engine-state-store.ts';
import { type EvidenceDueSource, type EvidenceJob, EvidenceWindow } from './evidence-window.ts';
import { StoreBackoff } from './store-backoff.ts';

export type { EvidenceDueSource } from './evidence-window.ts';

/**
 * Builds and stores the evidence package of every closed violation, at the store's pace.
 *
 * The durable queue is the `evidence_due` rows of the engine state (compliance/engine-state-store.ts): a
 * closed violation's row is committed with the event that closed it and deleted in the commit after its
 * package is stored. This module keeps only a window of those rows in memory (`windowSize`), refilled by
 * sweeping the rows in id order, and runs at most `maxRunning` store calls at once. A violation id starts
 * with its vehicle, so the window holds a vehicle's due jobs side by side: one track query covers all
 * of them whose ranges fit in `maxSpanMs` (a storm of short TRACK_GAPs costs a query per vehicle, not one
 * per violation). When the store fails, the whole queue backs off (every job would fail alike) instead of
 * each job retrying on its own; nothing is given up, the rows stay due until stored, across restarts.
 * Issue 10 had the opposite: a job per violation, each with its own retries and no limit (18,332 jobs,
 * 8,192 sockets), rebuilt in full at the next start.
 *
 * A job waits until the fix store holds the fixes accepted before it was queued (`fixProgress`), so the
 * package has the fix that closed the violation.
 */

/** How far the pump has moved accepted fixes into the fix store (spool counts since the start). */
export interface FixProgress {
  /** fixes accepted (made durable in the spool) so far */
  accepted: number;
  /** of those and the ones waiting at the start, how many are in the fix store: accepted − spool depth */
  stored: number;
}

export interface EvidenceQueueOptions {
  source: EvidenceDueSource;
  fixes: Pick<FixStore, 'track'>;
  events: Pick<EventStore, 'putEvidence'>;
  /** the world a package resolves its entities in (the current one) */
  world: () => World;
  /** without it a job is ready at once */
  fixProgress?: () => FixProgress;
  logger: Logger;
  /** store calls (a track query, then the packages' writes) at once, default 4 */
  maxRunning?: number;
  /** due jobs held in memory, default 256 */
  windowSize?: number;
  /** jobs of one vehicle per track query, default 32 */
  maxBatch?: number;
  /** longest time range one track query covers, default 1 h */
  maxSpanMs?: number;
  /** first wait after a failed store call; doubles up to maxBackoffMs (default 500 and 15,000) */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** looks at a track without the closing fix before the package is built anyway, default 3 */
  incompleteTries?: number;
}

export interface EvidenceStatus {
  /** packages still to build and store (durable rows not yet done) */
  due: number;
  /** due jobs held in memory */
  window: number;
  /** store calls running now, and the most at once since the start */
  running: number;
  peakRunning: number;
  maxRunning: number;
  /** packages stored since the start */
  stored: number;
  /** jobs dropped because the store refused their package for good (logged) */
  failed: number;
  storeOk: boolean;
  lastError?: string;
}

export class EvidenceQueue {
  private readonly maxRunning: number;
  private readonly incompleteTries: number;
  /** the due jobs in memory (evidence-window.ts) */
  private readonly window: EvidenceWindow;
  /** the stores' health: one backoff for the whole queue */
  private readonly backoff: StoreBackoff;
  private running = 0;
  private peakRunning = 0;
  private stored = 0;
  private failed = 0;
  private started = false;
  private stopping = false;
  private readonly jobs = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EvidenceQueueOptions) {
    this.maxRunning = opts.maxRunning ?? 4;
    this.incompleteTries = opts.incompleteTries ?? 3;
    this.backoff = new StoreBackoff(opts.initialBackoffMs ?? 500, opts.maxBackoffMs ?? 15_000);
    this.window = new EvidenceWindow({
      source: opts.source,
      size: opts.windowSize ?? 256,
      maxBatch: opts.maxBatch ?? 32,
      maxSpanMs: opts.maxSpanMs ?? 3_600_000,
      unreadable: (violation, err) =>
        opts.logger.error({ err: err.message, violation }, 'evidence: unreadable due row; dropped'),
    });
    if (!Number.isInteger(this.maxRunning) || this.maxRunning < 1)
      throw new Error(`evidence maxRunning must be an integer >= 1: ${this.maxRunning}`);
  }

  /** Starts working (the event store is open). */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.kick();
  }

  /** New rows were committed: look for them at the next fill. */
  rowsCommitted(): void {
    this.window.rowsCommitted();
    this.kick();
  }

  /**
   * Rows stored since the last call (with the body each package was built from): they go in the next
   * commit (then call doneCommitted), unless a later event replaced the row meanwhile.
   */
  takeDone(): EvidenceDone[] {
    return this.window.takeDone();
  }

  /**
   * The commit that deleted these rows succeeded. A row a later event replaced (a withdrawal after the
   * close) was not deleted: the next sweep finds it and builds its package.
   */
  doneCommitted(done: readonly EvidenceDone[]): void {
    if (this.window.doneCommitted(done)) this.kick();
  }

  /** The commit failed: these rows stay; hand them back to the next takeDone(). */
  doneNotCommitted(done: readonly EvidenceDone[]): void {
    this.window.doneNotCommitted(done);
  }

  status(): EvidenceStatus {
    let due = 0;
    try {
      due = this.window.due();
    } catch {
      due = this.window.size;
    }
    return {
      due,
      window: this.window.size,
      running: this.running,
      peakRunning: this.peakRunning,
      maxRunning: this.maxRunning,
      stored: this.stored,
      failed: this.failed,
      storeOk: this.backoff.ok,
      ...(this.backoff.lastError !== undefined ? { lastError: this.backoff.lastError } : {}),
    };
  }

  /**
   * Starts no more store calls and waits for the running ones, at most until `deadline` (epoch ms;
   * wall clock). What is not stored stays due for the next start.
   */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const pending = Promise.allSettled([...this.jobs]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pending,
      new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
  }

  /** Fills the window and starts batches while there is room; re-arms itself when jobs must wait. */
  private kick(): void {
    if (!this.started || this.stopping) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    if (now < this.backoff.retryAt) {
      this.wakeAt(this.backoff.retryAt);
      return;
    }
    try {
      this.window.fill(this.opts.fixProgress?.().accepted ?? 0);
    } catch (err) {
      this.noteFailure(err as Error, 'reading the due evidence rows failed');
      this.wakeAt(this.backoff.retryAt);
      return;
    }
    const stored = this.opts.fixProgress?.().stored ?? Number.POSITIVE_INFINITY;
    let nextWake = Number.POSITIVE_INFINITY;
    for (const job of this.window.jobs.values()) {
      if (this.running >= this.maxRunning) break;
      if (job.running) continue;
      if (job.readyAt > stored) {
        nextWake = Math.min(nextWake, now + 250); // the pump has not stored its fixes yet
        continue;
      }
      if (job.notBefore > now) {
        nextWake = Math.min(nextWake, job.notBefore);
        continue;
      }
      this.launch(this.window.batchFrom(job, stored, now));
    }
    if (this.running < this.maxRunning && Number.isFinite(nextWake)) this.wakeAt(nextWake);
  }

  private wakeAt(at: number): void {
    if (this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.max(10, at - Date.now()));
    this.timer.unref();
  }

  private launch(batch: EvidenceJob[]): void {
    this.running++;
    if (this.running > this.peakRunning) this.peakRunning = this.running;
    const run = this.runBatch(batch)
      .catch((err: Error) => this.opts.logger.error({ err: err.message }, 'evidence: batch failed'))
      .finally(() => {
        this.running--;
        this.jobs.delete(run);
        for (const job of batch) job.running = false;
        this.kick();
      });
    this.jobs.add(run);
  }

  private async runBatch(batch: EvidenceJob[]): Promise<void> {
    const first = batch[0]!;
    let from = first.from;
    let to = first.to;
    for (const job of batch) {
      from = Math.min(from, job.from);
      to = Math.max(to, job.to);
    }
    let track: Fix[];
    try {
      track = await this.opts.fixes.track({ vehicle: first.vehicle, from, to });
    } catch (err) {
      this.noteFailure(err as Error, 'evidence: reading the track failed; retrying');
      return;
    }
    for (const job of batch) {
      if (this.stopping) return;
      // the fix that closed the violation should be stored by now; if it is not, look again shortly,
      // then build with what there is (a violation closed by silence has no fix at its end)
      if (!track.some((f) => f.ts >= job.endTs) && job.incomplete < this.incompleteTries) {
        job.incomplete++;
        job.notBefore = Date.now() + 1000 * job.incomplete;
        continue;
      }
      // building is CPU work: let the loop answer requests between packages
      await new Promise((r) => setImmediate(r));
      const pkg = buildEvidence(job.event.violation, track, this.opts.world());
      try {
        await this.opts.events.putEvidence(pkg);
      } catch (err) {
        if ((err as { permanent?: unknown }).permanent === true) {
          this.failed++;
          this.opts.logger.error(
            { violation: job.id, err: (err as Error).message },
            'evidence: the store refused the package for good; dropped',
          );
          this.window.markDone(job.id, job.body);
          continue;
        }
        this.noteFailure(err as Error, 'evidence: storing a package failed; retrying');
        return;
      }
      this.window.markDone(job.id, job.body);
      this.stored++;
    }
    this.recovered();
  }

  private noteFailure(err: Error, message: string): void {
    const b = this.backoff;
    if (b.failed(err))
      this.opts.logger.warn(
        { err: err.message, failures: b.failures, retryInMs: b.waitMs, window: this.window.size },
        message,
      );
  }

  private recovered(): void {
    const failures = this.backoff.succeeded();
    if (failures > 0) this.opts.logger.info({ failures }, 'evidence: store calls work again');
  }
}
