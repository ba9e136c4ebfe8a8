import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../store/sqlite-file.ts';
import { eventBody, type WebhookEvent, type WebhookEventType } from './events.ts';
import type { SubscriptionFilter } from './match.ts';
import { generateSecret } from './signature.ts';

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

/** 2: subscriptions got state, state_reason, state_changed_at and consecutive_dead (issue 19). */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS subscriptions (
  id TEXT PRIMARY KEY,
  owner_key TEXT NOT NULL,
  owner_firm TEXT,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  events TEXT NOT NULL,
  firms TEXT,
  vehicles TEXT,
  codes TEXT,
  description TEXT,
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'paused')),
  state_reason TEXT,
  state_changed_at INTEGER,
  consecutive_dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS subscriptions_owner ON subscriptions (owner_key);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  subscription TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  event TEXT NOT NULL REFERENCES events (id),
  target TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER,
  created_at INTEGER NOT NULL,
  done_at INTEGER,
  last_status INTEGER,
  last_error TEXT,
  replay_of TEXT,
  replayed_by TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_subscription ON deliveries (subscription, seq);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (seq) WHERE status = 'dead';
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries (done_at) WHERE status = 'delivered';
CREATE TABLE IF NOT EXISTS attempts (
  delivery TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  n INTEGER NOT NULL,
  at INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  status_code INTEGER,
  error TEXT,
  PRIMARY KEY (delivery, n)
) WITHOUT ROWID;
`;

/** Columns added to subscriptions since version 1, for files written by older code. */
const SUBSCRIPTION_COLUMNS_V2: ReadonlyArray<[string, string]> = [
  ['state', "TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'paused'))"],
  ['state_reason', 'TEXT'],
  ['state_changed_at', 'INTEGER'],
  ['consecutive_dead', 'INTEGER NOT NULL DEFAULT 0'],
];

function migrate(db: Database.Database): void {
  const have = new Set(
    (db.pragma('table_info(subscriptions)') as Array<{ name: string }>).map((c) => c.name),
  );
  for (const [name, type] of SUBSCRIPTION_COLUMNS_V2)
    if (!have.has(name)) db.exec(`ALTER TABLE subscriptions ADD COLUMN ${name} ${type}`);
}

/**
 * Whether a subscription gets deliveries: `active`; `disabled` by its owner or because the receiver
 * answered 410 Gone; `paused` after too many deliveries in a row were dead-lettered. Neither of the
 * last two gets new deliveries, and their pending ones wait until the owner enables it again.
 */
export type SubscriptionState = 'active' | 'disabled' | 'paused';

export interface NewSubscription {
  url: string;
  events: readonly WebhookEventType[];
  firms?: readonly string[] | undefined;
  vehicles?: readonly string[] | undefined;
  codes?: readonly string[] | undefined;
  description?: string | undefined;
  /** principal.keyId of the creator */
  ownerKey: string;
  /** visibleFirm(principal) of the creator: set for firm keys */
  ownerFirm?: string | undefined;
}

export interface Subscription extends SubscriptionFilter {
  id: string;
  url: string;
  description?: string | undefined;
  ownerKey: string;
  createdAt: number;
  state: SubscriptionState;
  /** why it is disabled or paused */
  stateReason?: string | undefined;
  stateChangedAt?: number | undefined;
  /** dead-lettered deliveries since the last delivered one */
  consecutiveDead: number;
}

/** With the signing secret: only the store, the dispatcher and the creation reply see it. */
export interface SubscriptionWithSecret extends Subscription {
  secret: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface Attempt {
  n: number;
  at: number;
  durationMs: number;
  statusCode?: number;
  error?: string;
}

export interface Delivery {
  id: string;
  subscription: string;
  event: { id: string; type: WebhookEventType; occurredAt: number };
  status: DeliveryStatus;
  attempts: number;
  /** pending: earliest next attempt */
  nextAt?: number;
  createdAt: number;
  /** delivered or dead: when */
  doneAt?: number;
  lastStatusCode?: number;
  lastError?: string;
  replayOf?: string;
  replayedBy?: string;
}

export interface DeliveryWithLog extends Delivery {
  log: Attempt[];
}

/** What the dispatcher needs to make one attempt. */
export interface DueDelivery {
  id: string;
  subscription: string;
  target: string;
  url: string;
  secret: string;
  eventId: string;
  body: string;
  attempts: number;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageQuery {
  limit?: number | undefined;
  /** nextCursor of the previous page */
  cursor?: string | undefined;
}

export class WebhookCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid cursor ${JSON.stringify(cursor.slice(0, 40))}`);
    this.name = 'WebhookCursorError';
  }
}

