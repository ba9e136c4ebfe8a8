import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type CoverageDayRow, coverageDayRow, coverageDaySpan } from '../geofence/coverage-report.ts';
import { type DutyShiftRow, dutyDaySpan, dutyShiftRow, shiftsStartingOn } from '../geofence/duty-report.ts';
import { CST_OFFSET_MS } from '../geofence/geo/windows.ts';
import { VIOLATION_CODES } from '../geofence/model.ts';
import type { World } from '../geofence/types.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { Registry } from '../registry/types.ts';
import {
  type EventStore,
  MAX_PAGE_LIMIT,
  type Page,
  type TripRecord,
  type ViolationRecord,
} from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { bearerSecurity } from './auth.ts';
import { TimeZoneSchema } from './instants.ts';
import { canSee, visibleFirm } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { problemResponse } from './schemas.ts';
import { computeScorecards, type FirmScorecard } from './scorecard/compute.ts';
import { chooseScorecardFormat, scorecardsCsv } from './scorecard/csv.ts';
import { type MonthRange, monthOf, monthRange } from './scorecard/month.ts';
import {
  type EnforcementSection,
  enforcementSection,
  type SanitationSection,
  sanitationSection,
} from './scorecard/plan-figures.ts';

/**
 * The monthly firm scorecards (月度考核): GET /scorecards?month=YYYY-MM and /scorecards/{firm}?month=, as
 * JSON or CSV. The figures and the ranking are api/scorecard/compute.ts; this module reads the month's
 * trips and violations from the event store and decides what is scored:
 *  - firms: those owning a registered muck truck, plus any firm with a trip or a counted violation;
 *  - violations: all but those of units registered as sanitation vehicles or body cameras (the 考核 is
 *    about construction-waste haulage); those go to the sections for sanitation teams and enforcement
 *    squads (issue 15: api/scorecard/plan-figures.ts), with the month's coverage, collection, recording
 *    and in-grid figures computed day by day from the stored tracks by the daily reports' own functions
 *    (geofence/coverage-report.ts, geofence/duty-report.ts) when the plans and tracks are given.
 * Tenancy: a firm key sees only its own card, with its rank among all firms; admin and monitor keys see
 * every card.
 */

export interface ScorecardRoutesOptions {
  events: Pick<EventStore, 'trips' | 'violations'>;
  registry: Pick<Registry, 'firm' | 'vehicles' | 'devices'>;
  /** the plans and tracks behind the sections' coverage and duty figures (without: violations only) */
  plans?: {
    registry: Pick<ComplianceRegistry, 'list' | 'record'>;
    world: () => World;
    tracks: Pick<FixStore, 'track'>;
    now: () => number;
  };
}

export const SCORECARD_PROBLEM_TYPES = {
  unknownFirm: 'urn:citywatch:problem:unknown-firm',
} as const;

const count = z.number().int().nonnegative();
const rate = z.number().nullable();

export const ScorecardSchema = z
  .object({
    month: z.string().describe('YYYY-MM, China Standard Time'),
    firm: z.string(),
    firmName: z.string().optional(),
    rank: z
      .number()
      .int()
      .positive()
      .nullable()
      .describe(
        '1 = best (violations per 100 trips, then per 1,000 km, then open violations); null: no trip and no violation',
      ),
    rankedFirms: count.describe('how many firms were ranked'),
    trips: count.describe('completed trips loaded in the month'),
    compliantTrips: count,
    compliantShare: rate.describe('compliantTrips / trips, 0..1 (4 decimals); null without trips'),
    km: z.number().describe('distance of those trips, km (2 decimals)'),
    violations: count.describe('violations that started in the month'),
    violationsByCode: z.object(Object.fromEntries(VIOLATION_CODES.map((c) => [c, count]))),
    per100Trips: rate.describe('violations per 100 trips (2 decimals); null without trips'),
    per1000Km: rate.describe('violations per 1,000 km (2 decimals); null without km'),
    openViolations: count.describe('the month’s violations whose enforcement status is not closed'),
  })
  .meta({ id: 'FirmScorecard', description: '月度考核: one firm’s figures for a month' });

const share = z.number().nullable();
const byCode = z.object(Object.fromEntries(VIOLATION_CODES.map((c) => [c, count])));

