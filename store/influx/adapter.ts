/**
 * FixStore on InfluxDB. Writes: line protocol (lineprotocol.ts) through the 1.x `/write` endpoint
 * (V1Writer) or the 2.x `/api/v2/write` endpoint (V2Writer). Reads: InfluxQL over `/query` for both.
 *
 * Retries are not this adapter's job: the spool pump retries with backoff and keeps the data on disk,
 * so every call either succeeds or rejects promptly (timeoutMs), and nothing is buffered between calls.
 *
 * Known limit: a point's series is (kind, firm, vehicle). If a vehicle changes firm or kind, a rewrite
 * of an old (vehicle, ts) under the new tags creates a second point instead of replacing the first.
 */
import type { Fix } from '../../core/fix.ts';
import type { FixStore, LatestFilter, StoredIds, StoreHealth, TrackQuery } from '../port.ts';
import { DEFAULT_MAX_SOCKETS, InfluxConnection, InfluxError, serverErrorText } from './http.ts';
import {
  type QueryTarget,
  quoteIdent,
  quoteString,
  runQuery,
  scalar,
  seriesToFixes,
  stringLiteralProblem,
  timeLiteral,
} from './influxql.ts';
import { fixToLine, quoteStringField, tagValueProblem } from './lineprotocol.ts';
import { MEASUREMENT } from './schema.ts';
import { V1Writer } from './v1-writer.ts';
import { V2Writer } from './v2-writer.ts';

interface CommonOptions {
  /** e.g. http://127.0.0.1:8086 */
  url: string;
  /** per HTTP request, default 10,000 ms */
  timeoutMs?: number;
  /** lines per write request, default 5,000 */
  maxLinesPerRequest?: number;
  /** most sockets open to the server at once (default 16); ignored when `connection` is given */
  maxSockets?: number;
  /**
   * the socket pool to use, shared with other stores of the same server (the platform's fix and event
   * stores share one, so their sum stays under one cap); its creator closes it. Default: a pool of
   * this store's own, closed by close().
   */
  connection?: InfluxConnection;
}

export interface InfluxV1Options extends CommonOptions {
  version: 1;
  database: string;
  /** default: the database's default retention policy */
  retentionPolicy?: string;
  username?: string;
  password?: string;
}

export interface InfluxV2Options extends CommonOptions {
  version: 2;
  token: string;
  org: string;
  /** also the `db` of InfluxQL reads (2.x maps it through its DBRP mapping) */
  bucket: string;
}

export type InfluxOptions = InfluxV1Options | InfluxV2Options;

/** a tag value that points can carry and a query can name: anything else has no points */
const isTagReadable = (value: string): boolean =>
  tagValueProblem(value) === undefined && stringLiteralProblem(value) === undefined;

const DEFAULT_TRACK_LIMIT = 100_000;
/** vehicles per latest() query when filtering by a list of ids */
const VEHICLES_PER_QUERY = 500;

export class InfluxStore implements FixStore {
  readonly name: 'influxdb-v1' | 'influxdb-v2';
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly target: QueryTarget;
  private readonly from: string;
  private readonly writer: V1Writer | V2Writer;
  /** the socket pool (shared or own) */
  readonly connection: InfluxConnection;
  private readonly ownsConnection: boolean;
  private closed = false;