type Row = Record<string, unknown>;

const json = (v: readonly string[] | undefined): string | null =>
  v === undefined ? null : JSON.stringify(v);
const list = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? (JSON.parse(v) as string[]) : undefined;
const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

/** The origin deliveries are throttled by: one slow host cannot take the slots of another. */
export function targetOf(url: string): string {
  return new URL(url).origin;
}

function toSubscription(row: Row): SubscriptionWithSecret {
  return {
    id: String(row.id),
    url: String(row.url),
    secret: String(row.secret),
    events: JSON.parse(String(row.events)) as WebhookEventType[],
    firms: list(row.firms),
    vehicles: list(row.vehicles),
    codes: list(row.codes),
    description: row.description === null ? undefined : String(row.description),
    ownerKey: String(row.owner_key),
    ownerFirm: row.owner_firm === null ? undefined : String(row.owner_firm),
    createdAt: Number(row.created_at),
    state: String(row.state) as SubscriptionState,
    stateReason: row.state_reason === null ? undefined : String(row.state_reason),
    stateChangedAt: row.state_changed_at === null ? undefined : Number(row.state_changed_at),
    consecutiveDead: Number(row.consecutive_dead),
  };
}

function toDelivery(row: Row): Delivery {
  const d: Delivery = {
    id: String(row.id),
    subscription: String(row.subscription),
    event: {
      id: String(row.event),
      type: String(row.event_type) as WebhookEventType,
      occurredAt: Number(row.occurred_at),
    },
    status: String(row.status) as DeliveryStatus,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
  };
  if (d.status === 'pending' && row.next_at !== null) d.nextAt = Number(row.next_at);
  if (row.done_at !== null) d.doneAt = Number(row.done_at);
  if (row.last_status !== null) d.lastStatusCode = Number(row.last_status);
  if (row.last_error !== null) d.lastError = String(row.last_error);
  if (row.replay_of !== null) d.replayOf = String(row.replay_of);
  if (row.replayed_by !== null) d.replayedBy = String(row.replayed_by);
  return d;
}

function toAttempt(row: Row): Attempt {
  const a: Attempt = { n: Number(row.n), at: Number(row.at), durationMs: Number(row.duration_ms) };
  if (row.status_code !== null) a.statusCode = Number(row.status_code);
  if (row.error !== null) a.error = String(row.error);
  return a;
}

function describeAttempt(a: Attempt): string {
  return a.statusCode !== undefined ? `HTTP ${a.statusCode}` : (a.error ?? 'no answer');
}

function parseCursor(cursor: string | undefined): number {
  if (cursor === undefined) return Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,15}$/.test(cursor)) throw new WebhookCursorError(cursor);
  return Number(cursor);
}

const DELIVERY_COLUMNS = `d.seq, d.id, d.subscription, d.event, d.status, d.attempts, d.next_at, d.created_at,
  d.done_at, d.last_status, d.last_error, d.replay_of, d.replayed_by, e.type AS event_type, e.occurred_at`;

export interface AttemptOutcome {
  status: DeliveryStatus;
  /** pending: when to try again */
  nextAt?: number;
  /** the receiver answered 410 Gone: the subscription is disabled with this reason */
  disableReason?: string;
  /** pause the subscription once this many deliveries in a row are dead (0 or unset: never) */
  pauseAfterDead?: number;
}

/** A subscription's state changed as the result of an attempt. */
export interface StateChange {
  subscription: string;
  state: SubscriptionState;
  reason: string;
}

