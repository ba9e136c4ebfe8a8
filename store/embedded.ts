import { join } from 'node:path';
import type Database from 'better-sqlite3';
import {
  BOOLEAN_FIELDS,
  FIX_PROPERTIES,
  type Fix,
  type FixValueType,
  NUMERIC_FIELDS,
  STRING_FIELDS,
} from '../core/fix.ts';
import type { FixStore, LatestFilter, StoreHealth, TrackQuery } from './port.ts';
import { openSqlite, sqliteHealth } from './sqlite-file.ts';

export interface EmbeddedStoreOptions {
  /** data directory; the database is `${dir}/fixes.db` (the directory is created if needed) */
  dir: string;
}

type ColumnType = 'TEXT' | 'INTEGER' | 'REAL' | 'BOOL';
interface Column {
  key: keyof Fix;
  type: ColumnType;
  required: boolean;
}

/** SQLite's type for each kind of Fix value (core/fix.ts FIX_PROPERTIES); BOOL is an INTEGER 0/1. */
const COLUMN_TYPE: Readonly<Record<FixValueType, ColumnType>> = {
  integer: 'INTEGER',
  float: 'REAL',
  boolean: 'BOOL',
  string: 'TEXT',
};

const col = (key: keyof Fix): Column => ({
  key,
  type: COLUMN_TYPE[FIX_PROPERTIES[key].type],
  required: FIX_PROPERTIES[key].required,
});

/** Column order = Fix property order of the shared lists; new Fix fields become new nullable columns. */
const COLUMNS: readonly Column[] = [
  col('vehicle'),
  col('ts'),
  col('kind'),
  col('firm'),
  col('received'),
  col('lat'),
  col('lon'),
  ...NUMERIC_FIELDS.map(col),
  ...BOOLEAN_FIELDS.map(col),
  ...STRING_FIELDS.map(col),
];

/** old column → Fix property it holds: `acc` was the accuracy until `acc` came to mean ignition (2026-12) */
const RENAMED_COLUMNS: readonly (readonly [string, keyof Fix])[] = [['acc', 'accuracy']];

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function columnDdl(c: Column): string {
  const type = c.type === 'BOOL' ? 'INTEGER' : c.type;
  return `${q(c.key)} ${type}${c.required ? ' NOT NULL' : ''}`;
}

function tableDdl(name: string, primaryKey: string): string {
  return `CREATE TABLE IF NOT EXISTS ${q(name)} (${COLUMNS.map(columnDdl).join(', ')}, PRIMARY KEY (${primaryKey})) WITHOUT ROWID`;
}

type Row = Record<string, string | number | bigint | null>;

function fixToParams(fix: Fix): Row {
  const record = fix as unknown as Record<string, unknown>;
  const params: Row = {};
  for (const c of COLUMNS) {
    const v = record[c.key];
    if (v === undefined || v === null) params[c.key] = null;
    else if (c.type === 'BOOL') params[c.key] = v ? 1 : 0;
    else params[c.key] = v as string | number;
  }
  return params;
}

function rowToFix(row: Row): Fix {
  const out: Record<string, unknown> = {};
  for (const c of COLUMNS) {
    const v = row[c.key];
    if (v === null || v === undefined) continue;
    if (c.type === 'BOOL') out[c.key] = v === 1 || v === 1n;
    else if (c.type === 'TEXT') out[c.key] = String(v);
    else out[c.key] = Number(v);
  }
  return out as unknown as Fix;
}

const byVehicle = (a: Fix, b: Fix): number => (a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0);

interface Statements {
  insertFix: Database.Statement;
  upsertLatest: Database.Statement;
  latestOf: Database.Statement;
  track: Database.Statement;
  count: Database.Statement;
  writeBatch: (fixes: readonly Fix[]) => void;
}

export class EmbeddedStore implements FixStore {
  readonly name = 'embedded';
  readonly file: string;
  private db: Database.Database | undefined;
  private st: Statements | undefined;

  constructor(readonly options: EmbeddedStoreOptions) {
    this.file = join(options.dir, 'fixes.db');
  }

  /** Opens (creating the directory, database and tables if needed). Safe to call again; reopens after close(). */
  async open(): Promise<void> {
    if (this.db) return;
    const { db, value } = openSqlite(this.file, {}, (db) => {
      db.exec(tableDdl('fixes', '"vehicle", "ts"'));
      db.exec(tableDdl('latest', '"vehicle"'));
      this.migrate(db);
      db.exec('CREATE INDEX IF NOT EXISTS latest_firm ON latest (firm, kind)');
      return this.prepare(db);
    });
    this.st = value;
    this.db = db;
  }

