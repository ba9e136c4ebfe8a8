import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type CoverageDayRow,
  coverageDayRow,
  coverageDaySpan,
  coveragePlansOf,
} from '../geofence/coverage-report.ts';
import type { World } from '../geofence/types.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { FixStore } from '../store/port.ts';
import { dailyReportRoute } from './daily-report-route.ts';
import { type ReportColumn, reportColumns } from './report-export.ts';

/**
 * GET /api/v1/reports/coverage (issue 15, item 4, the sanitation part): per vehicle per local day, each
 * sweep plan's shifts (planned length, swept, the unswept stretches) and each collection window (on
 * time, late, missed, pending), from the stored track (geofence/coverage-report.ts: the rules' own
 * judgement replayed). JSON paged like the duty report, CSV and Excel streamed one vehicle at a time.
 * A firm key (a sanitation company) gets its own plans' rows; a vehicle serving two firms' plans is a
 * row per firm, each with that firm's plans only.
 */

export interface CoverageReportOptions {
  registry: Pick<ComplianceRegistry, 'list'>;
  world: () => World;
  tracks: Pick<FixStore, 'track'>;
  /** the judgement clock: windows whose grace has not passed by now are pending */
  now: () => number;
}

const Geometry = z.object({
  type: z.literal('MultiLineString'),
  coordinates: z.array(z.array(z.tuple([z.number(), z.number()]))),
});

const SweepSchema = z.object({
  plan: z.string(),
  planVersion: z.number().int(),
  shiftStart: z.number().int(),
  shiftEnd: z.number().int(),
  ended: z.boolean().describe('false: the shift is still on, the figures are so far'),
  plannedM: z.number(),
  sweptM: z.number(),
  unsweptM: z.number(),
  coverage: z.number().describe('sweptM / plannedM, 0..1'),
  unswept: Geometry.describe('the unswept stretches, WGS-84'),
});

const CollectionSchema = z.object({
  point: z.string(),
  pointVersion: z.number().int(),
  windowStart: z.number().int(),
  windowEnd: z.number().int(),
  status: z
    .enum(['on_time', 'late', 'missed', 'pending'])
    .describe('pending: no visit yet and the late grace has not passed'),
  visitTs: z.number().int().optional(),
  lateByMs: z.number().int().optional(),
});

const RowSchema = z
  .object({
    date: z.string(),
    firm: z.string(),
    vehicle: z.string(),
    fixes: z.number().int().describe('valid fixes read for the day'),
    plannedM: z.number().describe('planned road length of the day’s shifts, m'),
    sweptM: z.number(),
    coverage: z.number().nullable().describe('sweptM / plannedM; null without a shift'),
    onTime: z.number().int(),
    late: z.number().int(),
    missed: z.number().int(),
    pending: z.number().int(),
    sweeps: z.array(SweepSchema),
    collections: z.array(CollectionSchema),
  })
  .meta({ id: 'CoverageDayRow' });

/** the columns naming a row: its date, firm, vehicle */
const DAY_COLUMNS = { date: ['text', 12], firm: ['text', 16], vehicle: ['text', 14] } as const;

/** The detail lines: one per sweep shift and per collection window (CSV, the first Excel sheet). */
export const COVERAGE_DETAIL_COLUMNS: readonly ReportColumn[] = reportColumns({
  ...DAY_COLUMNS,
  kind: 'text',
  plan: ['text', 14],
  version: 'int',
  start: 'instant',
  end: 'instant',
  status: ['text', 12],
  plannedM: 'number',
  sweptM: 'number',
  unsweptM: 'number',
  coverage: 'share',
  visitTs: 'instant',
  lateByMs: 'int',
  unswept: ['text', 40],
});

/** One line per vehicle and day (the second Excel sheet). */
export const COVERAGE_SUMMARY_COLUMNS: readonly ReportColumn[] = reportColumns({
  ...DAY_COLUMNS,
  fixes: 'int',
  plannedM: 'number',
  sweptM: 'number',
  coverage: 'share',
  onTime: 'int',
  late: 'int',
  missed: 'int',
  pending: 'int',
});

