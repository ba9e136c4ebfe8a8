import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../store/sqlite-file.ts';
import { eventBody, type WebhookEvent } from './events.ts';
import {
  type Attempt,
  type AttemptOutcome,
  type DeliveryStatus,
  type DeliveryWithLog,
  type DueDelivery,
  type NewSubscription,
  type Page,
  type PageQuery,
  type StateChange,
  type Subscription,
  type SubscriptionState,
  type SubscriptionWithSecret,
  targetOf,
} from './records.ts';
import { generateSecret } from './signature.ts';
import {
  json,
  migrate,
  parseCursor,
  prepareStatements,
  type Row,
  SCHEMA,
  SCHEMA_VERSION,
  type Statements,
  toAttempt,
  toDelivery,
  toSubscription,
} from './store-sql.ts';

/**
 * Subscriptions, deliveries and their attempt log in SQLite (`DATA_DIR/webhooks.sqlite`), opened like the
 * other embedded databases: WAL, synchronous=FULL, so a delivery that was enqueued survives a crash or a
 * power cut and a restart resumes it. Synchronous (better-sqlite3); every write is one transaction.
 *
 * A delivery is one event for one subscription: pending (with `next_at`, the earliest time of its next
 * attempt) until a 2xx (delivered) or until its attempts are used up (dead: the dead-letter list). A
 * pending delivery being attempted carries a lease in `next_at` (now + timeout + grace): it is not
 * picked twice, and if the process dies mid-attempt the lease expires and it is attempted again
 * (at-least-once; receivers dedupe on the event id).
 */

const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

function describeAttempt(a: Attempt): string {
  return a.statusCode !== undefined ? `HTTP ${a.statusCode}` : (a.error ?? 'no answer');
}

