import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VIOLATION_CODES } from '../geofence/model.ts';
import type { Registry } from '../registry/types.ts';
import {
  type EventStore,
  MAX_PAGE_LIMIT,
  type Page,
  type TripRecord,
  type ViolationRecord,
} from '../store/events-port.ts';
import { bearerSecurity } from './auth.ts';
import { TimeZoneSchema } from './instants.ts';
import { canSee, visibleFirm } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { problemResponse } from './schemas.ts';
import { computeScorecards, type FirmScorecard } from './scorecard/compute.ts';
import { chooseScorecardFormat, scorecardsCsv } from './scorecard/csv.ts';
import { type MonthRange, monthOf, monthRange } from './scorecard/month.ts';

/**
 * The monthly firm scorecards (月度考核): GET /scorecards?month=YYYY-MM and /scorecards/{firm}?month=, as
 * JSON or CSV. The figures and the ranking are api/scorecard/compute.ts; this module reads the month's
 * trips and violations from the event store and decides what is scored:
 *  - firms: those owning a registered muck truck, plus any firm with a trip or a counted violation;
 *  - violations: all but those of units registered as sanitation vehicles or body cameras (the 考核 is
 *    about construction-waste haulage; a firm's sweepers or a department's cameras are judged elsewhere).
 * Tenancy: a firm key sees only its own card, with its rank among all firms; admin and monitor keys see
 * every card.
 */

export interface ScorecardRoutesOptions {
  events: Pick<EventStore, 'trips' | 'violations'>;
  registry: Pick<Registry, 'firm' | 'vehicles' | 'devices'>;
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

const ScorecardListSchema = z
  .object({
    month: z.string(),
    from: z.string().describe('first instant of the month, ISO-8601 UTC'),
    to: z.string().describe('first instant of the next month, ISO-8601 UTC (exclusive)'),
    items: z.array(ScorecardSchema).describe('in rank order; unranked firms last'),
  })
  .meta({ id: 'FirmScorecards' });

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

  /** Every card of the month (reads the whole month: a firm's rank needs every firm's figures). */
  async function cardsOf(
    log: FastifyBaseLogger,
    range: MonthRange,
    alsoFirm?: string,
  ): Promise<FirmScorecard[]> {
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
    const otherUnits = new Set<string>();
    const firms = new Set<string>();
    for (const v of registry.vehicles()) {
      if (v.kind === 'muck_truck') firms.add(v.firm);
      else otherUnits.add(v.id);
    }
    for (const d of registry.devices()) if (d.kind === 'body_camera') otherUnits.add(d.unit);
    const violations = allViolations.filter((v) => !otherUnits.has(v.vehicle));
    for (const t of trips) firms.add(t.firm);
    for (const v of violations) firms.add(v.firm);
    if (alsoFirm !== undefined) firms.add(alsoFirm);
    return computeScorecards({ ...range, firms: [...firms], trips, violations });
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
      const cards = (await cardsOf(request.log, range, own))
        .filter((c) => canSee(request.principal, c.firm))
        .map(withName);
      reply.header('vary', 'Accept');
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="${csvName(month, own)}"`)
          .send(scorecardsCsv(cards, (f) => registry.firm(f)?.name, range, request.query.tz));
      }
      return reply.type('application/json').send({
        month,
        from: new Date(range.fromMs).toISOString(),
        to: new Date(range.toMs).toISOString(),
        items: cards,
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
          200: both('the card', ScorecardSchema),
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
      const card = (await cardsOf(request.log, range, known ? firm : undefined)).find((c) => c.firm === firm);
      if (card === undefined) throw unknownFirm;
      reply.header('vary', 'Accept');
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="${csvName(month, firm)}"`)
          .send(scorecardsCsv([card], (f) => registry.firm(f)?.name, range, request.query.tz));
      }
      return reply.type('application/json').send(withName(card));
    },
  );
};