  /**
   * Rename the columns of Fix properties renamed since (the old data reads under the new name), and add
   * columns for Fix properties added since the database was created.
   */
  private migrate(db: Database.Database): void {
    for (const table of ['fixes', 'latest']) {
      const columnsNow = () =>
        new Set(
          (db.prepare(`PRAGMA table_info(${q(table)})`).all() as { name: string }[]).map((r) => r.name),
        );
      for (const [from, to] of RENAMED_COLUMNS) {
        const names = columnsNow();
        if (names.has(from) && !names.has(to))
          db.exec(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(from)} TO ${q(to)}`);
      }
      const existing = columnsNow();
      for (const c of COLUMNS) {
        if (!existing.has(c.key) && !c.required)
          db.exec(`ALTER TABLE ${q(table)} ADD COLUMN ${columnDdl(c)}`);
      }
    }
  }

  private prepare(db: Database.Database): Statements {
    const names = COLUMNS.map((c) => q(c.key)).join(', ');
    const params = COLUMNS.map((c) => `@${c.key}`).join(', ');
    const updates = COLUMNS.filter((c) => c.key !== 'vehicle')
      .map((c) => `${q(c.key)} = excluded.${q(c.key)}`)
      .join(', ');
    const insertFix = db.prepare(`INSERT OR REPLACE INTO fixes (${names}) VALUES (${params})`);
    const upsertLatest = db.prepare(
      `INSERT INTO latest (${names}) VALUES (${params}) ON CONFLICT ("vehicle") DO UPDATE SET ${updates} WHERE excluded."ts" >= latest."ts"`,
    );
    const writeBatch = db.transaction((fixes: readonly Fix[]) => {
      for (const fix of fixes) {
        const p = fixToParams(fix);
        insertFix.run(p);
        upsertLatest.run(p);
      }
    });
    return {
      insertFix,
      upsertLatest,
      latestOf: db.prepare('SELECT * FROM latest WHERE "vehicle" = ?'),
      track: db.prepare(
        'SELECT * FROM fixes WHERE "vehicle" = ? AND "ts" >= ? AND "ts" <= ? ORDER BY "ts" LIMIT ?',
      ),
      count: db.prepare('SELECT count(*) AS n FROM fixes WHERE "vehicle" = ? AND "ts" >= ? AND "ts" <= ?'),
      writeBatch,
    };
  }

  private handles(): { db: Database.Database; st: Statements } {
    if (!this.db || !this.st) throw new Error('EmbeddedStore is not open (call open() first)');
    return { db: this.db, st: this.st };
  }

  /** One transaction per batch: all fixes are written or none. */
  async writeFixes(fixes: readonly Fix[]): Promise<void> {
    const { st } = this.handles();
    if (fixes.length === 0) return;
    st.writeBatch(fixes);
  }

  async latest(filter: LatestFilter = {}): Promise<Fix[]> {
    const { db } = this.handles();
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.firm !== undefined) {
      where.push('"firm" = ?');
      args.push(filter.firm);
    }
    if (filter.kind !== undefined) {
      where.push('"kind" = ?');
      args.push(filter.kind);
    }
    if (filter.vehicles !== undefined) {
      if (filter.vehicles.length === 0) return [];
      where.push('"vehicle" IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(filter.vehicles));
    }
    const sql = `SELECT * FROM latest${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    return (db.prepare(sql).all(...args) as Row[]).map(rowToFix).sort(byVehicle);
  }

  async latestOf(vehicle: string): Promise<Fix | undefined> {
    const row = this.handles().st.latestOf.get(vehicle) as Row | undefined;
    return row ? rowToFix(row) : undefined;
  }

  async track(query: TrackQuery): Promise<Fix[]> {
    const { st } = this.handles();
    const limit = Math.floor(query.limit ?? 100_000);
    if (limit <= 0 || query.from > query.to) return [];
    return (st.track.all(query.vehicle, query.from, query.to, limit) as Row[]).map(rowToFix);
  }

  async count(vehicle: string, from: number, to: number): Promise<number> {
    const { st } = this.handles();
    const row = st.count.get(vehicle, from, to) as { n: number };
    return row.n;
  }

  async health(): Promise<StoreHealth> {
    return sqliteHealth(this.db, 'embedded store is not open');
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.st = undefined;
    db?.close();
  }
}