export const SanitationSectionSchema = z
  .object({
    firm: z.string(),
    firmName: z.string().optional(),
    vehicles: count.describe('vehicles its sweep plans and collection points name, or registered to it'),
    violations: count.describe('violations of those vehicles that started in the month'),
    violationsByCode: byCode,
    sweepShifts: count.describe('sweep shifts of the month that had ended'),
    plannedKm: z.number(),
    sweptKm: z.number(),
    coverage: share.describe('sweptKm / plannedKm, 0..1; null without a shift'),
    collectionWindows: count,
    onTime: count,
    late: count,
    missed: count,
    onTimeShare: share.describe('onTime / (onTime + late + missed), 0..1; null without a decided window'),
  })
  .meta({ id: 'SanitationScorecard', description: 'a sanitation team’s (firm’s) month' });

export const EnforcementSectionSchema = z
  .object({
    firm: z.string(),
    firmName: z.string().optional(),
    cameras: count.describe('body cameras its duty plans name, or registered to it'),
    violations: count.describe('violations of those cameras that started in the month'),
    violationsByCode: byCode,
    shifts: count.describe('camera shifts of the month that had ended'),
    dutyHours: z.number(),
    heardShare: share.describe('of the shifts’ length, 0..1; null without a shift'),
    recordingShare: share,
    inGridShare: share,
  })
  .meta({ id: 'EnforcementScorecard', description: 'an enforcement squad’s (department’s) month' });

const ScorecardListSchema = z
  .object({
    month: z.string(),
    from: z.string().describe('first instant of the month, ISO-8601 UTC'),
    to: z.string().describe('first instant of the next month, ISO-8601 UTC (exclusive)'),
    items: z.array(ScorecardSchema).describe('in rank order; unranked firms last'),
    sanitationTeams: z
      .array(SanitationSectionSchema)
      .describe('firms with sweep plans, collection points or sanitation vehicles, by firm id (not ranked)'),
    enforcementSquads: z
      .array(EnforcementSectionSchema)
      .describe('firms with duty plans or body cameras, by firm id (not ranked)'),
  })
  .meta({ id: 'FirmScorecards' });

const OneScorecardSchema = ScorecardSchema.extend({
  sanitation: SanitationSectionSchema.omit({ firm: true, firmName: true }).optional(),
  enforcement: EnforcementSectionSchema.omit({ firm: true, firmName: true }).optional(),
}).meta({ id: 'FirmScorecardWithSections' });

const CsvSchema = z
  .string()
  .describe(
    'RFC 4180 with a UTF-8 byte order mark: CRLF line ends, a header line, one firm per row; columns month, ' +
      "from, to (the month's first instant and the next month's, ISO 8601 in the `tz` zone with its offset), " +
      'rank, rankedFirms, firm, firmName, trips, compliantTrips, compliantShare, km, violations, per100Trips, ' +
      'per1000Km, openViolations, then one column per violation code; empty cell = null',
  );

const QuerySchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'expected YYYY-MM')
    .optional()
    .describe('the month, YYYY-MM (China Standard Time); default the current month in China Standard Time'),
  format: z.enum(['json', 'csv']).optional().describe('json or csv; overrides the Accept header'),
  tz: TimeZoneSchema.optional().describe(
    'CSV only: the time zone of its from and to columns (ISO 8601 local time with the offset); default ' +
      'Asia/Shanghai. The month itself is always China Standard Time (the 考核 calendar); JSON stays UTC',
  ),
});

const FirmParamsSchema = z.object({ firm: z.string().min(1).max(128).describe('firm id') });

const both = (description: string, json: z.ZodType) => ({
  description,
  content: { 'application/json': { schema: json }, 'text/csv': { schema: CsvSchema } },
});

async function allPages<T>(page: (cursor?: string) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    out.push(...p.items);
    cursor = p.nextCursor;
  } while (cursor !== undefined);
  return out;
}

