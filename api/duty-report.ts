import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Fix } from '../core/fix.ts';
import { dutyDaySpan, dutyShiftRow, shiftsStartingOn } from '../geofence/duty-report.ts';
import type { Occurrence } from '../geofence/plan-windows.ts';
import type { DutyPlan } from '../geofence/plans.ts';
import type { World } from '../geofence/types.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { FixStore } from '../store/port.ts';
import { dailyReportRoute } from './daily-report-route.ts';
import { type ReportColumn, reportColumns } from './report-export.ts';

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

/** The CSV and Excel columns (instants: epoch ms in CSV, China Standard Time dates in Excel). */
export const DUTY_COLUMNS: readonly ReportColumn[] = reportColumns({
  date: ['text', 12],
  plan: ['text', 14],
  planVersion: 'int',
  firm: ['text', 16],
  camera: ['text', 14],
  officers: ['text', 16],
  shiftStart: 'instant',
  shiftEnd: 'instant',
  fixes: 'int',
  heardMs: 'int',
  recordingMs: 'int',
  inGridMs: 'int',
  recordingShare: 'share',
  inGridShare: 'share',
});

const MAX_FIXES_PER_CAMERA = 100_000;
const OFFLINE_MIN_MS = 10 * 60_000;

type Row = z.infer<typeof RowSchema>;

/** one camera's shift of one plan */
interface Unit {
  plan: DutyPlan;
  camera: string;
  shift: Occurrence;
}

export const dutyReportRoutes: FastifyPluginAsyncZod<DutyReportOptions> = async (
  app,
  { registry, world, tracks },
) => {
  dailyReportRoute(app, {
    path: '/reports/duty',
    fileName: 'duty',
    summary: 'Duty report: per camera per shift, time recorded and in the grid',
    description:
      'For every duty plan (a firm key: its own firm’s), every shift starting on `date` and every camera ' +
      'the plan names: fixes, time heard, time recording and time inside the grid, from the stored track ' +
      '(each fix holds until the next, at most max(3 x the report interval, 10 min)). JSON, or CSV with ' +
      '`format=csv` (instants in epoch ms, shares 0..1), or an Excel workbook with `format=xlsx` (sheet ' +
      'Duty, the CSV’s columns; instants as China Standard Time dates).',
    answer: 'rows by plan, shift, camera',
    workbook: 'an Excel workbook (binary), sheet Duty',
    dateWords: 'the local (China Standard Time) date whose shifts are reported, YYYY-MM-DD',
    formatWords:
      'json (default), csv (RFC 4180) or xlsx (Excel): the downloads hold every row, limit and cursor page the JSON',
    query: {},
    row: RowSchema,
    reportId: 'DutyReport',
    select({ date, firm }) {
      const w = world();
      const plans = registry.list('duty_plan').filter((p) => firm === undefined || p.firm === firm);
      // the rows to report, keyed (plan, camera, shift start) without reading a track
      const units = plans.flatMap((plan) =>
        [...new Set(plan.cameras)].flatMap((camera) =>
          shiftsStartingOn(plan.windows, date).map((shift) => ({ plan, camera, shift })),
        ),
      );
      return {
        units,
        keyOf: (r: Unit) => `${r.plan.id}\u0000${r.camera}\u0000${String(r.shift.start).padStart(16, '0')}`,
        // one camera's track at a time (its rows are consecutive: ordered by plan, camera, shift)
        async *rows(page: readonly Unit[]): AsyncGenerator<Row> {
          let read = '';
          let fixes: Fix[] = [];
          for (const { plan, camera, shift } of page) {
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
        },
      };
    },
    sheets: [
      {
        name: 'Duty',
        columns: DUTY_COLUMNS,
        lines: (r: Row, date) => [{ ...r, date, officers: r.officers.join(' ') }],
      },
    ],
  });
};
