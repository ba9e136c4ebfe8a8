import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UNIT_KINDS } from '../core/fix.ts';
import type { LiveUnits } from '../dispatch/live-units.ts';
import { bearerSecurity } from './auth.ts';
import { visibleFirm } from './principal.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * GET /api/v1/dispatch/nearest (issue 15, item 5): the nearest units to a point from the live index
 * (dispatch/live-units.ts), a k-nearest search over a grid, not a scan. A firm key sees its own units.
 */

const NearestQuerySchema = z.strictObject({
  lat: z.coerce.number().min(-90).max(90).describe('WGS-84 latitude of the incident'),
  lon: z.coerce.number().min(-180).max(180).describe('WGS-84 longitude of the incident'),
  kind: z.enum(UNIT_KINDS).optional().describe('only units of this kind (body_camera: officers)'),
  limit: z.coerce.number().int().min(1).max(100).default(5).describe('how many units (1-100, default 5)'),
  available: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: only units online, on duty and not assigned to an open incident'),
});

const NearestUnitSchema = z
  .object({
    unit: z.string().describe('the vehicle, or the body camera'),
    kind: z.enum(UNIT_KINDS),
    firm: z.string(),
    lat: z.number(),
    lon: z.number(),
    ts: z.number().int().describe("instant of the unit's last fix, epoch ms"),
    distanceM: z.number().describe('straight-line distance, metres'),
    etaS: z
      .number()
      .int()
      .describe("seconds at the unit's recent speed (still: 5 km/h on foot, 20-25 km/h a vehicle)"),
    speedKmh: z.number().describe('recent speed (moving average of the reports)'),
    online: z.boolean().describe('heard within max(3 x its report interval, 10 min)'),
    onDuty: z
      .boolean()
      .describe('in a shift of its duty or sweep plan, a window of its collection points, or no plan'),
    incident: z.string().optional().describe('the open incident the unit is assigned to'),
    officer: z.string().optional(),
  })
  .meta({ id: 'NearestUnit' });

const NearestReplySchema = z
  .object({ items: z.array(NearestUnitSchema), count: z.number().int().nonnegative() })
  .meta({ id: 'NearestUnits' });

export interface DispatchRoutesOptions {
  units: LiveUnits;
}

export const dispatchRoutes: FastifyPluginAsyncZod<DispatchRoutesOptions> = async (app, { units }) => {
  app.get(
    '/dispatch/nearest',
    {
      config: { scope: 'positions:read' },
      schema: {
        summary: 'Nearest units to a point',
        description:
          'The `limit` nearest units (of `kind`) to the point, closest first, with the straight-line distance ' +
          'and an ETA from the recent speed, from the live index every fix updates. `available=true`: only ' +
          "units online, on duty and not assigned to an open incident. A firm key sees its own firm's units only.",
        tags: ['dispatch'],
        security: bearerSecurity,
        querystring: NearestQuerySchema,
        response: {
          200: jsonResponse('the units, closest first', NearestReplySchema),
          400: problemResponse('invalid query: every field at fault is named'),
          401: problemResponse('missing or invalid bearer token'),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const firm = visibleFirm(request.principal);
      const items = units.nearest({
        lat: q.lat,
        lon: q.lon,
        limit: q.limit,
        available: q.available,
        ...(q.kind === undefined ? {} : { kind: q.kind }),
        ...(firm === undefined ? {} : { firm }),
      });
      return { items, count: items.length };
    },
  );
};
