import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { ApiKeyResolver, Principal, Role } from '../api/principal.ts';
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
 */

export const KEY_PREFIX = 'cwk_';
const SECRET_BYTES = 32;
/** How often, at most, a key's lastUsedAt is written (every request would turn reads into writes). */
const LAST_USED_RESOLUTION_MS = 60_000;

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
}

export interface NewApiKey {
  name: string;
  role: Role;
  firm?: string;
  scopes?: string[];
  createdBy: string;
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
  last_used_at  TEXT
) STRICT;
`;
const SCHEMA_VERSION = 1;
const COLUMNS =
  'id, name, role, firm, scopes, hint, created_at, created_by, enabled, revoked_at, last_used_at';

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
  return key;
}

export interface ApiKeyStoreOptions {
  /** directory of `api-keys.db` (created when missing) */
  dir: string;
  now?: () => number;
}

export class SqliteApiKeys implements ApiKeyResolver {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly stmt: Record<
    'insert' | 'byHash' | 'byId' | 'all' | 'enable' | 'revoke' | 'used',
    Database.Statement
  >;

  constructor(opts: ApiKeyStoreOptions) {
    this.path = join(opts.dir, 'api-keys.db');
    this.now = opts.now ?? Date.now;
    const { db, value } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.exec(SCHEMA);
      return {
        insert: db.prepare(
          `INSERT INTO api_keys (id, name, role, firm, scopes, secret_sha256, hint, created_at, created_by, enabled)
         VALUES (@id, @name, @role, @firm, @scopes, @secret_sha256, @hint, @created_at, @created_by, 1)`,
        ),
        byHash: db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE secret_sha256 = ?`),
        byId: db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`),
        all: db.prepare(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`),
        enable: db.prepare('UPDATE api_keys SET enabled = ? WHERE id = ? AND revoked_at IS NULL'),
        revoke: db.prepare(
          'UPDATE api_keys SET enabled = 0, revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        ),
        used: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
      };
    });
    this.db = db;
    this.stmt = value;
  }

  /** Creates a key; the secret is in the result and nowhere else, ever. */
  create(input: NewApiKey): { key: ApiKey; secret: string } {
    if (input.role === 'firm' && !input.firm) throw new Error('a firm key needs its firm');
    if (input.role !== 'firm' && input.firm !== undefined) throw new Error('only a firm key names a firm');
    const secret = KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
    const id = `key_${randomBytes(8).toString('hex')}`;
    this.stmt.insert.run({
      id,
      name: input.name,
      role: input.role,
      firm: input.firm ?? null,
      scopes: JSON.stringify(input.scopes ?? []),
      secret_sha256: secretDigest(secret),
      hint: secret.slice(0, KEY_PREFIX.length + 4),
      created_at: new Date(this.now()).toISOString(),
      created_by: input.createdBy,
    });
    return { key: this.get(id)!, secret };
  }

  get(id: string): ApiKey | undefined {
    const row = this.stmt.byId.get(id) as Row | undefined;
    return row === undefined ? undefined : toKey(row);
  }

  list(): ApiKey[] {
    return (this.stmt.all.all() as Row[]).map(toKey);
  }

  /** Disables (reversibly) or enables a key; a revoked key stays revoked (ApiKeyStateError). */
  setEnabled(id: string, enabled: boolean): ApiKey | undefined {
    const key = this.get(id);
    if (key === undefined) return undefined;
    if (key.revokedAt !== undefined) throw new ApiKeyStateError(`key ${id} is revoked`);
    this.stmt.enable.run(enabled ? 1 : 0, id);
    return this.get(id);
  }

  /** Revokes a key for good; revoking again changes nothing. */
  revoke(id: string): ApiKey | undefined {
    this.stmt.revoke.run(new Date(this.now()).toISOString(), id);
    return this.get(id);
  }

  resolve(secret: string): Principal | undefined {
    // Anything without the prefix was never issued here: answer without touching the database.
    if (!secret.startsWith(KEY_PREFIX)) return undefined;
    const row = this.stmt.byHash.get(secretDigest(secret)) as Row | undefined;
    if (row === undefined || row.enabled !== 1 || row.revoked_at !== null) return undefined;
    const now = this.now();
    if (now - (this.lastUsedWritten.get(row.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      this.lastUsedWritten.set(row.id, now);
      this.stmt.used.run(new Date(now).toISOString(), row.id);
    }
    const key = toKey(row);
    const principal: Principal = { keyId: key.id, role: key.role, scopes: Object.freeze([...key.scopes]) };
    if (key.firm !== undefined) principal.firm = key.firm;
    return Object.freeze(principal);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
