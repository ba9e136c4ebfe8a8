import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Fix } from '../core/fix.ts';
import { dutyDaySpan, dutyShiftRow, shiftsStartingOn } from '../geofence/duty-report.ts';
import type { World } from '../geofence/types.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { FixStore } from '../store/port.ts';
import { bearerSecurity } from './auth.ts';
import { nextCursorField, pageQueryFields, paginate } from './paging.ts';
import { listFirm } from './principal.ts';
import { csvStream, type ReportColumn, XLSX_MEDIA_TYPE, xlsxStream } from './report-export.ts';
import { problemResponse } from './schemas.ts';

/**
 * GET /api/v1/reports/duty (issue 15, item 4, the officers' part): per body camera per shift of its duty
 * plan on a date, the time heard, recording and inside the grid (geofence/duty-report.ts), from the
 * stored tracks, as JSON or CSV. A firm key (an enforcement department) gets its own plans' rows.
 * Cameras are those the plan names; a plan naming only officers is reported when it names cameras too.
 */

export interface DutyReportOptions {
  registry: Pick<ComplianceRegistry, 'list'>;
  world: () => World;
  tracks: Pick<FixStore, 'track'>;
}

const QuerySchema = z.strictObject({
  date: z.iso.date().describe('the local (China Standard Time) date whose shifts are reported, YYYY-MM-DD'),
  firm: z.string().min(1).max(256).optional().describe('only this firm’s plans'),
  format: z
    .enum(['json', 'csv', 'xlsx'])
    .default('json')
    .describe(
      'json (default), csv (RFC 4180) or xlsx (Excel): the downloads hold every row, limit and cursor page the JSON',
    ),
  ...pageQueryFields,
});

const RowSchema = z
  .object({
    plan: z.string(),
    planVersion: z.number().int(),
    firm: z.string(),
    camera: z.string(),
    officers: z.array(z.string()).describe('officers the camera’s fixes named in the shift'),
    shiftStart: z.number().int(),
    shiftEnd: z.number().int(),
    fixes: z.number().int(),
    heardMs: z
      .number()
      .int()
      .describe('time heard: each fix holds until the next, at most the OFFLINE allowance'),
    recordingMs: z.number().int(),
    inGridMs: z.number().int().describe('inside the grid or within the GNSS allowance of its edge'),
    recordingShare: z.number().describe('recordingMs / shift length'),
    inGridShare: z.number().describe('inGridMs / shift length'),
  })
  .meta({ id: 'DutyShiftRow' });

const ReportSchema = z
  .object({
    date: z.string(),
    items: z.array(RowSchema),
    count: z.number().int().describe('rows on this page'),
    nextCursor: nextCursorField,
  })
  .meta({ id: 'DutyReport' });

/** The CSV and Excel columns (instants: epoch ms in CSV, China Standard Time dates in Excel). */
export const DUTY_COLUMNS: readonly ReportColumn[] = [
  { key: 'date', kind: 'text', width: 12 },
  { key: 'plan', kind: 'text', width: 14 },
  { key: 'planVersion', kind: 'int' },
  { key: 'firm', kind: 'text', width: 16 },
  { key: 'camera', kind: 'text', width: 14 },
  { key: 'officers', kind: 'text', width: 16 },
  { key: 'shiftStart', kind: 'instant' },
  { key: 'shiftEnd', kind: 'instant' },
  { key: 'fixes', kind: 'int' },
  { key: 'heardMs', kind: 'int' },
  { key: 'recordingMs', kind: 'int' },
  { key: 'inGridMs', kind: 'int' },
  { key: 'recordingShare', kind: 'share' },
  { key: 'inGridShare', kind: 'share' },
];

const MAX_FIXES_PER_CAMERA = 100_000;
const OFFLINE_MIN_MS = 10 * 60_000;

