import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { StoreHealth } from './port.ts';

export interface OpenSqliteOptions {
  /**
   * the code's schema version: a file stamped with a newer one (written by newer code) is refused
   * before anything touches it, and the file is stamped with this one once `init` has run
   */
  schemaVersion?: number;
}

/**
 * Opens a SQLite file the platform keeps durable state in (the registry, API keys, the compliance
 * registry, webhooks, idempotency keys, the engine state, the embedded stores), the same way for all:
 * - the folder is created when missing; `:memory:` opens a private in-memory database (tests);
 * - WAL, so readers (the API, an MQTT edge process reading the registry) do not wait for the writer;
 * - synchronous = FULL: a write that returned survives a power cut, which is what an acknowledgement
 *   (a PUBACK, a 201) promises;
 * - busy_timeout 5 s: another process of the platform may hold the write lock a moment.
 * `init` creates or migrates the tables and prepares statements; if it (or the version check) throws,
 * the file is closed and the error rethrown, so a failed open leaves no handle behind.
 */
export function openSqlite<T>(
  file: string,
  options: OpenSqliteOptions,
  init: (db: Database.Database) => T,
): { db: Database.Database; value: T } {
  const memory = file === ':memory:';
  if (!memory) mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    const { schemaVersion } = options;
    if (schemaVersion !== undefined) {
      const found = db.pragma('user_version', { simple: true }) as number;
      if (found > schemaVersion)
        throw new Error(`${file}: schema version ${found} is newer than this code (${schemaVersion})`);
    }
    const value = init(db);
    if (schemaVersion !== undefined) db.pragma(`user_version = ${schemaVersion}`);
    return { db, value };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The health of a store kept in one SQLite file (the embedded fix and event stores): can the open file
 * answer a query. One function so that both stores answer /healthz alike.
 */
export function sqliteHealth(db: Database.Database | undefined, notOpen: string): StoreHealth {
  if (!db) return { ok: false, detail: notOpen };
  try {
    db.prepare('SELECT 1').get();
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}
