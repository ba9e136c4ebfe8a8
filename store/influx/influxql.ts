/**
 * InfluxQL reads through `/query`, which InfluxDB 1.x, 2.x (v1-compatible endpoint, db = bucket) and 3.x
 * all serve. Quoting follows the InfluxQL spec (https://docs.influxdata.com/influxdb/v1/query_language/spec/):
 *   identifiers      double-quoted, `"` and `\` escaped with a backslash
 *   string literals  single-quoted, `'` and `\` escaped with a backslash
 * so no id can end a literal early (no injection). Not representable in a literal (influxd 1.6.7 answers
 * "error parsing query"): a newline, a carriage return, U+0000; nor a lone UTF-16 surrogate (the query
 * travels as UTF-8). test/store/escaping.test.ts proves every other string finds its tag again.
 */
import type { Fix } from '../../core/fix.ts';
import { type HttpResult, type InfluxConnection, InfluxError, serverErrorText } from './http.ts';
import { LONE_SURROGATE } from './lineprotocol.ts';
import {
  chunkedCause,
  firstStatementError,
  NOT_EXECUTED,
  type QueryResponse,
  type Series,
  statementLabel,
} from './query-answer.ts';
import { rowToFix } from './schema.ts';

export function quoteIdent(name: string): string {
  return `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const UNQUOTABLE = /[\n\r\u0000]/;

/** Why `s` cannot be an InfluxQL string literal (undefined: it can). */
export function stringLiteralProblem(s: string): string | undefined {
  if (UNQUOTABLE.test(s))
    return `InfluxQL string literal cannot contain a newline, carriage return or NUL: ${JSON.stringify(s)}`;
  if (LONE_SURROGATE.test(s))
    return `InfluxQL string literal cannot hold a lone UTF-16 surrogate: ${JSON.stringify(s)}`;
  return undefined;
}

export function quoteString(s: string): string {
  const problem = stringLiteralProblem(s);
  if (problem !== undefined) throw new InfluxError(problem);
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

// InfluxDB's representable time range, in ns (models.MinNanoTime / MaxNanoTime).
const MIN_NS = -9223372036854775806n;
const MAX_NS = 9223372036854775806n;

/** Epoch-ms bound as an InfluxQL ns integer literal; `lower` rounds up, otherwise down (inclusive bounds on integer ms). */
export function timeLiteral(ms: number, lower: boolean): string {
  if (Number.isNaN(ms)) throw new InfluxError('time bound is NaN');
  if (ms === Number.POSITIVE_INFINITY) return MAX_NS.toString();
  if (ms === Number.NEGATIVE_INFINITY) return MIN_NS.toString();
  let ns = BigInt(lower ? Math.ceil(ms) : Math.floor(ms)) * 1_000_000n;
  if (ns < MIN_NS) ns = MIN_NS;
  if (ns > MAX_NS) ns = MAX_NS;
  return ns.toString();
}

export interface QueryTarget {
  /** base URL without trailing slash */
  url: string;
  database: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** the socket pool of the server */
  connection: InfluxConnection;
}

async function post(
  target: QueryTarget,
  q: string,
  database: boolean,
  chunked: boolean,
): Promise<HttpResult> {
  const url = new URL(`${target.url}/query`);
  if (database) url.searchParams.set('db', target.database);
  url.searchParams.set('epoch', 'ms');
  if (chunked) url.searchParams.set('chunked', 'true');
  return target.connection.request('InfluxDB query', url, {
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ q }).toString(),
    timeoutMs: target.timeoutMs,
  });
}

/**
 * Run statements (POST, form-encoded, epoch=ms) and return the series of each statement. Several
 * statements go as one query joined by "; "; given as a list, the error of a failing one names it by
 * number and text.
 */
export async function runQuery(
  target: QueryTarget,
  q: string | readonly string[],
  database = true,
): Promise<Series[][]> {
  const statements = typeof q === 'string' ? undefined : q;
  const text = typeof q === 'string' ? q : q.join('; ');
  const res = await post(target, text, database, false);
  if (res.status < 200 || res.status >= 300) {
    throw new InfluxError(
      `InfluxDB query failed: HTTP ${res.status} ${serverErrorText(res.body)}`,
      res.status,
    );
  }
  let parsed: QueryResponse;
  try {
    parsed = JSON.parse(res.body) as QueryResponse;
  } catch {
    throw new InfluxError(`InfluxDB query failed: answer is not JSON: ${res.body.slice(0, 200)}`, res.status);
  }
  if (parsed.error) throw new InfluxError(`InfluxDB query failed: ${parsed.error}`, res.status);
  const results = parsed.results ?? [];
  const failed = firstStatementError(results);
  if (failed === undefined) return results.map((r) => r.series ?? []);
  let cause = failed;
  const several = failed.error === NOT_EXECUTED || results.length > 1;
  if (failed.error === NOT_EXECUTED) {
    // influxd put "not executed" over the real error (query-answer.ts): ask once more, chunked, for it
    try {
      const again = await post(target, text, database, true);
      cause = chunkedCause(again.body) ?? {
        statementId: failed.statementId,
        error: `${NOT_EXECUTED} (InfluxDB gave no reason, not even in a chunked answer)`,
      };
    } catch (err) {
      cause = {
        ...failed,
        error: `${NOT_EXECUTED} (asking again for the reason failed: ${(err as Error).message})`,
      };
    }
  }
  throw new InfluxError(
    `InfluxDB query failed: ${cause.error}${statementLabel(cause.statementId, statements, several)}`,
    res.status,
  );
}

/** All rows of all series as fixes (series tags merged in). */
export function seriesToFixes(series: readonly Series[]): Fix[] {
  const out: Fix[] = [];
  for (const s of series) {
    for (const row of s.values ?? []) out.push(rowToFix(s.columns, row, s.tags));
  }
  return out;
}

/** First column value of the first row (e.g. count), undefined when there is none. */
export function scalar(series: readonly Series[], column: string): unknown {
  const s = series[0];
  if (!s) return undefined;
  const i = s.columns.indexOf(column);
  return i < 0 ? undefined : s.values?.[0]?.[i];
}
