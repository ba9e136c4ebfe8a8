import { pipeline, Readable } from 'node:stream';
import { stringify as csvStream, type Options } from 'csv-stringify';
import { stringify } from 'csv-stringify/sync';

/**
 * CSV (RFC 4180) as every export of the API writes it, by csv-stringify: a header line, CRLF line
 * ends (section 2, rule 1), and a field quoted when it holds a comma, a quote (doubled inside), CR or
 * LF (rule 6). csv-stringify quotes on its record delimiter only, so a lone CR or LF is matched here
 * too. `null` and `undefined` are empty fields; booleans are written `true` and `false` (the library's
 * default writes `1` and an empty field, which reads as a missing value).
 */

/** Cells a spreadsheet would run as a formula (`= + - @`, tab or CR first; OWASP "CSV injection") get a leading apostrophe. */
export interface CsvOptions {
  defuseFormulas?: boolean;
}

function options(columns: readonly string[], opts: CsvOptions): Options {
  return {
    header: true,
    columns: [...columns],
    record_delimiter: '\r\n',
    quoted_match: /[\r\n]/,
    cast: { boolean: (value) => String(value) },
    ...(opts.defuseFormulas ? { escape_formulas: true } : {}),
  };
}

/** The whole text: the header line, then one line per row (each row's cells looked up by column). */
export function csvText(
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
  opts: CsvOptions = {},
): string {
  return stringify(rows as Record<string, unknown>[], options(columns, opts));
}

/**
 * The same as a stream, read as it is sent: an export of any length is never held in memory. The
 * rows are pulled with back-pressure, and when the answer is cut off (the client went away) the
 * pipeline ends the rows' iterator too (a database cursor behind it is closed).
 */
export function csvTextStream(
  columns: readonly string[],
  rows: Iterable<Record<string, unknown>> | AsyncIterable<Record<string, unknown>>,
  opts: CsvOptions = {},
): Readable {
  return pipeline(Readable.from(rows), csvStream(options(columns, opts)), () => {});
}

/** One field, for a caller that writes its own lines (prefer csvText). */
export function csvField(value: unknown): string {
  const { header: _h, columns: _c, ...field } = options([], {});
  return stringify([[value]], { ...field, record_delimiter: '\n' }).slice(0, -1);
}
