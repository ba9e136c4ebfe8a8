/** Filters and keyset pagination over (start_ts, id), shared by the violations and trips tables. */
import type Database from 'better-sqlite3';
import { type CursorKey, decodeCursor, encodeCursor, type Page, pageLimit } from '../events-port.ts';

export type Filter = { where: string[]; args: unknown[] };

export function addFilter(f: Filter, column: string, value: string | number | undefined, op = '='): void {
  if (value === undefined) return;
  f.where.push(`${column} ${op} ?`);
  f.args.push(value);
}

/** Keyset pagination over (start_ts, id): `columns` of each row, made an item by `itemOf`. */
export function page<T extends CursorKey, R>(
  db: Database.Database,
  table: 'violations' | 'trips',
  f: Filter,
  query: { from?: number; to?: number; limit?: number; cursor?: string },
  columns: string,
  itemOf: (row: R) => T,
): Page<T> {
  const limit = pageLimit(query.limit);
  addFilter(f, 'start_ts', query.from, '>=');
  addFilter(f, 'start_ts', query.to, '<=');
  if (query.cursor !== undefined) {
    const c = decodeCursor(query.cursor);
    f.where.push('(start_ts > ? OR (start_ts = ? AND id > ?))');
    f.args.push(c.startTs, c.startTs, c.id);
  }
  const where = f.where.length ? ` WHERE ${f.where.join(' AND ')}` : '';
  const rows = db
    .prepare(`SELECT ${columns} FROM ${table}${where} ORDER BY start_ts, id LIMIT ?`)
    .all(...f.args, limit + 1) as R[];
  const items = rows.slice(0, limit).map(itemOf);
  const last = items.at(-1);
  return rows.length > limit && last
    ? { items, nextCursor: encodeCursor({ startTs: last.startTs, id: last.id }) }
    : { items };
}
