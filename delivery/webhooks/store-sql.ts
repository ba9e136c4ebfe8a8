import type Database from 'better-sqlite3';
import type { WebhookEventType } from './events.ts';
import {
  type Attempt,
  type Delivery,
  type DeliveryStatus,
  type SubscriptionState,
  type SubscriptionWithSecret,
  WebhookCursorError,
} from './records.ts';

/**
 * The webhook store's SQLite side (delivery/webhooks/store.ts): the tables, the migration of older files,
 * the prepared statements and how a row reads as a record.
 */

/** 2: subscriptions got state, state_reason, state_changed_at and consecutive_dead (issue 19). */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
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

export function migrate(db: Database.Database): void {
  const have = new Set(
    (db.pragma('table_info(subscriptions)') as Array<{ name: string }>).map((c) => c.name),
  );
  for (const [name, type] of SUBSCRIPTION_COLUMNS_V2)
    if (!have.has(name)) db.exec(`ALTER TABLE subscriptions ADD COLUMN ${name} ${type}`);
}

const DELIVERY_COLUMNS = `d.seq, d.id, d.subscription, d.event, d.status, d.attempts, d.next_at, d.created_at,
  d.done_at, d.last_status, d.last_error, d.replay_of, d.replayed_by, e.type AS event_type, e.occurred_at`;

export function prepareStatements(db: Database.Database) {
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

export type Statements = ReturnType<typeof prepareStatements>;

export type Row = Record<string, unknown>;

export const json = (v: readonly string[] | undefined): string | null =>
  v === undefined ? null : JSON.stringify(v);
const list = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? (JSON.parse(v) as string[]) : undefined;

export function toSubscription(row: Row): SubscriptionWithSecret {
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

export function toDelivery(row: Row): Delivery {
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

export function toAttempt(row: Row): Attempt {
  const a: Attempt = { n: Number(row.n), at: Number(row.at), durationMs: Number(row.duration_ms) };
  if (row.status_code !== null) a.statusCode = Number(row.status_code);
  if (row.error !== null) a.error = String(row.error);
  return a;
}

export function parseCursor(cursor: string | undefined): number {
  if (cursor === undefined) return Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,15}$/.test(cursor)) throw new WebhookCursorError(cursor);
  return Number(cursor);
}