export const scorecardRoutes: FastifyPluginAsyncZod<ScorecardRoutesOptions> = async (app, options) => {
  const { events, registry } = options;
  const unauthorized = problemResponse('missing or invalid bearer token');

  interface Month {
    cards: FirmScorecard[];
    /** the violations of sanitation vehicles and body cameras, and which is which */
    planned: ViolationRecord[];
    units: PlanUnits;
  }

  /** Every card of the month (reads the whole month: a firm's rank needs every firm's figures). */
  async function monthOfRecords(
    log: FastifyBaseLogger,
    range: MonthRange,
    alsoFirm?: string,
  ): Promise<Month> {
    const window = { from: range.fromMs, to: range.toMs - 1, limit: MAX_PAGE_LIMIT };
    let trips: TripRecord[];
    let allViolations: ViolationRecord[];
    try {
      [trips, allViolations] = await Promise.all([
        allPages((cursor) => events.trips({ ...window, ...(cursor ? { cursor } : {}) })),
        allPages((cursor) => events.violations({ ...window, ...(cursor ? { cursor } : {}) })),
      ]);
    } catch (cause) {
      log.error({ err: cause }, 'event store read failed');
      throw new HttpProblem({
        status: 503,
        type: PROBLEM_TYPES.storeUnavailable,
        title: 'Event store unavailable',
        detail: 'The event store could not be read; try again shortly.',
        cause,
      });
    }
    const units = planUnits();
    const firms = new Set<string>();
    for (const v of registry.vehicles()) if (v.kind === 'muck_truck') firms.add(v.firm);
    const violations: ViolationRecord[] = [];
    const planned: ViolationRecord[] = [];
    for (const v of allViolations) {
      if (units.kindOf.has(v.vehicle)) planned.push(v);
      else violations.push(v);
    }
    for (const t of trips) firms.add(t.firm);
    for (const v of violations) firms.add(v.firm);
    if (alsoFirm !== undefined) firms.add(alsoFirm);
    const cards = computeScorecards({ ...range, firms: [...firms], trips, violations });
    return { cards, planned, units };
  }

  interface PlanUnits {
    /** unit -> its kind, for every sanitation vehicle and body camera (registered or named by a plan) */
    kindOf: Map<string, 'sanitation' | 'body_camera'>;
    /** firm -> its sanitation vehicles / cameras */
    sanitation: Map<string, Set<string>>;
    enforcement: Map<string, Set<string>>;
  }

  function planUnits(): PlanUnits {
    const out: PlanUnits = { kindOf: new Map(), sanitation: new Map(), enforcement: new Map() };
    const add = (kind: 'sanitation' | 'body_camera', firm: string, unit: string) => {
      out.kindOf.set(unit, kind);
      const byFirm = kind === 'sanitation' ? out.sanitation : out.enforcement;
      const set = byFirm.get(firm) ?? new Set<string>();
      byFirm.set(firm, set);
      set.add(unit);
    };
    for (const v of registry.vehicles()) if (v.kind === 'sanitation') add('sanitation', v.firm, v.id);
    for (const d of registry.devices()) if (d.kind === 'body_camera') add('body_camera', d.firm, d.unit);
    if (options.plans !== undefined) {
      const r = options.plans.registry;
      for (const p of [...r.list('sweep_plan'), ...r.list('collection_point')]) {
        for (const v of p.vehicles) add('sanitation', p.firm, v);
      }
      for (const p of r.list('duty_plan')) for (const c of p.cameras) add('body_camera', p.firm, c);
    }
    return out;
  }

  /** The local dates of the month up to `asOf`, YYYY-MM-DD. */
  function datesOf(range: MonthRange, asOf: number): string[] {
    const out: string[] = [];
    for (let t = range.fromMs; t < range.toMs && t < asOf; t += 86_400_000) {
      out.push(new Date(t + CST_OFFSET_MS).toISOString().slice(0, 10));
    }
    return out;
  }

  const MAX_FIXES_PER_DAY = 100_000;
  const OFFLINE_MIN_MS = 10 * 60_000;

  /** A firm's sanitation rows: per vehicle of its plans, per day of the month so far (one track a day). */
  async function coverageRows(firm: string, range: MonthRange): Promise<CoverageDayRow[]> {
    const plans = options.plans;
    if (plans === undefined) return [];
    const w = plans.world();
    const th = w.thresholds();
    const asOf = plans.now();
    const vehicles = new Set<string>();
    for (const p of [...plans.registry.list('sweep_plan'), ...plans.registry.list('collection_point')]) {
      if (p.firm === firm) for (const v of p.vehicles) vehicles.add(v);
    }
    // a plan counts from its first version: the windows and shifts of the days before it are not its
    const since = (kind: 'sweep_plan' | 'collection_point', id: string) => {
      const created = plans.registry.record(kind, id, 1)?.createdAt;
      return created === undefined ? Number.NEGATIVE_INFINITY : Date.parse(created);
    };
    const rows: CoverageDayRow[] = [];
    for (const vehicle of [...vehicles].sort()) {
      const own = {
        sweeps: w.sweepPlansOf(vehicle).filter((p) => p.firm === firm),
        points: w.collectionPointsOf(vehicle).filter((p) => p.firm === firm),
      };
      for (const date of datesOf(range, asOf)) {
        const span = coverageDaySpan(own, date, th);
        const fixes = await plans.tracks.track({
          vehicle,
          from: span.start,
          to: span.end,
          limit: MAX_FIXES_PER_DAY,
        });
        const row = coverageDayRow(w, firm, vehicle, date, fixes, asOf, th);
        rows.push({
          ...row,
          sweeps: row.sweeps.filter((x) => x.shiftStart >= since('sweep_plan', x.plan)),
          collections: row.collections.filter((x) => x.windowStart >= since('collection_point', x.point)),
        });
      }
    }
    return rows;
  }

  /** A firm's duty rows: per duty plan, camera and shift of the month that has ended. */
  async function dutyRows(firm: string, range: MonthRange): Promise<DutyShiftRow[]> {
    const plans = options.plans;
    if (plans === undefined) return [];
    const w = plans.world();
    const asOf = plans.now();
    const rows: DutyShiftRow[] = [];
    for (const plan of plans.registry.list('duty_plan')) {
      if (plan.firm !== firm) continue;
      // counted from its first version, as the coverage
      const first = plans.registry.record('duty_plan', plan.id, 1)?.createdAt;
      const created = first === undefined ? Number.NEGATIVE_INFINITY : Date.parse(first);
      for (const camera of [...new Set(plan.cameras)].sort()) {
        const gapMs = Math.max(3 * (w.vehicle(camera)?.reportIntervalS ?? 15) * 1000, OFFLINE_MIN_MS);
        for (const date of datesOf(range, asOf)) {
          const shifts = shiftsStartingOn(plan.windows, date).filter(
            (s) => s.end <= asOf && s.start >= created,
          );
          if (shifts.length === 0) continue;
          const span = dutyDaySpan([plan], date, gapMs);
          const fixes = await plans.tracks.track({
            vehicle: camera,
            from: span.start,
            to: span.end,
            limit: MAX_FIXES_PER_DAY,
          });
          for (const shift of shifts) rows.push(dutyShiftRow(w, plan, shift, camera, fixes, gapMs));
        }
      }
    }
    return rows;
  }

  /** The sections of these firms (each firm's tracks read day by day, one after another: bounded). */
  async function sectionsOf(
    month: Month,
    range: MonthRange,
    only: (firm: string) => boolean,
  ): Promise<{
    sanitation: Map<string, SanitationSection>;
    enforcement: Map<string, EnforcementSection>;
  }> {
    const sanitation = new Map<string, SanitationSection>();
    const enforcement = new Map<string, EnforcementSection>();
    const ofFirm = (firm: string, kind: 'sanitation' | 'body_camera') =>
      month.planned.filter((v) => v.firm === firm && month.units.kindOf.get(v.vehicle) === kind);
    const firmsOf = (units: Map<string, Set<string>>, kind: 'sanitation' | 'body_camera') => {
      const firms = new Set(units.keys());
      for (const v of month.planned) if (month.units.kindOf.get(v.vehicle) === kind) firms.add(v.firm);
      return [...firms].filter(only).sort();
    };
    for (const firm of firmsOf(month.units.sanitation, 'sanitation')) {
      const rows = await coverageRows(firm, range);
      const count = month.units.sanitation.get(firm)?.size ?? 0;
      sanitation.set(firm, sanitationSection(count, rows, ofFirm(firm, 'sanitation'), range));
    }
    for (const firm of firmsOf(month.units.enforcement, 'body_camera')) {
      const rows = await dutyRows(firm, range);
      const count = month.units.enforcement.get(firm)?.size ?? 0;
      enforcement.set(firm, enforcementSection(count, rows, ofFirm(firm, 'body_camera'), range));
    }
    return { sanitation, enforcement };
  }

  const withName = (card: FirmScorecard) => {
    const name = registry.firm(card.firm)?.name;
    return name === undefined ? card : { ...card, firmName: name };
  };

  function rangeOf(month: string): MonthRange {
    const range = monthRange(month);
    if (range === undefined) throw new Error(`unreachable: month ${month} passed the schema`);
    return range;
  }

  function formatOf(format: 'json' | 'csv' | undefined, accept: string | undefined): 'json' | 'csv' {
    const chosen = chooseScorecardFormat(format, accept);
    if (chosen === undefined) {
      throw new HttpProblem({
        status: 406,
        detail: 'Scorecards are available as application/json and text/csv (or use format=).',
      });
    }
    return chosen;
  }

  const csvName = (month: string, firm?: string) =>
    `scorecards-${month}${firm === undefined ? '' : `-${firm.replace(/[^\w.-]/g, '_')}`}.csv`;

  app.get(
    '/scorecards',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Monthly firm scorecards (月度考核)',
        description:
          'Per firm, for a month in China Standard Time: completed trips, km, compliant share, violations by ' +
          'code, violations per 100 trips and per 1,000 km, open (unresolved) violations, and the rank among ' +
          'firms (violations per 100 trips, then per 1,000 km, then open violations; lower is better). JSON, ' +
          'or CSV with `format=csv` or `Accept: text/csv` (times in `tz`, default Asia/Shanghai). Without ' +
          '`month`, the current month in China Standard Time. A firm key gets only its own card (with its rank).',
        tags: ['violations'],
        security: bearerSecurity,
        querystring: QuerySchema,
        response: {
          200: both('the cards, in rank order', ScorecardListSchema),
          400: problemResponse('invalid query: the month must be YYYY-MM, tz an IANA time zone'),
          401: unauthorized,
          406: problemResponse('neither JSON nor CSV is acceptable'),
          503: problemResponse('event store unavailable'),
        },
      },
    },
    async (request, reply) => {
      const month = request.query.month ?? monthOf(Date.now());
      const format = formatOf(request.query.format, request.headers.accept);
      const range = rangeOf(month);
      const own = visibleFirm(request.principal);
      const records = await monthOfRecords(request.log, range, own);
      const cards = records.cards.filter((c) => canSee(request.principal, c.firm)).map(withName);
      reply.header('vary', 'Accept');
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="${csvName(month, own)}"`)
          .send(scorecardsCsv(cards, (f) => registry.firm(f)?.name, range, request.query.tz));
      }
      const sections = await sectionsOf(records, range, (f) => canSee(request.principal, f));
      const named = (firm: string) => {
        const name = registry.firm(firm)?.name;
        return name === undefined ? { firm } : { firm, firmName: name };
      };
      return reply.type('application/json').send({
        month,
        from: new Date(range.fromMs).toISOString(),
        to: new Date(range.toMs).toISOString(),
        items: cards,
        sanitationTeams: [...sections.sanitation].map(([firm, s]) => ({ ...named(firm), ...s })),
        enforcementSquads: [...sections.enforcement].map(([firm, s]) => ({ ...named(firm), ...s })),
      });
    },
  );

  app.get(
    '/scorecards/:firm',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'One firm’s monthly scorecard',
        description:
          'As GET /scorecards, for one firm. 404 for a firm that is unknown, or another firm than a firm key’s.',
        tags: ['violations'],
        security: bearerSecurity,
        params: FirmParamsSchema,
        querystring: QuerySchema,
        response: {
          200: both(
            'the card, with its sanitation and enforcement sections when it has any',
            OneScorecardSchema,
          ),
          400: problemResponse('invalid query: the month must be YYYY-MM, tz an IANA time zone'),
          401: unauthorized,
          404: problemResponse('unknown firm'),
          406: problemResponse('neither JSON nor CSV is acceptable'),
          503: problemResponse('event store unavailable'),
        },
      },
    },
    async (request, reply) => {
      const { firm } = request.params;
      const month = request.query.month ?? monthOf(Date.now());
      const format = formatOf(request.query.format, request.headers.accept);
      const unknownFirm = new HttpProblem({
        status: 404,
        type: SCORECARD_PROBLEM_TYPES.unknownFirm,
        title: 'Unknown firm',
        detail: `no firm ${JSON.stringify(firm)}`,
      });
      // Another firm's card is unknown to a firm key, exactly like a firm that does not exist.
      if (!canSee(request.principal, firm)) throw unknownFirm;
      const known = registry.firm(firm) !== undefined;
      const range = rangeOf(month);
      const records = await monthOfRecords(request.log, range, firm);
      const card = records.cards.find((c) => c.firm === firm);
      // a firm the registry does not know is known by its month: trips, violations, or plans and units
      const seen =
        card !== undefined &&
        (card.trips > 0 ||
          card.violations > 0 ||
          records.units.sanitation.has(firm) ||
          records.units.enforcement.has(firm) ||
          records.planned.some((v) => v.firm === firm));
      if (card === undefined || (!known && !seen)) throw unknownFirm;
      reply.header('vary', 'Accept');
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="${csvName(month, firm)}"`)
          .send(scorecardsCsv([card], (f) => registry.firm(f)?.name, range, request.query.tz));
      }
      const sections = await sectionsOf(records, range, (f) => f === firm);
      const sanitation = sections.sanitation.get(firm);
      const enforcement = sections.enforcement.get(firm);
      return reply.type('application/json').send({
        ...withName(card),
        ...(sanitation === undefined ? {} : { sanitation }),
        ...(enforcement === undefined ? {} : { enforcement }),
      });
    },
  );
};