export class WebhookStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly st: Statements;
  /** every subscription, for matching each event without a query; refreshed on every change */
  private cache: SubscriptionWithSecret[] | undefined;

  constructor(options: { file: string }) {
    this.file = options.file;
    const { db, value } = openSqlite(this.file, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      migrate(db);
      return prepareStatements(db);
    });
    this.db = db;
    this.st = value;
  }

  // -- subscriptions ------------------------------------------------------------------------------

  /** Creates a subscription with a fresh signing secret; returns it with the secret (shown once). */
  createSubscription(input: NewSubscription, now: number): SubscriptionWithSecret {
    const id = newId('whs');
    this.st.insertSubscription.run({
      id,
      owner_key: input.ownerKey,
      owner_firm: input.ownerFirm ?? null,
      url: input.url,
      secret: generateSecret(),
      events: JSON.stringify(input.events),
      firms: json(input.firms),
      vehicles: json(input.vehicles),
      codes: json(input.codes),
      description: input.description ?? null,
      created_at: now,
    });
    this.cache = undefined;
    return toSubscription(this.st.subscription.get(id) as Row);
  }

  subscription(id: string): SubscriptionWithSecret | undefined {
    const row = this.st.subscription.get(id) as Row | undefined;
    return row ? toSubscription(row) : undefined;
  }

  /** Subscriptions of one API key, or all. */
  subscriptions(ownerKey?: string): SubscriptionWithSecret[] {
    // Read afresh (not the cache): the run of dead letters changes with every attempt.
    return (this.st.subscriptions.all({ owner: ownerKey ?? null }) as Row[]).map(toSubscription);
  }

  /** Every subscription (cached: read for every event; `consecutiveDead` may be stale here). */
  allSubscriptions(): SubscriptionWithSecret[] {
    this.cache ??= (this.st.subscriptions.all({ owner: null }) as Row[]).map(toSubscription);
    return this.cache;
  }

  /** Deletes a subscription with its deliveries and their log (pending ones are never attempted). */
  deleteSubscription(id: string): boolean {
    const changed = this.st.deleteSubscription.run(id).changes > 0;
    this.cache = undefined;
    return changed;
  }

  // -- deliveries ---------------------------------------------------------------------------------

  /** One transaction: each event once, and a pending delivery, due now, for each of its subscriptions. */
  enqueue(
    batch: ReadonlyArray<{ event: WebhookEvent; subscriptions: readonly Subscription[] }>,
    now: number,
  ) {
    this.db.transaction(() => {
      for (const { event, subscriptions } of batch) {
        this.st.insertEvent.run({
          id: event.id,
          type: event.type,
          occurred_at: event.occurredAt,
          body: eventBody(event),
        });
        for (const sub of subscriptions) {
          this.st.insertDelivery.run({
            id: newId('dlv'),
            subscription: sub.id,
            event: event.id,
            target: targetOf(sub.url),
            next_at: now,
            created_at: now,
            replay_of: null,
          });
        }
      }
    })();
  }

  /** Pending deliveries due at `now`, oldest first, skipping targets that have no free slot. */
  due(now: number, limit: number, excludeTargets: readonly string[]): DueDelivery[] {
    return (this.st.due.all({ now, limit, exclude: JSON.stringify(excludeTargets) }) as Row[]).map((r) => ({
      id: String(r.id),
      subscription: String(r.subscription),
      target: String(r.target),
      url: String(r.url),
      secret: String(r.secret),
      eventId: String(r.event_id),
      body: String(r.body),
      attempts: Number(r.attempts),
    }));
  }

  /** Earliest next_at of a pending delivery (leases included), ignoring the given targets. */
  nextDueAt(excludeTargets: readonly string[]): number | undefined {
    const row = this.st.nextDue.get({ exclude: JSON.stringify(excludeTargets) }) as Row | undefined;
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
  }

  lease(id: string, until: number): void {
    this.st.lease.run({ id, until });
  }

  /**
   * Logs attempt `attempt.n` and moves the delivery on, in one transaction, with what it means for the
   * subscription: a delivered one ends a run of dead letters; a dead one extends it and may pause the
   * subscription (`pauseAfterDead`); a 410 Gone disables it. Returns the state change, if any.
   */
  recordAttempt(id: string, attempt: Attempt, outcome: AttemptOutcome): StateChange | undefined {
    return this.db.transaction((): StateChange | undefined => {
      this.st.insertAttempt.run({
        delivery: id,
        n: attempt.n,
        at: attempt.at,
        duration_ms: attempt.durationMs,
        status_code: attempt.statusCode ?? null,
        error: attempt.error ?? null,
      });
      this.st.finishAttempt.run({
        id,
        n: attempt.n,
        status: outcome.status,
        next_at: outcome.status === 'pending' ? (outcome.nextAt ?? attempt.at) : null,
        done_at: outcome.status === 'pending' ? null : attempt.at + Math.round(attempt.durationMs),
        status_code: attempt.statusCode ?? null,
        error: attempt.error ?? null,
      });
      const sub = this.st.deliverySubscription.get(id) as Row | undefined;
      if (!sub) return undefined;
      const subscription = String(sub.subscription);
      let change: StateChange | undefined;
      if (outcome.status === 'delivered') this.st.resetDead.run(subscription);
      else if (outcome.status === 'dead') {
        const row = this.st.countDeadInRow.get(subscription) as Row;
        const inRow = Number(row.consecutive_dead);
        if (outcome.disableReason !== undefined)
          change = { subscription, state: 'disabled', reason: outcome.disableReason };
        else if (outcome.pauseAfterDead && inRow >= outcome.pauseAfterDead && row.state === 'active')
          change = {
            subscription,
            state: 'paused',
            reason: `${inRow} deliveries in a row were dead-lettered (the last: ${describeAttempt(attempt)})`,
          };
      }
      if (change)
        this.st.setState.run({
          id: subscription,
          state: change.state,
          reason: change.reason,
          at: attempt.at,
        });
      if (change) this.cache = undefined;
      return change;
    })();
  }

  /**
   * Sets a subscription's state (the owner enabling or disabling it). Enabling clears the run of dead
   * letters, and its waiting deliveries become due again.
   */
  setState(id: string, state: SubscriptionState, reason: string | undefined, now: number): boolean {
    const changed = this.st.setState.run({ id, state, reason: reason ?? null, at: now }).changes > 0;
    this.cache = undefined;
    return changed;
  }

  /** Makes leased deliveries due again at `now` (shutdown: the attempts in flight were abandoned). */
  release(ids: readonly string[], now: number): void {
    if (ids.length > 0) this.st.release.run({ ids: JSON.stringify(ids), now });
  }

  delivery(id: string): DeliveryWithLog | undefined {
    const row = this.st.delivery.get(id) as Row | undefined;
    if (!row) return undefined;
    return { ...toDelivery(row), log: (this.st.attempts.all(id) as Row[]).map(toAttempt) };
  }

  /** The exact bytes sent (and signed) for a delivery. */
  deliveryBody(id: string): string | undefined {
    const row = this.st.deliveryBody.get(id) as Row | undefined;
    return row ? String(row.body) : undefined;
  }

  /** A subscription's deliveries with their attempt logs, newest first. */
  deliveries(
    subscription: string,
    query: PageQuery & { status?: DeliveryStatus | undefined },
  ): Page<DeliveryWithLog> {
    const limit = query.limit ?? 100;
    const rows = this.st.deliveries.all({
      subscription,
      status: query.status ?? null,
      cursor: parseCursor(query.cursor),
      limit: limit + 1,
    }) as Row[];
    return this.page(rows, limit);
  }

  /** Dead deliveries of one API key's subscriptions, or of all; newest first. */
  deadLetters(query: PageQuery & { ownerKey?: string | undefined }): Page<DeliveryWithLog> {
    const limit = query.limit ?? 100;
    const rows = this.st.deadLetters.all({
      owner: query.ownerKey ?? null,
      cursor: parseCursor(query.cursor),
      limit: limit + 1,
    }) as Row[];
    return this.page(rows, limit);
  }

  private page(rows: Row[], limit: number): Page<DeliveryWithLog> {
    const items = rows.slice(0, limit).map((r) => ({
      ...toDelivery(r),
      log: (this.st.attempts.all(String(r.id)) as Row[]).map(toAttempt),
    }));
    const last = rows[limit - 1];
    return rows.length > limit && last ? { items, nextCursor: String(last.seq) } : { items };
  }

  /**
   * A new pending delivery of the same event to the same subscription, due now; the original records
   * it in `replayedBy`. The event id (Webhook-Id) stays the same, so a receiver that already has it can
   * drop it.
   */
  replay(id: string, now: number): DeliveryWithLog | undefined {
    const original = this.st.delivery.get(id) as Row | undefined;
    const sub = original ? this.subscription(String(original.subscription)) : undefined;
    if (!original || !sub) return undefined;
    const replayId = newId('dlv');
    this.db.transaction(() => {
      this.st.insertDelivery.run({
        id: replayId,
        subscription: sub.id,
        event: String(original.event),
        target: targetOf(sub.url),
        next_at: now,
        created_at: now,
        replay_of: id,
      });
      this.st.markReplayed.run({ id, by: replayId });
    })();
    return this.delivery(replayId);
  }

  counts(): { pending: number; dead: number } {
    return {
      pending: Number((this.st.countPending.get() as Row).n),
      dead: Number((this.st.countDead.get() as Row).n),
    };
  }

  /** Forgets delivered deliveries done before `before` and events no delivery refers to. Dead ones stay. */
  prune(before: number): number {
    return this.db.transaction(() => {
      const n = this.st.pruneDelivered.run(before).changes;
      this.st.pruneEvents.run();
      return n;
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
