import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Fix } from '../ingest/fix.ts';
import type { Registry } from '../registry/types.ts';
import type { FixStore } from '../store/port.ts';
import { bearerSecurity } from './auth.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import {
  jsonResponse,
  PositionDtoSchema,
  PositionListSchema,
  PositionsQuerySchema,
  problemResponse,
  toPositionDto,
  UnitParamsSchema,
} from './schemas.ts';

export type PositionSource = Pick<FixStore, 'latest' | 'latestOf'>;
export type PositionRegistry = Pick<Registry, 'vehicle' | 'device'>;

export interface PositionRoutesOptions {
  positions: PositionSource;
  registry: PositionRegistry;
}

/** Store failures are the backend's, not the request's: 503 with the cause logged, never sent. */
async function fromStore<T>(log: FastifyBaseLogger, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    log.error({ err: cause }, 'position store read failed');
    throw new HttpProblem({
      status: 503,
      type: PROBLEM_TYPES.storeUnavailable,
      title: 'Position store unavailable',
      detail: 'The position store could not be read; try again shortly.',
      cause,
    });
  }
}

/** Latest positions. Register inside a scope guarded by `bearerAuth` (prefix /api/v1). */
export const positionRoutes: FastifyPluginAsyncZod<PositionRoutesOptions> = async (app, options) => {
  const { positions, registry } = options;
  const dto = (fix: Fix) => toPositionDto(fix, registry.vehicle(fix.vehicle)?.plate);
  const unauthorized = problemResponse('missing or invalid bearer token');

  app.get(
    '/positions',
    {
      schema: {
        summary: 'Latest position of every unit',
        description:
          'The latest fix of every unit (vehicle or body camera), optionally filtered by firm, kind and unit ids. ' +
          'Filters combine with AND. Items are ordered by unit id.',
        tags: ['positions'],
        security: bearerSecurity,
        querystring: PositionsQuerySchema,
        response: {
          200: jsonResponse('latest positions, ordered by unit id', PositionListSchema),
          400: problemResponse('invalid query'),
          401: unauthorized,
          503: problemResponse('position store unavailable'),
        },
      },
    },
    async (request) => {
      const { firm, kind, vehicle } = request.query;
      // An explicit empty list (`?vehicle=`) means no unit, not every unit.
      if (vehicle !== undefined && vehicle.length === 0) return { items: [], count: 0 };
      const fixes = await fromStore(request.log, () =>
        positions.latest({
          ...(firm === undefined ? {} : { firm }),
          ...(kind === undefined ? {} : { kind }),
          ...(vehicle === undefined ? {} : { vehicles: [...new Set(vehicle)] }),
        }),
      );
      const items = fixes
        .map(dto)
        .sort((a, b) => (a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0));
      return { items, count: items.length };
    },
  );

  app.get(
    '/vehicles/:id/position',
    {
      schema: {
        summary: 'Latest position of one unit',
        description:
          'The unit is a vehicle id, or a body camera id. 404 when the unit is unknown or has no fix yet.',
        tags: ['positions'],
        security: bearerSecurity,
        params: UnitParamsSchema,
        response: {
          200: jsonResponse('latest position of the unit', PositionDtoSchema),
          400: problemResponse('invalid unit id'),
          401: unauthorized,
          404: problemResponse('unknown unit, or no position yet'),
          503: problemResponse('position store unavailable'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const known = registry.vehicle(id) !== undefined || registry.device(id)?.unit === id;
      if (!known) {
        throw new HttpProblem({
          status: 404,
          type: PROBLEM_TYPES.unknownUnit,
          title: 'Unknown unit',
          detail: `No vehicle or body camera with id '${id}' is registered.`,
        });
      }
      const fix = await fromStore(request.log, () => positions.latestOf(id));
      if (fix === undefined) {
        throw new HttpProblem({
          status: 404,
          type: PROBLEM_TYPES.noPosition,
          title: 'No position',
          detail: `Unit '${id}' has not reported a position yet.`,
        });
      }
      return dto(fix);
    },
  );
};
