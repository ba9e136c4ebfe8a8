import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { bearerSecurity } from './auth.ts';
import { canSee, visibleFirm } from './principal.ts';
import { HttpProblem } from './problem.ts';
import { problemResponse } from './schemas.ts';
import type { FirmScorecard } from './scorecard/compute.ts';
import { chooseScorecardFormat, scorecardsCsv } from './scorecard/csv.ts';
import { type MonthRange, monthOf, monthRange } from './scorecard/month.ts';
import { readMonth, type ScorecardSources } from './scorecard/month-records.ts';
import {
  both,
  FirmParamsSchema,
  OneScorecardSchema,
  QuerySchema,
  ScorecardListSchema,
} from './scorecard/schemas.ts';
import { sectionsOf } from './scorecard/sections.ts';

/**
 * The monthly firm scorecards (月度考核): GET /scorecards?month=YYYY-MM and /scorecards/{firm}?month=, as
 * JSON or CSV. The figures and the ranking are api/scorecard/compute.ts; api/scorecard/month-records.ts
 * reads the month's trips and violations from the event store and decides what is scored:
 *  - firms: those owning a registered muck truck, plus any firm with a trip or a counted violation;
 *  - violations: all but those of units registered as sanitation vehicles or body cameras (the 考核 is
 *    about construction-waste haulage); those go to the sections for sanitation teams and enforcement
 *    squads (issue 15: api/scorecard/sections.ts, plan-figures.ts), with the month's coverage, collection, recording
 *    and in-grid figures computed day by day from the stored tracks by the daily reports' own functions
 *    (geofence/coverage-report.ts, geofence/duty-report.ts) when the plans and tracks are given.
 * Tenancy: a firm key sees only its own card, with its rank among all firms; admin and monitor keys see
 * every card.
 */

export type ScorecardRoutesOptions = ScorecardSources;

export const SCORECARD_PROBLEM_TYPES = {
  unknownFirm: 'urn:citywatch:problem:unknown-firm',
} as const;

export const scorecardRoutes: FastifyPluginAsyncZod<ScorecardRoutesOptions> = async (app, options) => {
  const { registry } = options;
  const unauthorized = problemResponse('missing or invalid bearer token');

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
      const records = await readMonth(options, request.log, range, own);
      const cards = records.cards.filter((c) => canSee(request.principal, c.firm)).map(withName);
      reply.header('vary', 'Accept');
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8; header=present')
          .header('content-disposition', `attachment; filename="${csvName(month, own)}"`)
          .send(scorecardsCsv(cards, (f) => registry.firm(f)?.name, range, request.query.tz));
      }
      const sections = await sectionsOf(options.plans, records, range, (f) => canSee(request.principal, f));
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
      const records = await readMonth(options, request.log, range, firm);
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
      const sections = await sectionsOf(options.plans, records, range, (f) => f === firm);
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
