import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PlatformOutageRecord } from '../compliance/platform-outages.ts';
import { iso } from '../core/instants.ts';
import { VIOLATION_CODES } from '../geofence/model.ts';
import { bearerSecurity } from './auth.ts';
import { nextCursorField, pageQueryFields, paginate } from './paging.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * GET /platform/outages (issue 10 item 6): the platform's own outages, for operators, with the
 * silences they voided. While the platform was stopped or restarting, or its intake was far behind its
 * devices, a vehicle's silence (OFFLINE) or gap (TRACK_GAP) is the platform's: it is recorded here as a
 * platform gap, never as a violation of the firm, and never in a scorecard (geofence/platform-gaps.ts).
 * Admin and monitor keys only: the outages are the platform's, not a firm's.
 */

export interface PlatformOutageSource {
  /**
   * the outages kept (within the backfill horizon), oldest first, each with its first `gapLimit` gaps;
   * a cluster API node reads them from the cluster (platform/cluster-api-node.ts), hence the promise
   */
  outages(gapLimit: number): PlatformOutageRecord[] | Promise<PlatformOutageRecord[]>;
}

const GapSchema = z.object({
  id: z.string().describe('the id the violation would have had (vehicle:code:startTs)'),
  vehicle: z.string(),
  firm: z.string(),
  code: z.enum(VIOLATION_CODES).describe('OFFLINE or TRACK_GAP'),
  fromTs: z.number().int().describe('epoch ms: the last fix before the silence'),
  toTs: z.number().int().describe('epoch ms: the fix after it, or the instant it was judged at'),
  fromAt: z.string(),
  toAt: z.string(),
});

const OutageSchema = z
  .object({
    start: z.number().int().describe('epoch ms (judgement clock)'),
    end: z.number().int().nullable().describe('epoch ms; null while it lasts'),
    startAt: z.string(),
    endAt: z.string().nullable(),
    cause: z
      .enum(['stopped', 'behind'])
      .describe(
        'stopped: the platform was not running (from its last saved state to the end of the restart grace); behind: its intake lagged its devices by more than the clock can hold back (60 s)',
      ),
    gaps: z.number().int().nonnegative().describe('silences of vehicles it voided (platform gaps)'),
    gapList: z.array(GapSchema).describe('the first of them, by vehicle'),
  })
  .meta({
    id: 'PlatformOutage',
    description:
      'an outage of the platform itself: the silences it covered are the platform’s, never a violation of the firm',
  });

export const platformOutageRoutes: FastifyPluginAsyncZod<{ outages: PlatformOutageSource }> = async (
  app,
  options,
) => {
  app.get(
    '/platform/outages',
    {
      config: { scope: 'violations:read', roles: ['admin', 'monitor'] },
      schema: {
        summary: 'The platform’s own outages and the silences they voided',
        description:
          'While the platform was stopped, restarting or far behind its own queues, a vehicle’s silence is ' +
          'the platform’s: recorded here (a platform gap), never an OFFLINE or TRACK_GAP against the firm, ' +
          'never in a scorecard. Kept for the backfill horizon (MAX_FIX_AGE_DAYS). On a cluster API node: the ' +
          'cluster’s outages: `stopped` (no edge alive, or NATS without a quorum) and `behind` (an edge’s ' +
          'intake lagging its devices), each with the gaps the workers stored for it.',
        tags: ['violations'],
        security: bearerSecurity,
        querystring: z.strictObject({
          gaps: z.coerce.number().int().min(0).max(10_000).default(100).describe('gaps listed per outage'),
          ...pageQueryFields,
        }),
        response: {
          200: jsonResponse(
            'the outages, oldest first',
            z.object({
              items: z.array(OutageSchema),
              count: z.number().int().nonnegative(),
              nextCursor: nextCursorField,
            }),
          ),
          400: problemResponse('invalid query'),
          401: problemResponse('missing or invalid bearer token'),
          403: problemResponse('not an admin or monitor key'),
        },
      },
    },
    async (request) => {
      const { gaps, limit, cursor } = request.query;
      // by start: the key pads the instant so that text order is time order
      const page = paginate(await options.outages.outages(gaps), (o) => String(o.start).padStart(16, '0'), {
        limit,
        cursor,
      });
      return { ...page, items: page.items.map(outageDto) };
    },
  );
};

function outageDto(o: PlatformOutageRecord) {
  return {
    start: o.start,
    end: Number.isFinite(o.end) ? o.end : null,
    startAt: iso(o.start),
    endAt: Number.isFinite(o.end) ? iso(o.end) : null,
    cause: o.cause,
    gaps: o.gaps,
    gapList: o.gapList.map((g) => ({
      id: g.id,
      vehicle: g.vehicle,
      firm: g.firm,
      code: g.code,
      fromTs: g.fromTs,
      toTs: g.toTs,
      fromAt: iso(g.fromTs),
      toAt: iso(g.toTs),
    })),
  };
}
