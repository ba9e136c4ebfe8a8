import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../store/sqlite-file.ts';

/**
 * The idempotency records (`DATA_DIR/idempotency.sqlite`): one row per (API key id, method, path,
 * Idempotency-Key), opened like the other embedded databases (WAL, synchronous=FULL), so a response
 * recorded before a crash is still replayed after the restart. Synchronous (better-sqlite3): `begin` is
 * one IMMEDIATE transaction, so two requests with the same key can never both proceed, in one process or
 * in two sharing the file.
 *
 * A row is `pending` while its first request runs, with a lease (`expires_at`): should the process die
 * mid-request, the key is free again once the lease is over. Then `done` with the sealed response
 * (seal.ts) until `expires_at` (the retention, 24 h by default), after which the key may be used afresh.
 */

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency (
  principal TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  claim TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status INTEGER,
  response BLOB,
  PRIMARY KEY (principal, method, path, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
`;

/** What identifies a request for idempotency: the draft's "same key, same client, same resource". */
export interface IdempotencyScope {
  /** principal.keyId: a key never sees another key's records */
  principal: string;
  method: string;
  /** path and query */
  path: string;
  key: string;
}

export type BeginOutcome =
  /** first use (or the old record expired): go ahead; pass `claim` to complete or abandon */
  | { kind: 'new'; claim: string }
  /** the first request is still running */
  | { kind: 'in-flight' }
  /** the key was used with another request body */
  | { kind: 'mismatch' }
  /** done before: send this again */
  | { kind: 'replay'; status: number; sealed: Buffer };

interface Row {
  fingerprint: string;
  state: 'pending' | 'done';
  expires_at: number;
  status: number | null;
  response: Buffer | null;
}

export class IdempotencyStore {
  private readonly db: Database.Database;
  private readonly statements;
  private lastPurge = 0;

  /** `file`: the SQLite file, or ':memory:' (a test API without DATA_DIR) */
  constructor(options: { file: string }) {
    const { db } = openSqlite(options.file, { schemaVersion: SCHEMA_VERSION }, (db) => db.exec(SCHEMA));
    this.db = db;
    const where = 'principal = @principal AND method = @method AND path = @path AND key = @key';
    this.statements = {
      get: db.prepare(
        `SELECT fingerprint, state, expires_at, status, response FROM idempotency WHERE ${where}`,
      ),
      remove: db.prepare(`DELETE FROM idempotency WHERE ${where}`),
      insert: db.prepare(
        `INSERT INTO idempotency (principal, method, path, key, fingerprint, state, claim, created_at, expires_at)
         VALUES (@principal, @method, @path, @key, @fingerprint, 'pending', @claim, @now, @leaseEnd)`,
      ),
      complete: db.prepare(
        `UPDATE idempotency SET state = 'done', status = @status, response = @response, expires_at = @expiresAt
         WHERE ${where} AND claim = @claim AND state = 'pending'`,
      ),
      abandon: db.prepare(`DELETE FROM idempotency WHERE ${where} AND claim = @claim AND state = 'pending'`),
      purge: db.prepare('DELETE FROM idempotency WHERE expires_at <= ?'),
      count: db.prepare('SELECT count(*) AS n FROM idempotency'),
    };
  }

  /**
   * Looks the key up and, when it is free, claims it (pending until `leaseEnd`), in one transaction.
   * `fingerprint` is the request body's hash: the same key with another body is a mismatch.
   */
  begin(scope: IdempotencyScope, fingerprint: string, now: number, leaseMs: number): BeginOutcome {
    this.purgeNowAndThen(now);
    const run = this.db.transaction((): BeginOutcome => {
      const row = this.statements.get.get(scope) as Row | undefined;
      if (row !== undefined && row.expires_at > now) {
        if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
        if (row.state === 'pending') return { kind: 'in-flight' };
        return { kind: 'replay', status: row.status ?? 200, sealed: row.response ?? Buffer.alloc(0) };
      }
      if (row !== undefined) this.statements.remove.run(scope);
      const claim = randomBytes(12).toString('base64url');
      this.statements.insert.run({ ...scope, fingerprint, claim, now, leaseEnd: now + leaseMs });
      return { kind: 'new', claim };
    });
    return run.immediate();
  }

  /** Records the response of the claimed request; kept until `expiresAt`. false if the claim was lost. */
  complete(
    scope: IdempotencyScope,
    claim: string,
    status: number,
    sealed: Buffer,
    expiresAt: number,
  ): boolean {
    return (
      this.statements.complete.run({ ...scope, claim, status, response: sealed, expiresAt }).changes === 1
    );
  }

  /** Frees the key (the request failed in a way worth retrying: 5xx, or no answer was recorded). */
  abandon(scope: IdempotencyScope, claim: string): void {
    this.statements.abandon.run({ ...scope, claim });
  }

  /** Forgets a record whatever its state (a sealed response the current token cannot open). */
  forget(scope: IdempotencyScope): void {
    this.statements.remove.run(scope);
  }

  /** Deletes every expired record; returns how many. */
  purgeExpired(now: number): number {
    return this.statements.purge.run(now).changes;
  }

  size(): number {
    return (this.statements.count.get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }

  /** Expired rows are deleted at most once a minute, on the way, rather than by a timer. */
  private purgeNowAndThen(now: number): void {
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    this.purgeExpired(now);
  }
}
