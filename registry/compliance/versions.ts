import type Database from 'better-sqlite3';
import type { ComplianceKind, EntityVersion } from './types.ts';

/**
 * The file of the compliance registry (`compliance.db`): one table of immutable version rows (a trigger
 * refuses UPDATE and DELETE), its migration, its statements, and a row as the registry hands it out.
 */

/** 2: the `note` column (why a version was written: a permit's rejection or revocation reason). */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS entity_versions (
  kind       TEXT NOT NULL,
  id         TEXT NOT NULL,
  version    INTEGER NOT NULL,
  deleted    INTEGER NOT NULL,
  body       TEXT,
  created_at INTEGER NOT NULL,
  actor      TEXT,
  note       TEXT,
  PRIMARY KEY (kind, id, version)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS entity_versions_no_update BEFORE UPDATE ON entity_versions
BEGIN SELECT RAISE(ABORT, 'entity versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS entity_versions_no_delete BEFORE DELETE ON entity_versions
BEGIN SELECT RAISE(ABORT, 'entity versions are immutable'); END;
`;

export interface VersionRow {
  kind: string;
  id: string;
  version: number;
  deleted: number;
  body: string | null;
  created_at: number;
  actor: string | null;
  note: string | null;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function fromRow(row: VersionRow): EntityVersion {
  const rec: EntityVersion = {
    kind: row.kind as ComplianceKind,
    id: row.id,
    version: row.version,
    deleted: row.deleted === 1,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.actor !== null) rec.actor = row.actor;
  if (row.note !== null && row.note !== undefined) rec.note = row.note;
  if (row.body !== null) rec.entity = deepFreeze(JSON.parse(row.body));
  return deepFreeze(rec);
}

/** Files of schema version 1 lack the `note` column; it is added in place (old versions get none). */
export function migrate(db: Database.Database): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('entity_versions')").all() as {
    name: string;
  }[];
  if (columns.length > 0 && !columns.some((c) => c.name === 'note')) {
    db.exec('ALTER TABLE entity_versions ADD COLUMN note TEXT');
  }
}

/** The statements of the registry, on a file whose schema is in place. */
export function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO entity_versions (kind, id, version, deleted, body, created_at, actor, note)
         VALUES (@kind, @id, @version, @deleted, @body, @created_at, @actor, @note)`,
    ),
    maxVersion: db.prepare('SELECT MAX(version) AS v FROM entity_versions WHERE kind = ? AND id = ?'),
    one: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? AND version = ?'),
    history: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? ORDER BY version'),
  };
}
export type Statements = ReturnType<typeof prepareStatements>;

/** The row of a version (its entity as JSON; a tombstone has none). */
export function versionRow(rec: Omit<EntityVersion, 'createdAt'>, createdAtMs: number): VersionRow {
  return {
    kind: rec.kind,
    id: rec.id,
    version: rec.version,
    deleted: rec.deleted ? 1 : 0,
    body: rec.entity === undefined ? null : JSON.stringify(rec.entity),
    created_at: createdAtMs,
    actor: rec.actor ?? null,
    note: rec.note ?? null,
  };
}

/** Two versions of one (kind, id, version) say the same; the time of writing may differ. */
export function sameContent(a: EntityVersion, b: EntityVersion): boolean {
  return (
    a.deleted === b.deleted &&
    (a.actor ?? null) === (b.actor ?? null) &&
    (a.note ?? null) === (b.note ?? null) &&
    JSON.stringify(a.entity ?? null) === JSON.stringify(b.entity ?? null)
  );
}
