import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerSecurity } from './auth.ts';
import { nextCursorField, pageQueryFields, paginate } from './paging.ts';
import { listFirm } from './principal.ts';
import { csvStream, type ReportColumn, XLSX_MEDIA_TYPE, xlsxStream } from './report-export.ts';
import { problemResponse } from './schemas.ts';

/**
 * The route shape every daily report shares (GET /reports/duty, GET /reports/coverage; issue 15 item 4):
 * a local `date`, an optional `firm` (a firm key reads its own firm's rows only), `format` json (paged
 * with `limit` and `cursor`), csv or xlsx (the downloads hold every row, streamed one unit at a time).
 * The rows to report are chosen first without reading a track, keyed and paged; only the page's rows
 * are then read. A report supplies its words, its row schema, how it chooses and reads its rows, and
 * the lines of its sheets.
 */

/** One sheet of the download: its columns and the lines one row gives. */
export interface DailyReportSheet<R> {
  name: string;
  columns: readonly ReportColumn[];
  /** `date`: the report's date */
  lines(row: R, date: string): Iterable<Record<string, unknown>>;
}

/** What a report reads for one request. */
export interface DailyReportSelection<U, R> {
  /** the units to report (a vehicle, a camera's shift...), chosen without reading a track */
  units: readonly U[];
  /** the paging key of a unit; the units are reported in the order of their keys */
  keyOf(unit: U): string;
  /** reads the rows of the given units, in their order */
  rows(units: readonly U[]): AsyncIterable<R>;
}

export interface DailyReport<U, R, Q extends z.ZodRawShape> {
  /** the path below /api/v1, e.g. /reports/duty */
  path: string;
  /** the download's file name before the date, e.g. duty */
  fileName: string;
  summary: string;
  description: string;
  /** the 200 answer's description */
  answer: string;
  /** the xlsx content's description */
  workbook: string;
  /** the description of `date` and of `format` */
  dateWords: string;
  formatWords: string;
  /** more query fields of this report, after `firm` */
  query: Q;
  /** the JSON answer's row and report names in the document */
  row: z.ZodType;
  reportId: string;
  /**
   * The report for one request. `firm`: the firm whose rows a firm key or `?firm=` asks for, undefined
   * for every firm (never called when the key may see no firm).
   */
  select(request: {
    date: string;
    firm: string | undefined;
    query: z.infer<z.ZodObject<Q>>;
  }): DailyReportSelection<U, R>;
  /**
   * The sheets: CSV writes the first; Excel streams the first and writes the others after it from the
   * lines kept while streaming (keep them small: one line per unit).
   */
  sheets: readonly [DailyReportSheet<R>, ...DailyReportSheet<R>[]];
}

/** the query fields every report has */
interface DailyReportQuery {
  date: string;
  firm?: string | undefined;
  format: 'json' | 'csv' | 'xlsx';
  limit?: number | undefined;
  cursor?: string | undefined;
}

type App = Parameters<FastifyPluginAsyncZod>[0];

/** Registers the GET route of one daily report. Register inside the scope guarded by `bearerAuth`. */
export function dailyReportRoute<U, R, Q extends z.ZodRawShape>(
  app: App,
  report: DailyReport<U, R, Q>,
): void {
  const querystring = z.strictObject({
    date: z.iso.date().describe(report.dateWords),
    firm: z.string().min(1).max(256).optional().describe('only this firm’s plans'),
    ...report.query,
    format: z.enum(['json', 'csv', 'xlsx']).default('json').describe(report.formatWords),
    ...pageQueryFields,
  });
  const ReportSchema = z
    .object({
      date: z.string(),
      items: z.array(report.row),
      count: z.number().int().describe('rows on this page'),
      nextCursor: nextCursorField,
    })
    .meta({ id: report.reportId });
  const [first, ...more] = report.sheets;
  app.get(
    report.path,
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: report.summary,
        description: report.description,
        tags: ['reports'],
        security: bearerSecurity,
        querystring,
        response: {
          200: {
            description: report.answer,
            content: {
              'application/json': { schema: ReportSchema },
              'text/csv': { schema: z.string().describe('RFC 4180, a header line, CRLF line ends') },
              [XLSX_MEDIA_TYPE]: { schema: z.string().describe(report.workbook) },
            },
          },
          400: problemResponse('invalid query: every field at fault is named'),
          401: problemResponse('missing or invalid bearer token'),
        },
      },
    },
    async (request, reply) => {
      const query = request.query as DailyReportQuery;
      const { date, format } = query;
      const firm = listFirm(request.principal, query.firm);
      const selection: DailyReportSelection<U, R> =
        firm === null
          ? { units: [], keyOf: () => '', rows: async function* () {} }
          : report.select({ date, firm, query: request.query as z.infer<z.ZodObject<Q>> });
      // a page (JSON with limit or cursor) reads its own units only; the downloads every unit
      const page = paginate(
        selection.units,
        selection.keyOf,
        format === 'json' ? { limit: query.limit, cursor: query.cursor } : {},
      );
      const rows = () => selection.rows(page.items);
      if (format === 'json') {
        const items: R[] = [];
        for await (const r of rows()) items.push(r);
        const body = { date, items, count: items.length };
        return reply
          .type('application/json')
          .send(page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor });
      }
      // (a stream is sent as it is; the typed reply only knows the schemas' JSON and string bodies: `as never`)
      const attachment = (ext: string) => `attachment; filename="${report.fileName}-${date}.${ext}"`;
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', attachment('csv'))
          .send(
            csvStream({
              name: first.name,
              columns: first.columns,
              rows: linesOf(rows(), first, date),
            }) as never,
          );
      }
      return reply
        .type(XLSX_MEDIA_TYPE)
        .header('content-disposition', attachment('xlsx'))
        .send(
          xlsxStream(workbook(rows(), date, first, more), excelFailed(request.log, report.fileName)) as never,
        );
    },
  );
}

async function* linesOf<R>(rows: AsyncIterable<R>, sheet: DailyReportSheet<R>, date: string) {
  for await (const r of rows) yield* sheet.lines(r, date);
}

/**
 * Excel: the first sheet streamed; the others' lines kept while it streams (one small line per unit)
 * and written after it.
 */
function workbook<R>(
  rows: AsyncIterable<R>,
  date: string,
  first: DailyReportSheet<R>,
  more: readonly DailyReportSheet<R>[],
) {
  const kept = more.map(() => [] as Record<string, unknown>[]);
  async function* firstKeepingMore() {
    for await (const r of rows) {
      more.forEach((sheet, i) => {
        kept[i]?.push(...sheet.lines(r, date));
      });
      yield* first.lines(r, date);
    }
  }
  async function* keptLines(i: number) {
    yield* kept[i] ?? [];
  }
  return [
    { name: first.name, columns: first.columns, rows: firstKeepingMore() },
    ...more.map((sheet, i) => ({ name: sheet.name, columns: sheet.columns, rows: keptLines(i) })),
  ];
}

const excelFailed = (log: FastifyBaseLogger, name: string) => (err: unknown) =>
  log.error({ err }, `${name} report: the Excel download failed`);
