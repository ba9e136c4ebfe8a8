import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { ApiKeyResolver, KeyAuthentication, Principal, Role } from '../core/principal.ts';
import { openSqlite } from '../store/sqlite-file.ts';

/**
 * API keys on SQLite, one file `${dir}/api-keys.db` beside the registry.
 *
 * A key's secret is `cwk_` + 32 random bytes (256 bits) in base64url. The prefix lets secret scanners
 * recognise a leaked key. Only SHA-256 of the secret is stored: unlike a device password, the secret is
 * generated here with 256 bits of entropy, so no dictionary or brute force can find a preimage of its
 * hash, and a slow KDF (scrypt, ~40 ms) would buy nothing but a cost on every API request. A fast hash
 * also lets a request find its key by an indexed lookup of the hash instead of trying every key.
 *
 * Every resolve reads the database (one indexed row, microseconds) rather than a cache, so a key revoked
 * or disabled through one API process stops working at once in every process sharing DATA_DIR.
 *
 * Lifetimes (issue 19): a key may carry an expiry (`expiresAt`), after which it is refused with a
 * reason the API names (401, "expired at ..."). A rotation gives the key a new secret and keeps the
 * previous one working for an overlap window (`previousValidUntil`), so a client can switch without
 * downtime; the key keeps its id, role, scopes, webhooks and audit history. Only the current and the
 * previous secrets' hashes are kept: a second rotation ends the first one's old secret at once.
 *
 * Last use is kept in memory and written every LAST_USED_FLUSH_MS in one transaction (and on close): a
 * request never waits for a disk write to record it.
 */

export const KEY_PREFIX = 'cwk_';
const SECRET_BYTES = 32;
/** How often the last-use times noted in memory are written (every request would turn reads into writes). */
const LAST_USED_FLUSH_MS = 60_000;

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  /** the firm of a firm key */
  firm?: string;
  /** explicit scopes; empty = the role's defaults */
  scopes: string[];
  /** the first characters of the secret, to tell keys apart (never enough to use it) */
  hint: string;
  createdAt: string;
  /** keyId of the principal that created it */
  createdBy: string;
  /** false while disabled (reversible) or once revoked */
  enabled: boolean;
  /** set once revoked (final) */
  revokedAt?: string;
  lastUsedAt?: string;
  /** refused from this instant on (401 naming it) */
  expiresAt?: string;
  /** when the current secret was issued by a rotation */
  rotatedAt?: string;
  /** the secret before the last rotation works until then */
  previousValidUntil?: string;
}

export interface NewApiKey {
  name: string;
  role: Role;
  firm?: string;
  scopes?: string[];
  createdBy: string;
  /** ISO instant after which the key is refused */
  expiresAt?: string;
}

export class ApiKeyStateError extends Error {
  override name = 'ApiKeyStateError';
}

