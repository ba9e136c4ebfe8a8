/**
 * What every measurement of the InfluxDB event store (../events.ts) shares: the write endpoint (line
 * protocol with precision=ns through the 1.x `/write` or the 2.x `/api/v2/write` endpoint, plain HTTP, no
 * client-side buffering or retries: the caller retries, every write is idempotent), InfluxQL reads over
 * `/query`, lookups by id and keyset pagination over (startTs, id). The record kinds (violations.ts,
 * trips.ts, evidence.ts) hold only their own points.
 */
import type { CursorKey, Page } from '../../events-port.ts';
import { compareIds, compareKeys, decodeCursor, encodeCursor, pageLimit } from '../../events-port.ts';
import type { InfluxOptions } from '../adapter.ts';
import { type InfluxConnection, InfluxError, serverErrorText } from '../http.ts';
import {
  type QueryTarget,
  quoteIdent,
  quoteString,
  runQuery,
  stringLiteralProblem,
  timeLiteral,
} from '../influxql.ts';
import type { PointField } from '../lineprotocol.ts';

/** ids per InfluxQL lookup */
export const IDS_PER_QUERY = 200;
/** largest write request body (influxd's default max-body-size is 25 MB) */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** the most ns offsets one millisecond holds: seq, status changes and evidence chunks stay below it */
export const MAX_SEQ = 999_999;

export const str = (value: string): PointField => ({ type: 'string', value });
export const int = (value: number): PointField => ({ type: 'integer', value });
export const float = (value: number): PointField => ({ type: 'float', value });
export const bool = (value: boolean): PointField => ({ type: 'boolean', value });

/** Epoch ms (+ ns offset) as an InfluxDB ns timestamp. */
export function ns(ms: number, offsetNs = 0): string {
  if (!Number.isSafeInteger(ms)) throw new InfluxError(`time must be integer epoch ms: ${ms}`);
  return (BigInt(ms) * 1_000_000n + BigInt(offsetNs)).toString();
}

/** `time` within the millisecond `ms` (all points of one violation, trip or package). */
export function withinMs(ms: number): string {
  return `time >= ${ns(ms)} AND time <= ${ns(ms, 999_999)}`;
}

/** `${vehicle}:${code}:${startTs}` (geofence/rules/lifecycle.ts violationId) */
export function parseViolationId(id: string): { vehicle: string; code: string; startTs: number } | undefined {
  const m = /^(.*):([A-Z][A-Z0-9_]*):(-?\d+)$/s.exec(id);
  if (!m) return undefined;
  const startTs = Number(m[3]);
  return Number.isSafeInteger(startTs) ? { vehicle: m[1]!, code: m[2]!, startTs } : undefined;
}

/** `${vehicle}:trip:${startTs}` (geofence/trips.ts) */
export function parseTripId(id: string): { vehicle: string; startTs: number } | undefined {
  const m = /^(.*):trip:(-?\d+)$/s.exec(id);
  if (!m) return undefined;
  const startTs = Number(m[2]);
  return Number.isSafeInteger(startTs) ? { vehicle: m[1]!, startTs } : undefined;
}

export type Row = Record<string, unknown>;