export const dutyReportRoutes: FastifyPluginAsyncZod<DutyReportOptions> = async (
  app,
  { registry, world, tracks },
) => {
  app.get(
    '/reports/duty',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Duty report: per camera per shift, time recorded and in the grid',
        description:
          'For every duty plan (a firm key: its own firm’s), every shift starting on `date` and every camera ' +
          'the plan names: fixes, time heard, time recording and time inside the grid, from the stored track ' +
          '(each fix holds until the next, at most max(3 x the report interval, 10 min)). JSON, or CSV with ' +
          '`format=csv` (instants in epoch ms, shares 0..1), or an Excel workbook with `format=xlsx` (sheet ' +
          'Duty, the CSV’s columns; instants as China Standard Time dates).',
        tags: ['reports'],
        security: bearerSecurity,
        querystring: QuerySchema,
        response: {
          200: {
            description: 'rows by plan, shift, camera',
            content: {
              'application/json': { schema: ReportSchema },
              'text/csv': { schema: z.string().describe('RFC 4180, a header line, CRLF line ends') },
              [XLSX_MEDIA_TYPE]: { schema: z.string().describe('an Excel workbook (binary), sheet Duty') },
            },
          },
          400: problemResponse('invalid query: every field at fault is named'),
          401: problemResponse('missing or invalid bearer token'),
        },
      },
    },
    async (request, reply) => {
      const { date, format } = request.query;
      const firm = listFirm(request.principal, request.query.firm);
      const w = world();
      const plans =
        firm === null ? [] : registry.list('duty_plan').filter((p) => firm === undefined || p.firm === firm);
      // the rows to report, keyed (plan, camera, shift start) without reading a track; a page (JSON with
      // limit or cursor) reads the tracks of its own rows only; CSV exports every row
      const wanted = plans.flatMap((plan) =>
        [...new Set(plan.cameras)].flatMap((camera) =>
          shiftsStartingOn(plan.windows, date).map((shift) => ({ plan, camera, shift })),
        ),
      );
      const keyOf = (r: (typeof wanted)[number]) =>
        `${r.plan.id}\u0000${r.camera}\u0000${String(r.shift.start).padStart(16, '0')}`;
      const page =
        format === 'json'
          ? paginate(wanted, keyOf, { limit: request.query.limit, cursor: request.query.cursor })
          : paginate(wanted, keyOf, {});
      // one camera's track at a time (its rows are consecutive: ordered by plan, camera, shift)
      async function* rows(): AsyncGenerator<z.infer<typeof RowSchema>> {
        let read = '';
        let fixes: Fix[] = [];
        for (const { plan, camera, shift } of page.items) {
          const gapMs = Math.max(3 * (w.vehicle(camera)?.reportIntervalS ?? 15) * 1000, OFFLINE_MIN_MS);
          if (read !== `${plan.id}\u0000${camera}`) {
            read = `${plan.id}\u0000${camera}`;
            const span = dutyDaySpan([plan], date, gapMs);
            fixes = await tracks.track({
              vehicle: camera,
              from: span.start,
              to: span.end,
              limit: MAX_FIXES_PER_CAMERA,
            });
          }
          const row = dutyShiftRow(w, plan, shift, camera, fixes, gapMs);
          const len = shift.end - shift.start;
          yield {
            ...row,
            recordingShare: Math.round((row.recordingMs / len) * 1000) / 1000,
            inGridShare: Math.round((row.inGridMs / len) * 1000) / 1000,
          };
        }
      }
      async function* lines() {
        for await (const r of rows()) yield { ...r, date, officers: r.officers.join(' ') };
      }
      // (a stream is sent as it is; the typed reply only knows the schemas' JSON and string bodies: `as never`)
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="duty-${date}.csv"`)
          .send(csvStream({ name: 'Duty', columns: DUTY_COLUMNS, rows: lines() }) as never);
      }
      if (format === 'xlsx') {
        return reply
          .type(XLSX_MEDIA_TYPE)
          .header('content-disposition', `attachment; filename="duty-${date}.xlsx"`)
          .send(
            xlsxStream([{ name: 'Duty', columns: DUTY_COLUMNS, rows: lines() }], (err) =>
              request.log.error({ err }, 'duty report: the Excel download failed'),
            ) as never,
          );
      }
      const items: z.infer<typeof RowSchema>[] = [];
      for await (const r of rows()) items.push(r);
      const body = { date, items, count: items.length };
      return reply
        .type('application/json')
        .send(page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor });
    },
  );
};