export class WebhookStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly st: ReturnType<WebhookStore['prepare']>;
  /** every subscription, for matching each event without a query; refreshed on every change */
  private cache: SubscriptionWithSecret[] | undefined;

  constructor(options: { file: string }) {
    this.file = options.file;
    const { db, value } = openSqlite(this.file, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      migrate(db);
      return this.prepare(db);
    });
    this.db = db;
    this.st = value;
  }

  private prepare(db: Database.Database) {
    return {
      insertSubscription: db.prepare(
        `INSERT INTO subscriptions (id, owner_key, owner_firm, url, secret, events, firms, vehicles, codes,
           description, created_at)
         VALUES (@id, @owner_key, @owner_firm, @url, @secret, @events, @firms, @vehicles, @codes, @description,
           @created_at)`,
      ),
      subscription: db.prepare('SELECT * FROM subscriptions WHERE id = ?'),
      subscriptions: db.prepare(
        'SELECT * FROM subscriptions WHERE (@owner IS NULL OR owner_key = @owner) ORDER BY created_at, id',
      ),
      deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE id = ?'),
      insertEvent: db.prepare(
        'INSERT OR IGNORE INTO events (id, type, occurred_at, body) VALUES (@id, @type, @occurred_at, @body)',
      ),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (id, subscription, event, target, status, attempts, next_at, created_at, replay_of)
         VALUES (@id, @subscription, @event, @target, 'pending', 0, @next_at, @created_at, @replay_of)`,
      ),
      due: db.prepare(
        `SELECT d.id, d.subscription, d.target, d.attempts, s.url, s.secret, e.id AS event_id, e.body
         FROM deliveries d JOIN subscriptions s ON s.id = d.subscription JOIN events e ON e.id = d.event
         WHERE d.status = 'pending' AND d.next_at <= @now AND s.state = 'active'
           AND d.target NOT IN (SELECT value FROM json_each(@exclude))
         ORDER BY d.next_at, d.seq LIMIT @limit`,
      ),
      nextDue: db.prepare(
        `SELECT min(d.next_at) AS at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription
         WHERE d.status = 'pending' AND s.state = 'active'
           AND d.target NOT IN (SELECT value FROM json_each(@exclude))`,
      ),
      lease: db.prepare("UPDATE deliveries SET next_at = @until WHERE id = @id AND status = 'pending'"),
      insertAttempt: db.prepare(
        `INSERT INTO attempts (delivery, n, at, duration_ms, status_code, error)
         VALUES (@delivery, @n, @at, @duration_ms, @status_code, @error)`,
      ),
      finishAttempt: db.prepare(
        `UPDATE deliveries SET attempts = @n, status = @status, next_at = @next_at, done_at = @done_at,
           last_status = @status_code, last_error = @error
         WHERE id = @id`,
      ),
      delivery: db.prepare(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event WHERE d.id = ?`,
      ),
      deliveryBody: db.prepare(
        'SELECT e.body FROM deliveries d JOIN events e ON e.id = d.event WHERE d.id = ?',
      ),
      deliveries: db.prepare(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event
         WHERE d.subscription = @subscription AND d.seq < @cursor AND (@status IS NULL OR d.status = @status)
         ORDER BY d.seq DESC LIMIT @limit`,
      ),
      deadLetters: db.prepare(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event
           JOIN subscriptions s ON s.id = d.subscription
         WHERE d.status = 'dead' AND d.seq < @cursor AND (@owner IS NULL OR s.owner_key = @owner)
         ORDER BY d.seq DESC LIMIT @limit`,
      ),
      attempts: db.prepare('SELECT * FROM attempts WHERE delivery = ? ORDER BY n'),
      deliverySubscription: db.prepare('SELECT subscription FROM deliveries WHERE id = ?'),
      resetDead: db.prepare('UPDATE subscriptions SET consecutive_dead = 0 WHERE id = ?'),
      countDeadInRow: db.prepare(
        'UPDATE subscriptions SET consecutive_dead = consecutive_dead + 1 WHERE id = ? RETURNING consecutive_dead, state',
      ),
      setState: db.prepare(
        `UPDATE subscriptions SET state = @state, state_reason = @reason, state_changed_at = @at,
           consecutive_dead = CASE WHEN @state = 'active' THEN 0 ELSE consecutive_dead END
         WHERE id = @id`,
      ),
      markReplayed: db.prepare('UPDATE deliveries SET replayed_by = @by WHERE id = @id'),
      release: db.prepare(
        "UPDATE deliveries SET next_at = @now WHERE id IN (SELECT value FROM json_each(@ids)) AND status = 'pending'",
      ),
      // Two counts over the partial indexes: delivered rows, the bulk of the table, are never scanned.
      countPending: db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'"),
      countDead: db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'dead'"),
      pruneDelivered: db.prepare("DELETE FROM deliveries WHERE status = 'delivered' AND done_at < ?"),
      pruneEvents: db.prepare(
        'DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = events.id)',
      ),
    };
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
