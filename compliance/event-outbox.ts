import type { Logger } from 'pino';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { OutboxKind, OutboxRow } from './engine-state-store.ts';
import { StoreBackoff } from './store-backoff.ts';

/**
 * The engine's events on their way to the EventStore: violations first, then trips, in order, one
 * batch write at a time (`batchSize` events), with a backoff after a failure.
 *
 * The events are durable in the outbox of the engine state (compliance/engine-state-store.ts) before
 * they get here; memory holds at most `windowSize` of each kind. When more arrive (an outage, a storm:
 * issue 10 had 43,098 violation events in memory) the rest stay only in the outbox and are read back
 * page by page as the window empties, in outbox order. A restart reads nothing up front either.
 * Events that could not be made durable (seq 0: the state store is failing) are always kept in memory.
 */

export interface OutboxPages {
  /** durable rows of one kind after `afterSeq`, in order, at most `limit` */
  outboxPage(kind: OutboxKind, afterSeq: number, limit: number): OutboxRow[];
}

/** An event waiting for the EventStore; seq is its outbox row (0: not durable). */
export interface Queued<E> {
  seq: number;
  event: E;
}

export interface EventOutboxOptions {
  events: Pick<EventStore, 'recordViolations' | 'recordTrips'>;
  /** the durable outbox; without it every event is kept in memory */
  pages?: OutboxPages;
  logger: Logger;
  /** events per EventStore write, default 500 */
  batchSize?: number;
  /** events of each kind held in memory, default 4 * batchSize */
  windowSize?: number;
  /** wait after a failed write, doubling up to maxBackoffMs (default 250 and 5,000) */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** the smallest write after failures */
const MIN_BATCH = 16;

/** One kind's window, and how much of it waits only in the outbox. */
class Lane<E> {
  readonly window: Queued<E>[] = [];
  /** events of this kind not yet in the EventStore (window and outbox-only) */
  pending = 0;
  /** durable ones among them */
  durable = 0;
  /** rows past the window wait in the outbox */
  spilled = false;
  /** highest seq ever placed in the window: rows after it are read back from the outbox */
  loadedUpTo = 0;

  constructor(readonly kind: OutboxKind) {}
}

export class EventOutbox {
  private readonly violations = new Lane<ViolationEvent>('violation');
  private readonly trips = new Lane<TripEvent>('trip');
  private readonly batchSize: number;
  private readonly windowSize: number;
  /** outbox rows the EventStore accepted, to delete in the next commit */
  private acked: number[] = [];
  private flushing: Promise<void> | undefined;
  /** the EventStore's health and the wait before the next write after a failure */
  private readonly backoff: StoreBackoff;
  private peak = 0;
  /** events per write now: halved after a failure (a slow store answers a smaller batch in time), doubled back after a success */
  private batch: number;

  constructor(private readonly opts: EventOutboxOptions) {
    this.batchSize = opts.batchSize ?? 500;
    this.batch = this.batchSize;
    this.windowSize = Math.max(this.batchSize, opts.windowSize ?? 4 * this.batchSize);
    this.backoff = new StoreBackoff(opts.initialBackoffMs ?? 250, opts.maxBackoffMs ?? 5_000);
  }

  /** After a restart: this many durable rows wait in the outbox (read back page by page). */
  restored(counts: Record<OutboxKind, number>): void {
    for (const lane of [this.violations, this.trips] as Lane<unknown>[]) {
      const n = counts[lane.kind];
      lane.pending += n;
      lane.durable += n;
      if (n > 0) lane.spilled = true;
    }
  }

  /** New events, in production order, with their outbox seqs (undefined: not durable). */
  add(violations: readonly ViolationEvent[], trips: readonly TripEvent[], seqs?: readonly number[]): void {
    let i = 0;
    for (const event of violations) this.push(this.violations, event, seqs?.[i++] ?? 0);
    for (const event of trips) this.push(this.trips, event, seqs?.[i++] ?? 0);
  }

