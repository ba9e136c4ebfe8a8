/**
 * What an InfluxDB 1.x `/query` answer says, and which statement of a multi-statement query failed.
 *
 * influxd runs the statements in order and stops at the first that fails. It then sends "not executed"
 * for the statements left, but under the failing statement's own statement_id (query/executor.go:
 * `for ; i < len(query.Statements)-1; i++` starts at the failed i; the same in 1.8 and in 2.x's v1
 * endpoint). A non-chunked answer merges the results by statement_id and lets a later error replace an
 * earlier one (services/httpd/handler.go, `if r.Err != nil { resp.Results[l-1] = r }`), so the real error
 * is lost unless the failing statement is the last. influxd 1.6.7, two statements, no such database:
 *   non-chunked  {"results":[{"statement_id":0,"error":"not executed"}]}
 *   chunked      {"results":[{"statement_id":0,"error":"database not found: nope"}]}
 *                {"results":[{"statement_id":0,"error":"not executed"}]}
 * A chunked answer (`chunked=true`, one JSON object per line) writes each result as it comes, so the real
 * error is in it: runQuery asks that way once, only after a "not executed".
 */

export interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}
export interface StatementResult {
  statement_id?: number;
  series?: Series[];
  error?: string;
}
export interface QueryResponse {
  results?: StatementResult[];
  error?: string;
}

/** the error influxd puts where the real one of a multi-statement query was */
export const NOT_EXECUTED = 'not executed';

export interface StatementError {
  /** statement_id of the failing statement (0-based); undefined when the answer gave none */
  statementId: number | undefined;
  error: string;
}

/** The first failed statement of an answer, undefined when all succeeded. */
export function firstStatementError(results: readonly StatementResult[]): StatementError | undefined {
  const failed = results.find((r) => r.error);
  return failed?.error === undefined ? undefined : { statementId: failed.statement_id, error: failed.error };
}

/** The first error of a chunked answer (one JSON object a line) other than "not executed". */
export function chunkedCause(body: string): StatementError | undefined {
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    let chunk: QueryResponse;
    try {
      chunk = JSON.parse(line) as QueryResponse;
    } catch {
      continue;
    }
    if (chunk.error) return { statementId: undefined, error: chunk.error };
    const cause = (chunk.results ?? []).find((r) => r.error && r.error !== NOT_EXECUTED);
    if (cause?.error) return { statementId: cause.statement_id, error: cause.error };
  }
  return undefined;
}

const EXCERPT_CHARS = 80;

/**
 * Which statement failed, for the error message: " (statement 2 of 20: SELECT ...)" when the statements
 * are known, " (statement 2)" when only the answer says there were several, "" for a lone statement.
 */
export function statementLabel(
  statementId: number | undefined,
  statements: readonly string[] | undefined,
  several: boolean,
): string {
  if (statementId === undefined || statementId < 0) return '';
  if (statements === undefined) return several || statementId > 0 ? ` (statement ${statementId + 1})` : '';
  if (statements.length < 2) return '';
  const text = (statements[statementId] ?? '').replace(/\s+/g, ' ').trim();
  const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}...` : text;
  return ` (statement ${statementId + 1} of ${statements.length}${excerpt ? `: ${excerpt}` : ''})`;
}