  constructor(private readonly options: InfluxOptions) {
    this.url = options.url.replace(/\/+$/, '');
    if (!URL.canParse(this.url)) throw new InfluxError(`InfluxDB url is not a valid URL: ${options.url}`);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const maxLinesPerRequest = options.maxLinesPerRequest ?? 5_000;
    this.ownsConnection = options.connection === undefined;
    this.connection =
      options.connection ?? new InfluxConnection(this.url, options.maxSockets ?? DEFAULT_MAX_SOCKETS);
    const connection = this.connection;
    if (options.version === 1) {
      this.name = 'influxdb-v1';
      this.headers = {};
      if (options.username !== undefined || options.password !== undefined) {
        const basic = Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64');
        this.headers.authorization = `Basic ${basic}`;
      }
      this.target = {
        url: this.url,
        database: options.database,
        headers: this.headers,
        timeoutMs: this.timeoutMs,
        connection,
      };
      this.from = options.retentionPolicy
        ? `${quoteIdent(options.retentionPolicy)}.${quoteIdent(MEASUREMENT)}`
        : quoteIdent(MEASUREMENT);
      this.writer = new V1Writer({
        url: this.url,
        database: options.database,
        retentionPolicy: options.retentionPolicy,
        headers: this.headers,
        timeoutMs: this.timeoutMs,
        maxLinesPerRequest,
        connection,
      });
    } else {
      this.name = 'influxdb-v2';
      this.headers = { authorization: `Token ${options.token}` };
      this.target = {
        url: this.url,
        database: options.bucket,
        headers: this.headers,
        timeoutMs: this.timeoutMs,
        connection,
      };
      this.from = quoteIdent(MEASUREMENT);
      this.writer = new V2Writer({
        url: this.url,
        token: options.token,
        org: options.org,
        bucket: options.bucket,
        timeoutMs: this.timeoutMs,
        maxLinesPerRequest,
        connection,
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new InfluxError(`${this.name} store is closed`);
  }

  /**
   * 1.x: `CREATE DATABASE` (a no-op when it exists); rejects when the server cannot be reached.
   * 2.x: nothing to do (the bucket and its DBRP mapping are provisioned outside).
   * Also reopens a closed store.
   */
  async open(): Promise<void> {
    this.closed = false;
    if (this.options.version === 1) {
      await runQuery(this.target, `CREATE DATABASE ${quoteIdent(this.options.database)}`, false);
    }
  }

  async writeFixes(fixes: readonly Fix[]): Promise<void> {
    this.assertOpen();
    if (fixes.length === 0) return;
    const lines = fixes.map(fixToLine); // throws LineProtocolError before anything is sent
    await this.writer.write(lines);
  }

  /**
   * Tags (firm, vehicle) must be representable in line protocol and, to be read back, in an InfluxQL
   * literal; string fields (device, officer) in line protocol.
   */
  unstorableIds(ids: StoredIds): string | undefined {
    for (const [what, tag] of [
      ['firm', ids.firm],
      ['vehicle', ids.vehicle],
    ] as const) {
      const problem = tagValueProblem(tag) ?? stringLiteralProblem(tag);
      if (problem !== undefined) return `${what} id ${JSON.stringify(tag)}: ${problem}`;
    }
    for (const [what, field] of [
      ['device', ids.device],
      ['officer', ids.officer],
    ] as const) {
      if (field === undefined) continue;
      try {
        quoteStringField(field);
      } catch (err) {
        return `${what} id ${JSON.stringify(field)}: ${(err as Error).message}`;
      }
    }
    return undefined;
  }

  async latest(filter: LatestFilter = {}): Promise<Fix[]> {
    this.assertOpen();
    // nothing can be stored under a tag value no point can carry (an id from before the grammar): an
    // empty answer, where quoting it would fail the whole request
    if (filter.firm !== undefined && !isTagReadable(filter.firm)) return [];
    const base: string[] = [];
    if (filter.firm !== undefined) base.push(`"firm" = ${quoteString(filter.firm)}`);
    if (filter.kind !== undefined) base.push(`"kind" = ${quoteString(filter.kind)}`);
    const groups: (readonly string[] | undefined)[] = [];
    if (filter.vehicles === undefined) groups.push(undefined);
    else {
      const unique = [...new Set(filter.vehicles)].filter(isTagReadable);
      if (unique.length === 0) return [];
      for (let i = 0; i < unique.length; i += VEHICLES_PER_QUERY)
        groups.push(unique.slice(i, i + VEHICLES_PER_QUERY));
    }
    const out: Fix[] = [];
    for (const group of groups) {
      const conds = [...base];
      if (group) conds.push(`(${group.map((v) => `"vehicle" = ${quoteString(v)}`).join(' OR ')})`);
      const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
      const [series = []] = await runQuery(
        this.target,
        `SELECT * FROM ${this.from}${where} GROUP BY "vehicle" ORDER BY time DESC LIMIT 1`,
      );
      out.push(...seriesToFixes(series));
    }
    return out.sort((a, b) => (a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0));
  }

  async latestOf(vehicle: string): Promise<Fix | undefined> {
    this.assertOpen();
    if (!isTagReadable(vehicle)) return undefined;
    const [series = []] = await runQuery(
      this.target,
      `SELECT * FROM ${this.from} WHERE "vehicle" = ${quoteString(vehicle)} ORDER BY time DESC LIMIT 1`,
    );
    return seriesToFixes(series)[0];
  }

  async track(query: TrackQuery): Promise<Fix[]> {
    this.assertOpen();
    const limit = Math.floor(query.limit ?? DEFAULT_TRACK_LIMIT);
    if (limit <= 0 || query.from > query.to || !isTagReadable(query.vehicle)) return [];
    const [series = []] = await runQuery(
      this.target,
      `SELECT * FROM ${this.from} WHERE "vehicle" = ${quoteString(query.vehicle)} AND ${this.range(
        query.from,
        query.to,
      )} ORDER BY time ASC LIMIT ${limit}`,
    );
    return seriesToFixes(series);
  }

  async count(vehicle: string, from: number, to: number): Promise<number> {
    this.assertOpen();
    if (from > to || !isTagReadable(vehicle)) return 0;
    const [series = []] = await runQuery(
      this.target,
      `SELECT count("lat") FROM ${this.from} WHERE "vehicle" = ${quoteString(vehicle)} AND ${this.range(from, to)}`,
    );
    const n = scalar(series, 'count');
    return typeof n === 'number' ? n : 0;
  }

  private range(from: number, to: number): string {
    return `time >= ${timeLiteral(from, true)} AND time <= ${timeLiteral(to, false)}`;
  }

  /** 1.x: /ping answers 204. 2.x: /health answers 200 (InfluxDB 2.x, VictoriaMetrics), else /ping 204. */
  async health(): Promise<StoreHealth> {
    if (this.closed) return { ok: false, detail: 'store closed' };
    const get = (path: string) =>
      this.connection.request('InfluxDB health check', new URL(`${this.url}${path}`), {
        method: 'GET',
        headers: this.headers,
        timeoutMs: this.timeoutMs,
      });
    try {
      if (this.options.version === 2) {
        const res = await get('/health');
        if (res.status === 200) {
          // InfluxDB 2.x answers {"status":"pass"|"fail",...}; VictoriaMetrics answers "OK".
          const failing = /"status"\s*:\s*"fail"/.test(res.body);
          return failing ? { ok: false, detail: `/health: ${serverErrorText(res.body)}` } : { ok: true };
        }
        if (res.status !== 404)
          return { ok: false, detail: `/health: HTTP ${res.status} ${serverErrorText(res.body)}` };
      }
      const res = await get('/ping');
      if (res.status === 204 || res.status === 200) return { ok: true };
      return { ok: false, detail: `/ping: HTTP ${res.status} ${serverErrorText(res.body)}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  /** Refuses further calls; closes the socket pool when it is this store's own. open() reopens. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsConnection) this.connection.close();
  }
}