function* summaryLine(r: CoverageDayRow): Generator<Record<string, unknown>> {
  const { sweeps: _s, collections: _c, ...summary } = r;
  yield summary;
}

function* detailLines(r: CoverageDayRow): Generator<Record<string, unknown>> {
  const base = { date: r.date, firm: r.firm, vehicle: r.vehicle };
  for (const s of r.sweeps) {
    yield {
      ...base,
      kind: 'sweep',
      plan: s.plan,
      version: s.planVersion,
      start: s.shiftStart,
      end: s.shiftEnd,
      status: s.ended ? 'ended' : 'in_progress',
      plannedM: s.plannedM,
      sweptM: s.sweptM,
      unsweptM: s.unsweptM,
      coverage: s.coverage,
      unswept: JSON.stringify(s.unswept),
    };
  }
  for (const c of r.collections) {
    yield {
      ...base,
      kind: 'collection',
      plan: c.point,
      version: c.pointVersion,
      start: c.windowStart,
      end: c.windowEnd,
      status: c.status,
      visitTs: c.visitTs,
      lateByMs: c.lateByMs,
    };
  }
}

const MAX_FIXES_PER_VEHICLE = 100_000;

interface Unit {
  key: string;
  firm: string;
  vehicle: string;
}

export const coverageReportRoutes: FastifyPluginAsyncZod<CoverageReportOptions> = async (
  app,
  { registry, world, tracks, now },
) => {
  dailyReportRoute(app, {
    path: '/reports/coverage',
    fileName: 'coverage',
    summary: 'Coverage report: per sanitation vehicle per day, swept length and collection windows',
    description:
      'For every sanitation vehicle a sweep plan or collection point names (a firm key: its own firm’s ' +
      'plans), on `date`: each shift of its sweep plans (planned length, swept length, coverage, the ' +
      'unswept stretches as a MultiLineString) and each collection window (on time, late, missed, or ' +
      'pending while the late grace runs), judged as SWEEP_COVERAGE and MISSED/LATE_COLLECTION judge, ' +
      'from the stored track. JSON paged with `limit` and `cursor`; `format=csv` one line per shift or ' +
      'window (instants in epoch ms); `format=xlsx` an Excel workbook: sheet Coverage as the CSV ' +
      '(instants as China Standard Time dates), sheet Vehicles one line per vehicle.',
    answer: 'rows by firm, vehicle',
    workbook: 'an Excel workbook (binary)',
    dateWords: 'the local (China Standard Time) date whose shifts and windows are reported',
    formatWords: 'json (default, paged), csv (RFC 4180) or xlsx (Excel): the downloads hold every row',
    query: { vehicle: z.string().min(1).max(256).optional().describe('only this vehicle') },
    row: RowSchema,
    reportId: 'CoverageReport',
    select({ date, firm, query }) {
      const w = world();
      const th = w.thresholds();
      const asOf = now();
      // the rows to report, (firm, vehicle), without reading a track
      const keys = new Set<string>();
      for (const p of [...registry.list('sweep_plan'), ...registry.list('collection_point')]) {
        if (firm !== undefined && p.firm !== firm) continue;
        for (const v of p.vehicles) {
          if (query.vehicle === undefined || v === query.vehicle) keys.add(`${p.firm}\u0000${v}`);
        }
      }
      const units = [...keys].sort().map((k): Unit => {
        const [f, v] = k.split('\u0000') as [string, string];
        return { key: k, firm: f, vehicle: v };
      });
      return {
        units,
        keyOf: (u: Unit) => u.key,
        async *rows(page: readonly Unit[]) {
          for (const { firm: f, vehicle: v } of page) {
            const span = coverageDaySpan(coveragePlansOf(w, v, f), date, th);
            const fixes = await tracks.track({
              vehicle: v,
              from: span.start,
              to: span.end,
              limit: MAX_FIXES_PER_VEHICLE,
            });
            yield coverageDayRow(w, f, v, date, fixes, asOf, th);
          }
        },
      };
    },
    sheets: [
      { name: 'Coverage', columns: COVERAGE_DETAIL_COLUMNS, lines: detailLines },
      { name: 'Vehicles', columns: COVERAGE_SUMMARY_COLUMNS, lines: summaryLine },
    ],
  });
};