export function rowsOf(series: readonly { columns: string[]; values?: unknown[][] }[]): Row[] {
  const out: Row[] = [];
  for (const s of series) {
    for (const values of s.values ?? []) {
      const row: Row = {};
      s.columns.forEach((c, i) => {
        row[c] = values[i];
      });
      out.push(row);
    }
  }
  return out;
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

export function idsCondition(ids: readonly string[]): string {
  return `(${ids.map((id) => `"id" = ${quoteString(id)}`).join(' OR ')})`;
}

/**
 * A firm or vehicle filter that no InfluxQL literal can hold (an id from before the registry's grammar,
 * with a newline) matches nothing: no point could carry it as a tag. Answer empty instead of failing.
 */
export const idFiltersReadable = (q: { firm?: string; vehicle?: string }): boolean =>
  (q.firm === undefined || stringLiteralProblem(q.firm) === undefined) &&
  (q.vehicle === undefined || stringLiteralProblem(q.vehicle) === undefined);

/** The database (or bucket) the event points live in: writes, reads, lookups by id, pages. */
export class EventPoints {
  readonly target: QueryTarget;
  private readonly writeUrl: URL;
  private readonly writeHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxLinesPerRequest: number;
  private readonly rp: string | undefined;

  constructor(options: InfluxOptions, connection: InfluxConnection) {
    const url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxLinesPerRequest = options.maxLinesPerRequest ?? 5_000;
    let headers: Record<string, string> = {};
    if (options.version === 1) {
      if (options.username !== undefined || options.password !== undefined) {
        const basic = Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64');
        headers = { authorization: `Basic ${basic}` };
      }
      this.rp = options.retentionPolicy || undefined;
      this.writeUrl = new URL(`${url}/write`);
      this.writeUrl.searchParams.set('db', options.database);
      if (this.rp) this.writeUrl.searchParams.set('rp', this.rp);
      this.target = { url, database: options.database, headers, timeoutMs: this.timeoutMs, connection };
    } else {
      headers = { authorization: `Token ${options.token}` };
      this.writeUrl = new URL(`${url}/api/v2/write`);
      this.writeUrl.searchParams.set('org', options.org);
      this.writeUrl.searchParams.set('bucket', options.bucket);
      this.target = { url, database: options.bucket, headers, timeoutMs: this.timeoutMs, connection };
    }
    this.writeUrl.searchParams.set('precision', 'ns');
    this.writeHeaders = { ...headers, 'content-type': 'text/plain; charset=utf-8' };
  }

  from(measurement: string): string {
    return this.rp ? `${quoteIdent(this.rp)}.${quoteIdent(measurement)}` : quoteIdent(measurement);
  }

  async select(sql: string): Promise<Row[]> {
    const [series = []] = await runQuery(this.target, sql);
    return rowsOf(series);
  }

  /** Sends lines in order, in requests of at most maxLinesPerRequest lines and MAX_REQUEST_BYTES. */
  async write(lines: readonly string[]): Promise<void> {
    let batch: string[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const body = batch.join('\n');
      batch = [];
      bytes = 0;
      const res = await this.target.connection.request('InfluxDB write', this.writeUrl, {
        method: 'POST',
        headers: this.writeHeaders,
        body,
        timeoutMs: this.timeoutMs,
      });
      if (res.status < 200 || res.status >= 300) {
        throw new InfluxError(
          `InfluxDB write failed: HTTP ${res.status} ${serverErrorText(res.body)}`,
          res.status,
        );
      }
    };
    for (const line of lines) {
      const size = Buffer.byteLength(line, 'utf8') + 1;
      if (batch.length > 0 && (batch.length >= this.maxLinesPerRequest || bytes + size > MAX_REQUEST_BYTES))
        await flush();
      batch.push(line);
      bytes += size;
    }
    await flush();
  }

  /** Points of one id: by vehicle (+ code) and the startTs millisecond when the id parses, else a scan. */
  byId(
    measurement: string,
    id: string,
    parsed: { vehicle: string; code?: string; startTs: number } | undefined,
    columns: string,
  ): Promise<Row[]> {
    const conds = [`"id" = ${quoteString(id)}`];
    if (parsed) {
      conds.push(`"vehicle" = ${quoteString(parsed.vehicle)}`, withinMs(parsed.startTs));
      if (parsed.code !== undefined) conds.push(`"code" = ${quoteString(parsed.code)}`);
    }
    return this.select(`SELECT ${columns} FROM ${this.from(measurement)} WHERE ${conds.join(' AND ')}`);
  }

  /** Pagination over (startTs, id); the points' time is startTs. */
  async page<T extends CursorKey>(
    measurement: string,
    conds: readonly string[],
    query: { from?: number; to?: number; limit?: number; cursor?: string },
    rankOf: (item: T) => number,
    columns: string,
    itemOf: (row: Row) => T,
  ): Promise<Page<T>> {
    const limit = pageLimit(query.limit);
    const base = [...conds];
    if (query.from !== undefined) base.push(`time >= ${timeLiteral(query.from, true)}`);
    if (query.to !== undefined) base.push(`time <= ${timeLiteral(query.to, false)}`);
    const fetch = async (extra: readonly string[], tail = ''): Promise<T[]> => {
      const where = [...base, ...extra];
      const rows = await this.select(
        `SELECT ${columns} FROM ${this.from(measurement)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time ASC${tail}`,
      );
      return rows.map(itemOf);
    };

    const collected: T[] = [];
    const rest: string[] = [];
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor);
      // the rest of the cursor's millisecond (every item with that startTs, complete), then later ones
      collected.push(...(await fetch([withinMs(c.startTs)])).filter((item) => compareIds(item.id, c.id) > 0));
      rest.push(`time > ${ns(c.startTs, 999_999)}`);
    }
    const n = limit + 1;
    let later = await fetch(rest, ` LIMIT ${n}`);
    const full = later.length >= n;
    if (full) {
      // LIMIT may have cut the group of the last startTs anywhere: fetch that group whole.
      const lastTs = later.at(-1)!.startTs;
      later = [...later.filter((item) => item.startTs !== lastTs), ...(await fetch([withinMs(lastTs)]))];
    }
    collected.push(...later);

    const best = new Map<string, T>();
    for (const item of collected) {
      const prev = best.get(item.id);
      if (!prev || rankOf(item) > rankOf(prev)) best.set(item.id, item);
    }
    const sorted = [...best.values()].sort(compareKeys);
    const items = sorted.slice(0, limit);
    const last = items.at(-1);
    const more = sorted.length > limit || full;
    return more && last
      ? { items, nextCursor: encodeCursor({ startTs: last.startTs, id: last.id }) }
      : { items };
  }
}
