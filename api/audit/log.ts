import type Database from 'better-sqlite3';
import { openSqlite } from '../../store/sqlite-file.ts';
import { type ChainedFields, type ChainVerdict, GENESIS_HASH, recordHash, verifyChain } from './chain.ts';

/**
 * The audit log (issue 19): one append-only table in `DATA_DIR/audit.sqlite` of every change made
 * through the API to the registry, the compliance data and permits, violation statuses, API keys and
 * webhooks (and the platform's own stops of a webhook subscription): who (key name, key id, role,
 * firm, address), what (action, entity kind and id, digests of the entity before and after), the
 * request id and the time; each record chained to the previous one by its hash (chain.ts).
 *
 * Append-only twice over: the code has no update or delete, and triggers make SQLite refuse both, so
 * only someone who drops the triggers (with write access to the file) can change a record, and the
 * chain shows it. Appends run in an IMMEDIATE transaction, so processes sharing DATA_DIR never fork the
 * chain. Records are kept for good (a few hundred bytes each, one per change).
 */

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  request_id TEXT,
  actor TEXT NOT NULL,
  key_id TEXT NOT NULL,
  role TEXT NOT NULL,
  firm TEXT,
  ip TEXT,
  action TEXT NOT NULL,
  entity_kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  before_digest TEXT,
  after_digest TEXT,
  status INTEGER,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_entity ON audit_log (entity_kind, entity_id, seq);
CREATE INDEX IF NOT EXISTS audit_key ON audit_log (key_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

/** What a caller appends; seq, hashes and (by default) the time are the log's. */
export interface AuditEntry {
  at?: number;
  requestId?: string | undefined;
  /** the key's name, `ADMIN_TOKEN`, or `platform` for the platform's own changes */
  actor: string;
  keyId: string;
  role: string;
  firm?: string | undefined;
  ip?: string | undefined;
  /** `<entity kind>.<verb>`, e.g. vehicle.create, permit.status, key.rotate, webhook.paused */
  action: string;
  entityKind: string;
  entityId: string;
  before: string | null;
  after: string | null;
  /** the HTTP status answered */
  status?: number | undefined;
}

export interface AuditRecord extends ChainedFields {
  hash: string;
}

export interface AuditQuery {
  limit?: number | undefined;
  /** nextCursor of the previous page */
  cursor?: string | undefined;
  keyId?: string | undefined;
  action?: string | undefined;
  entityKind?: string | undefined;
  entityId?: string | undefined;
  /** ISO instants, inclusive */
  from?: string | undefined;
  to?: string | undefined;
}

export class AuditCursorError extends Error {
  override name = 'AuditCursorError';
}

type Row = Record<string, unknown>;

const FILTER = `(@key_id IS NULL OR key_id = @key_id) AND (@action IS NULL OR action = @action)
  AND (@entity_kind IS NULL OR entity_kind = @entity_kind) AND (@entity_id IS NULL OR entity_id = @entity_id)
  AND (@from IS NULL OR at >= @from) AND (@to IS NULL OR at <= @to)`;

function toRecord(r: Row): AuditRecord {
  const opt = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    seq: Number(r.seq),
    at: String(r.at),
    requestId: opt(r.request_id),
    actor: String(r.actor),
    keyId: String(r.key_id),
    role: String(r.role),
    firm: opt(r.firm),
    ip: opt(r.ip),
    action: String(r.action),
    entityKind: String(r.entity_kind),
    entityId: String(r.entity_id),
    before: opt(r.before_digest),
    after: opt(r.after_digest),
    status: r.status === null || r.status === undefined ? null : Number(r.status),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

export class AuditLog {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly st: ReturnType<AuditLog['prepare']>;
  private readonly now: () => number;

  constructor(options: { file: string; now?: () => number }) {
    this.file = options.file;
    this.now = options.now ?? Date.now;
    const { db, value } = openSqlite(this.file, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.exec(SCHEMA);
      return this.prepare(db);
    });
    this.db = db;
    this.st = value;
  }

  private prepare(db: Database.Database) {
    return {
      last: db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare(
        `INSERT INTO audit_log (seq, at, request_id, actor, key_id, role, firm, ip, action, entity_kind, entity_id,
           before_digest, after_digest, status, prev_hash, hash)
         VALUES (@seq, @at, @requestId, @actor, @keyId, @role, @firm, @ip, @action, @entityKind, @entityId,
           @before, @after, @status, @prevHash, @hash)`,
      ),
      page: db.prepare(
        `SELECT * FROM audit_log WHERE seq < @cursor AND ${FILTER} ORDER BY seq DESC LIMIT @limit`,
      ),
      ascending: db.prepare(
        `SELECT * FROM audit_log WHERE seq > @after AND ${FILTER} ORDER BY seq LIMIT @limit`,
      ),
      all: db.prepare('SELECT * FROM audit_log ORDER BY seq'),
    };
  }

  /** Appends one record, chained to the last; returns it. */
  append(entry: AuditEntry): AuditRecord {
    const run = this.db.transaction((): AuditRecord => {
      const last = this.st.last.get() as Row | undefined;
      const fields: ChainedFields = {
        seq: last ? Number(last.seq) + 1 : 1,
        at: new Date(entry.at ?? this.now()).toISOString(),
        requestId: entry.requestId ?? null,
        actor: entry.actor,
        keyId: entry.keyId,
        role: entry.role,
        firm: entry.firm ?? null,
        ip: entry.ip ?? null,
        action: entry.action,
        entityKind: entry.entityKind,
        entityId: entry.entityId,
        before: entry.before,
        after: entry.after,
        status: entry.status ?? null,
        prevHash: last ? String(last.hash) : GENESIS_HASH,
      };
      const record = { ...fields, hash: recordHash(fields) };
      this.st.insert.run(record);
      return record;
    });
    return run.immediate();
  }

  /** Newest first, filtered; `nextCursor` while more follow. */
  page(query: AuditQuery): { items: AuditRecord[]; nextCursor?: string } {
    const limit = query.limit ?? 100;
    let cursor = Number.MAX_SAFE_INTEGER;
    if (query.cursor !== undefined) {
      if (!/^\d{1,15}$/.test(query.cursor))
        throw new AuditCursorError(`invalid cursor ${JSON.stringify(query.cursor.slice(0, 40))}`);
      cursor = Number(query.cursor);
    }
    const rows = this.st.page.all({ ...filterParams(query), cursor, limit: limit + 1 }) as Row[];
    const items = rows.slice(0, limit).map(toRecord);
    const last = items.at(-1);
    return rows.length > limit && last ? { items, nextCursor: String(last.seq) } : { items };
  }

  /** Every matching record, oldest first, read in batches (the CSV export). */
  *each(query: AuditQuery, batch = 1000): Generator<AuditRecord> {
    let after = 0;
    for (;;) {
      const rows = this.st.ascending.all({ ...filterParams(query), after, limit: batch }) as Row[];
      for (const r of rows) yield toRecord(r);
      if (rows.length < batch) return;
      after = Number(rows.at(-1)!.seq);
    }
  }

  /** Recomputes the chain from the first record. */
  verify(): ChainVerdict {
    const rows = this.st.all.iterate() as IterableIterator<Row>;
    return verifyChain(
      (function* () {
        for (const r of rows) yield toRecord(r);
      })(),
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function filterParams(q: AuditQuery) {
  return {
    key_id: q.keyId ?? null,
    action: q.action ?? null,
    entity_kind: q.entityKind ?? null,
    entity_id: q.entityId ?? null,
    from: q.from ?? null,
    to: q.to ?? null,
  };
}