  private push<E>(lane: Lane<E>, event: E, seq: number): void {
    lane.pending++;
    if (seq === 0) {
      lane.window.push({ seq, event });
      this.peak = Math.max(this.peak, this.windowed);
      return;
    }
    lane.durable++;
    if (this.opts.pages && (lane.spilled || lane.window.length >= this.windowSize)) {
      lane.spilled = true; // read back from the outbox once the window is empty
      return;
    }
    lane.window.push({ seq, event });
    lane.loadedUpTo = Math.max(lane.loadedUpTo, seq);
    this.peak = Math.max(this.peak, this.windowed);
  }

  /** Outbox rows the EventStore now holds: delete them in the next commit. */
  takeAcked(): number[] {
    const ids = this.acked;
    this.acked = [];
    return ids;
  }

  /** The commit failed: these rows are still there; hand them back to the next takeAcked(). */
  ackedNotCommitted(ids: readonly number[]): void {
    this.acked.push(...ids);
  }

  get pendingViolations(): number {
    return this.violations.pending;
  }

  get pendingTrips(): number {
    return this.trips.pending;
  }

  /** events held in memory now (at most windowSize per kind, plus any not durable) */
  get windowed(): number {
    return this.violations.window.length + this.trips.window.length;
  }

  /** the most events held in memory at once since the start */
  get peakWindowed(): number {
    return this.peak;
  }

  /** durable events not yet in the EventStore */
  get durablePending(): number {
    return this.violations.durable + this.trips.durable;
  }

  get ok(): boolean {
    return this.backoff.ok;
  }

  get error(): string | undefined {
    return this.backoff.lastError;
  }

  /**
   * Writes what waits, one batch at a time, unless a write is under way (its promise is returned) or
   * the backoff after a failure has not passed (`force` ignores it).
   */
  flush(force = false): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.violations.pending === 0 && this.trips.pending === 0) return Promise.resolve();
    if (!force && Date.now() < this.backoff.retryAt) return Promise.resolve();
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    try {
      await this.drain(this.violations, (batch) => this.opts.events.recordViolations(batch));
      await this.drain(this.trips, (batch) => this.opts.events.recordTrips(batch));
      if (this.backoff.succeeded() > 0) this.opts.logger.info('compliance: event store writes recovered');
    } catch (err) {
      this.batch = Math.max(Math.min(MIN_BATCH, this.batchSize), this.batch >> 1);
      // bounded logging: the first failures, then every 50th
      if (this.backoff.failed(err as Error))
        this.opts.logger.warn(
          {
            err: this.backoff.lastError,
            failures: this.backoff.failures,
            queuedViolations: this.violations.pending,
            queuedTrips: this.trips.pending,
            nextBatch: this.batch,
          },
          'compliance: event store write failed; events stay queued',
        );
    }
  }

  private async drain<E>(lane: Lane<E>, write: (batch: E[]) => Promise<void>): Promise<void> {
    for (;;) {
      if (lane.window.length === 0 && !this.refill(lane)) return;
      const batch = lane.window.slice(0, this.batch);
      await write(batch.map((q) => q.event));
      this.batch = Math.min(this.batchSize, this.batch * 2);
      lane.window.splice(0, batch.length);
      for (const q of batch) {
        lane.pending--;
        if (q.seq > 0) {
          lane.durable--;
          this.acked.push(q.seq);
        }
      }
      // let the loop breathe between batches (API, ingest)
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Reads the next page of spilled rows into the empty window; false when there is none. */
  private refill<E>(lane: Lane<E>): boolean {
    if (!lane.spilled || !this.opts.pages) return false;
    const rows = this.opts.pages.outboxPage(lane.kind, lane.loadedUpTo, this.windowSize);
    for (const row of rows) {
      lane.loadedUpTo = row.seq;
      try {
        lane.window.push({ seq: row.seq, event: JSON.parse(row.body) as E });
      } catch (err) {
        this.opts.logger.error(
          { err: (err as Error).message, seq: row.seq },
          'compliance: unreadable outbox row',
        );
        lane.pending--;
        lane.durable--;
        this.acked.push(row.seq);
      }
    }
    if (rows.length < this.windowSize) lane.spilled = false;
    this.peak = Math.max(this.peak, this.windowed);
    return lane.window.length > 0;
  }
}