interface Row {
  id: string;
  name: string;
  role: string;
  firm: string | null;
  scopes: string;
  hint: string;
  created_at: string;
  created_by: string;
  enabled: number;
  revoked_at: string | null;
  last_used_at: string | null;
  expires_at: string | null;
  rotated_at: string | null;
  prev_valid_until: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys (
  id            TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL,
  firm          TEXT,
  scopes        TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  hint          TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  enabled       INTEGER NOT NULL,
  revoked_at    TEXT,
  last_used_at  TEXT,
  expires_at    TEXT,
  rotated_at    TEXT,
  prev_secret_sha256 TEXT,
  prev_valid_until   TEXT
) STRICT;
`;
/** 2: expires_at, rotated_at, prev_secret_sha256 and prev_valid_until (issue 19). */
const SCHEMA_VERSION = 2;
const COLUMNS_V2: ReadonlyArray<[string, string]> = [
  ['expires_at', 'TEXT'],
  ['rotated_at', 'TEXT'],
  ['prev_secret_sha256', 'TEXT'],
  ['prev_valid_until', 'TEXT'],
];
const COLUMNS =
  'id, name, role, firm, scopes, hint, created_at, created_by, enabled, revoked_at, last_used_at, expires_at, rotated_at, prev_valid_until';

export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function toKey(row: Row): ApiKey {
  const key: ApiKey = {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    scopes: JSON.parse(row.scopes) as string[],
    hint: row.hint,
    createdAt: row.created_at,
    createdBy: row.created_by,
    enabled: row.enabled === 1 && row.revoked_at === null,
  };
  if (row.firm !== null) key.firm = row.firm;
  if (row.revoked_at !== null) key.revokedAt = row.revoked_at;
  if (row.last_used_at !== null) key.lastUsedAt = row.last_used_at;
  if (row.expires_at !== null) key.expiresAt = row.expires_at;
  if (row.rotated_at !== null) key.rotatedAt = row.rotated_at;
  if (row.prev_valid_until !== null) key.previousValidUntil = row.prev_valid_until;
  return key;
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface ApiKeyStoreOptions {
  /** directory of `api-keys.db` (created when missing) */
  dir: string;
  now?: () => number;
  /** how often noted last-use times are written (default 60 s) */
  lastUsedFlushMs?: number;
}

export class SqliteApiKeys implements ApiKeyResolver {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  /** last uses noted since the last flush, by key id (epoch ms) */
  private readonly lastUsed = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly stmt: Record<
    | 'insert'
    | 'byHash'
    | 'byPreviousHash'
    | 'byId'
    | 'all'
    | 'enable'
    | 'revoke'
    | 'used'
    | 'rotate'
    | 'expiry',
    Database.Statement
  >;

  constructor(opts: ApiKeyStoreOptions) {
    this.path = join(opts.dir, 'api-keys.db');
    this.now = opts.now ?? Date.now;
    const { db, value } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.exec(SCHEMA);
      const have = new Set((db.pragma('table_info(api_keys)') as Array<{ name: string }>).map((c) => c.name));
      for (const [name, type] of COLUMNS_V2)
        if (!have.has(name)) db.exec(`ALTER TABLE api_keys ADD COLUMN ${name} ${type}`);
      db.exec(
        'CREATE UNIQUE INDEX IF NOT EXISTS api_keys_prev ON api_keys (prev_secret_sha256) WHERE prev_secret_sha256 IS NOT NULL',
      );
      return {
        insert: db.prepare(
          `INSERT INTO api_keys (id, name, role, firm, scopes, secret_sha256, hint, created_at, created_by, enabled,
           expires_at)
         VALUES (@id, @name, @role, @firm, @scopes, @secret_sha256, @hint, @created_at, @created_by, 1, @expires_at)`,
        ),
        byHash: db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE secret_sha256 = ?`),
        byPreviousHash: db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE prev_secret_sha256 = ?`),
        byId: db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`),
        all: db.prepare(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`),
        enable: db.prepare('UPDATE api_keys SET enabled = ? WHERE id = ? AND revoked_at IS NULL'),
        revoke: db.prepare(
          'UPDATE api_keys SET enabled = 0, revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        ),
        // never moves a last use backwards (another process may have written a later one)
        used: db.prepare(
          'UPDATE api_keys SET last_used_at = @at WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)',
        ),
        rotate: db.prepare(
          `UPDATE api_keys SET prev_secret_sha256 = CASE WHEN @prev_valid_until IS NULL THEN NULL ELSE secret_sha256 END,
             prev_valid_until = @prev_valid_until, secret_sha256 = @secret_sha256, hint = @hint, rotated_at = @at,
             expires_at = CASE WHEN @set_expiry THEN @expires_at ELSE expires_at END
           WHERE id = @id AND revoked_at IS NULL`,
        ),
        expiry: db.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ? AND revoked_at IS NULL'),
      };
    });
    this.db = db;
    this.stmt = value;
    this.flushTimer = setInterval(() => this.flushLastUsed(), opts.lastUsedFlushMs ?? LAST_USED_FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Creates a key; the secret is in the result and nowhere else, ever. */
  create(input: NewApiKey): { key: ApiKey; secret: string } {
    if (input.role === 'firm' && !input.firm) throw new Error('a firm key needs its firm');
    if (input.role !== 'firm' && input.firm !== undefined) throw new Error('only a firm key names a firm');
    const secret = newSecret();
    const id = `key_${randomBytes(8).toString('hex')}`;
    this.stmt.insert.run({
      id,
      name: input.name,
      role: input.role,
      firm: input.firm ?? null,
      scopes: JSON.stringify(input.scopes ?? []),
      secret_sha256: secretDigest(secret),
      hint: hintOf(secret),
      created_at: iso(this.now()),
      created_by: input.createdBy,
      expires_at: input.expiresAt ?? null,
    });
    return { key: this.get(id)!, secret };
  }

  /** The key, with its last use as noted in memory when that is newer than the stored one. */
  get(id: string): ApiKey | undefined {
    const row = this.stmt.byId.get(id) as Row | undefined;
    return row === undefined ? undefined : this.withLastUse(toKey(row));
  }

  list(): ApiKey[] {
    return (this.stmt.all.all() as Row[]).map((r) => this.withLastUse(toKey(r)));
  }

  private withLastUse(key: ApiKey): ApiKey {
    const noted = this.lastUsed.get(key.id);
    if (noted !== undefined && (key.lastUsedAt === undefined || iso(noted) > key.lastUsedAt))
      key.lastUsedAt = iso(noted);
    return key;
  }

  /** Disables (reversibly) or enables a key; a revoked key stays revoked (ApiKeyStateError). */
  setEnabled(id: string, enabled: boolean): ApiKey | undefined {
    const key = this.get(id);
    if (key === undefined) return undefined;
    if (key.revokedAt !== undefined) throw new ApiKeyStateError(`key ${id} is revoked`);
    this.stmt.enable.run(enabled ? 1 : 0, id);
    return this.get(id);
  }

  /** Sets (an ISO instant) or clears (null) a key's expiry; a revoked key stays revoked. */
  setExpiry(id: string, expiresAt: string | null): ApiKey | undefined {
    const key = this.get(id);
    if (key === undefined) return undefined;
    if (key.revokedAt !== undefined) throw new ApiKeyStateError(`key ${id} is revoked`);
    this.stmt.expiry.run(expiresAt, id);
    return this.get(id);
  }

  /**
   * A new secret for the key. The current one keeps working for `overlapMs` (0: it stops now); the one
   * before it, if still in its window, stops now. `expiresAt` (null clears it) replaces the expiry when
   * given. Undefined for an unknown key; ApiKeyStateError for a revoked one.
   */
  rotate(
    id: string,
    options: { overlapMs: number; expiresAt?: string | null },
  ): { key: ApiKey; secret: string } | undefined {
    const key = this.get(id);
    if (key === undefined) return undefined;
    if (key.revokedAt !== undefined) throw new ApiKeyStateError(`key ${id} is revoked`);
    const now = this.now();
    const secret = newSecret();
    this.stmt.rotate.run({
      id,
      secret_sha256: secretDigest(secret),
      hint: hintOf(secret),
      at: iso(now),
      prev_valid_until: options.overlapMs > 0 ? iso(now + options.overlapMs) : null,
      set_expiry: options.expiresAt === undefined ? 0 : 1,
      expires_at: options.expiresAt ?? null,
    });
    return { key: this.get(id)!, secret };
  }

  /** Revokes a key for good; revoking again changes nothing. */
  revoke(id: string): ApiKey | undefined {
    this.stmt.revoke.run(iso(this.now()), id);
    return this.get(id);
  }

  resolve(secret: string): Principal | undefined {
    const result = this.authenticate(secret);
    return result.ok ? result.principal : undefined;
  }

  /**
   * The principal of a presented secret, or why it is refused when that can be told without helping a
   * guesser (the secret matched a key, which then is expired, or was rotated out): a disabled or revoked
   * key is just unknown, as is a secret that matches nothing.
   */
  authenticate(secret: string): KeyAuthentication {
    // Anything without the prefix was never issued here: answer without touching the database.
    if (!secret.startsWith(KEY_PREFIX)) return { ok: false };
    const digest = secretDigest(secret);
    const now = this.now();
    let row = this.stmt.byHash.get(digest) as Row | undefined;
    let previous = false;
    if (row === undefined) {
      row = this.stmt.byPreviousHash.get(digest) as Row | undefined;
      previous = row !== undefined;
    }
    if (row === undefined || row.enabled !== 1 || row.revoked_at !== null) return { ok: false };
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now)
      return { ok: false, refusal: { reason: 'expired', keyId: row.id, at: row.expires_at } };
    if (previous && (row.prev_valid_until === null || Date.parse(row.prev_valid_until) <= now))
      return {
        ok: false,
        refusal: { reason: 'rotated', keyId: row.id, at: row.prev_valid_until ?? row.rotated_at ?? '' },
      };
    this.lastUsed.set(row.id, now);
    const key = toKey(row);
    const principal: Principal = { keyId: key.id, role: key.role, scopes: Object.freeze([...key.scopes]) };
    if (key.firm !== undefined) principal.firm = key.firm;
    Object.freeze(principal);
    return previous && row.prev_valid_until !== null
      ? { ok: true, principal, previousValidUntil: row.prev_valid_until }
      : { ok: true, principal };
  }

  /** Writes the last uses noted since the previous flush, in one transaction. */
  flushLastUsed(): void {
    if (this.lastUsed.size === 0 || !this.db.open) return;
    const noted = [...this.lastUsed];
    this.lastUsed.clear();
    this.db.transaction(() => {
      for (const [id, at] of noted) this.stmt.used.run({ id, at: iso(at) });
    })();
  }

  close(): void {
    clearInterval(this.flushTimer);
    if (!this.db.open) return;
    this.flushLastUsed();
    this.db.close();
  }
}

function newSecret(): string {
  return KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

function hintOf(secret: string): string {
  return secret.slice(0, KEY_PREFIX.length + 4);
}
