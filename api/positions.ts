import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Fix, UnitKind } from '../core/fix.ts';
import { inBbox } from '../delivery/live/filter.ts';
import type { Registry } from '../registry/types.ts';
import type { FixStore } from '../store/port.ts';
import { bearerSecurity } from './auth.ts';
import { fastJsonSerializerCompiler } from './fast-serializer.ts';
import { canSee, listFirm, type Principal } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES, storeUnavailable } from './problem.ts';
import {
  jsonResponse,
  PositionDtoSchema,
  PositionListSchema,
  PositionsQuerySchema,
  problemResponse,
  toPositionDto,
  UnitParamsSchema,
} from './schemas.ts';
import {
  type TrackMeta,
  trackCsv,
  trackFileName,
  trackGeoJson,
  trackGpx,
  trackJson,
} from './track-format.ts';
import { chooseTrackFormat, TRACK_FORMATS, TRACK_MEDIA_TYPES } from './track-format-negotiate.ts';
import { downsample } from './track-format-sample.ts';
import {
  DEFAULT_TRACK_SPAN_MS,
  MAX_TRACK_FIXES,
  MAX_TRACK_SPAN_MS,
  TrackCsvSchema,
  TrackFeatureSchema,
  TrackGpxSchema,
  TrackQuerySchema,
  TrackSchema,
} from './track-format-schemas.ts';

export type PositionSource = Pick<FixStore, 'latest' | 'latestOf'>;
export type PositionRegistry = Pick<Registry, 'vehicle' | 'device'>;
export type TrackSource = Pick<FixStore, 'track'>;

export interface PositionRoutesOptions {
  positions: PositionSource;
  registry: PositionRegistry;
  /** the fix store: GET /vehicles/{id}/track is served only when given */
  tracks?: TrackSource;
  /** clock of the track's default range; injectable for tests */
  now?: () => number;
}

/** Store failures are the backend's, not the request's: 503 with the cause logged, never sent. */
async function fromStore<T>(log: FastifyBaseLogger, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    throw storeUnavailable(log, 'position', cause);
  }
}

/** A 400 naming the query parameter at fault, shaped like the schema validation's problems. */
function invalidQuery(field: string, message: string): HttpProblem {
  return new HttpProblem({
    status: 400,
    type: PROBLEM_TYPES.validation,
    title: 'Invalid request',
    detail: `querystring/${field}: ${message}`,
    errors: [{ in: 'querystring', pointer: `/${field}`, message }],
  });
}

/**
 * Page cursors are opaque to clients (base64url of a small JSON object) so their content can change
 * without breaking anyone; inside, the last unit id of the page: pages are keyset pages over unit ids,
 * stable while units come and go.
 */
export function encodePositionCursor(after: string): string {
  return Buffer.from(JSON.stringify({ p: after }), 'utf8').toString('base64url');
}

function decodePositionCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const after = (parsed as { p?: unknown } | null)?.p;
    if (typeof after === 'string' && after.length > 0) return after;
  } catch {
    // falls through to the problem below
  }
  throw invalidQuery('cursor', 'not a cursor returned by this endpoint');
}

/** Page size when a cursor is given without a limit. */
const DEFAULT_PAGE = 1000;

const byUnitId = (a: { vehicle: string }, b: { vehicle: string }) =>
  a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0;

/** Latest positions and tracks. Register inside a scope guarded by `bearerAuth` (prefix /api/v1). */
export const positionRoutes: FastifyPluginAsyncZod<PositionRoutesOptions> = async (app, options) => {
  const { positions, registry, tracks } = options;
  const now = options.now ?? Date.now;
  const dto = (fix: Fix) => toPositionDto(fix, registry.vehicle(fix.vehicle)?.plate);
  const unauthorized = problemResponse('missing or invalid bearer token');
  const forbidden = problemResponse('the key lacks the scope positions:read');
  const rateLimited = problemResponse(
    'the key has spent its request budget; retry after Retry-After seconds',
  );

  /**
   * The registered unit behind an id, when the principal may see it; otherwise the same 404 as for an
   * unknown unit, so a firm key cannot learn that another firm's unit exists.
   */
  const visibleUnit = (
    principal: Principal,
    id: string,
  ): { kind: UnitKind; firm: string; plate?: string } => {
    const vehicle = registry.vehicle(id);
    const device = registry.device(id);
    const unit = vehicle
      ? { kind: vehicle.kind, firm: vehicle.firm, plate: vehicle.plate }
      : device?.unit === id
        ? { kind: device.kind, firm: device.firm }
        : undefined;
    if (unit === undefined || !canSee(principal, unit.firm)) {
      // a vehicle terminal's id where its vehicle's is meant: say which (to those who may see it)
      const mountedOn =
        unit === undefined && device !== undefined && canSee(principal, device.firm)
          ? device.unit
          : undefined;
      throw new HttpProblem({
        status: 404,
        type: PROBLEM_TYPES.unknownUnit,
        title: 'Unknown unit',
        detail:
          mountedOn === undefined
            ? `No vehicle or body camera with id '${id}' is registered.`
            : `'${id}' is a device, not a unit: positions and tracks are filed by vehicle id, and it is mounted on vehicle '${mountedOn}' (/api/v1/vehicles/${encodeURIComponent(mountedOn)}/position).`,
      });
    }
    return unit;
  };

  app.get(
    '/positions',
    {
      config: { scope: 'positions:read' },
      serializerCompiler: fastJsonSerializerCompiler,
      schema: {
        summary: 'Latest position of every unit',
        description:
          'The latest fix of every unit (vehicle or body camera), optionally filtered by firm, kind, unit ids ' +
          'and bounding box. Filters combine with AND. Items are ordered by unit id. With `limit` (or `cursor`) ' +
          'the list comes in pages: pass `nextCursor` as `cursor` for the next one. A firm key sees its own ' +
          'units only.',
        tags: ['positions'],
        security: bearerSecurity,
        querystring: PositionsQuerySchema,
        response: {
          200: jsonResponse('latest positions, ordered by unit id', PositionListSchema),
          400: problemResponse('invalid query'),
          401: unauthorized,
          403: forbidden,
          429: rateLimited,
          503: problemResponse('position store unavailable'),
        },
      },
    },
    async (request) => {
      const { kind, vehicle, bbox, limit, cursor } = request.query;
      const after = cursor === undefined ? undefined : decodePositionCursor(cursor);
      // An explicit empty list (`?vehicle=`) means no unit, not every unit.
      if (vehicle !== undefined && vehicle.length === 0) return { items: [], count: 0 };
      const firm = listFirm(request.principal, request.query.firm);
      if (firm === null) return { items: [], count: 0 };
      const fixes = await fromStore(request.log, () =>
        positions.latest({
          ...(firm === undefined ? {} : { firm }),
          ...(kind === undefined ? {} : { kind }),
          ...(vehicle === undefined ? {} : { vehicles: [...new Set(vehicle)] }),
        }),
      );
      const selected = fixes
        .filter(
          (f) =>
            (bbox === undefined || inBbox(bbox, f.lon, f.lat)) && (after === undefined || f.vehicle > after),
        )
        .sort(byUnitId);
      // Without limit and cursor the whole list, as before pages existed.
      const size = limit ?? (after === undefined ? selected.length : DEFAULT_PAGE);
      const page = selected.slice(0, size);
      const items = page.map(dto);
      const last = page.at(-1);
      return selected.length > size && last !== undefined
        ? { items, count: items.length, nextCursor: encodePositionCursor(last.vehicle) }
        : { items, count: items.length };
    },
  );

  app.get(
    '/vehicles/:id/position',
    {
      config: { scope: 'positions:read' },
      serializerCompiler: fastJsonSerializerCompiler,
      schema: {
        summary: 'Latest position of one unit',
        description:
          "The unit is a vehicle id, or a body camera id (a vehicle terminal's device id answers 404 naming its vehicle). 404 when the unit is unknown, has no fix yet, or " +
          'belongs to another firm than a firm key’s.',
        tags: ['positions'],
        security: bearerSecurity,
        params: UnitParamsSchema,
        response: {
          200: jsonResponse('latest position of the unit', PositionDtoSchema),
          400: problemResponse('invalid unit id'),
          401: unauthorized,
          403: forbidden,
          429: rateLimited,
          404: problemResponse('unknown unit, or no position yet'),
          503: problemResponse('position store unavailable'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      visibleUnit(request.principal, id);
      const fix = await fromStore(request.log, () => positions.latestOf(id));
      // The fix carries the firm that owned the unit when it reported: a firm key sees only its own.
      if (fix === undefined || !canSee(request.principal, fix.firm)) {
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

  if (tracks === undefined) return;

  app.get(
    '/vehicles/:id/track',
    {
      config: { scope: 'positions:read' },
      serializerCompiler: fastJsonSerializerCompiler,
      schema: {
        summary: 'Track of one unit over a time range',
        description:
          'The fixes of a unit in [from, to], oldest first, optionally downsampled (`interval`, `maxPoints`). ' +
          'The representation is chosen by `format`, else by the Accept header: application/json (default), ' +
          'application/geo+json (a LineString Feature, instants in properties.timestamps), text/csv (RFC 4180, ' +
          `one fix per row, header line) or application/gpx+xml (GPX 1.1). At most ${MAX_TRACK_FIXES} fixes ` +
          'before downsampling and 31 days per request. 404 when the unit is unknown or belongs to another ' +
          'firm than a firm key’s.',
        tags: ['positions'],
        security: bearerSecurity,
        params: UnitParamsSchema,
        querystring: TrackQuerySchema,
        response: {
          200: {
            description: 'the track',
            content: {
              [TRACK_MEDIA_TYPES.json]: { schema: TrackSchema },
              [TRACK_MEDIA_TYPES.geojson]: { schema: TrackFeatureSchema },
              [TRACK_MEDIA_TYPES.csv]: { schema: TrackCsvSchema },
              [TRACK_MEDIA_TYPES.gpx]: { schema: TrackGpxSchema },
            },
          },
          400: problemResponse('invalid query, or a range too long or holding too many fixes'),
          401: unauthorized,
          403: forbidden,
          429: rateLimited,
          404: problemResponse('unknown unit'),
          406: problemResponse('none of the track formats is acceptable'),
          503: problemResponse('position store unavailable'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const format = chooseTrackFormat(q.format, request.headers.accept);
      if (format === undefined) {
        throw new HttpProblem({
          status: 406,
          detail: `The track is available as ${TRACK_FORMATS.map((f) => TRACK_MEDIA_TYPES[f]).join(', ')} (or use format=).`,
        });
      }
      const to = q.to ?? now();
      const from = q.from ?? to - DEFAULT_TRACK_SPAN_MS;
      if (from > to) throw invalidQuery(q.from === undefined ? 'to' : 'from', 'from must not be after to');
      if (to - from > MAX_TRACK_SPAN_MS) throw invalidQuery('from', 'the range may span at most 31 days');
      const unit = visibleUnit(request.principal, id);
      const read = await fromStore(request.log, () =>
        tracks.track({ vehicle: id, from, to, limit: MAX_TRACK_FIXES + 1 }),
      );
      if (read.length > MAX_TRACK_FIXES) {
        throw invalidQuery('from', `the range holds more than ${MAX_TRACK_FIXES} fixes; narrow from/to`);
      }
      const own = read.filter((f) => canSee(request.principal, f.firm));
      const fixes = downsample(own, {
        ...(q.interval === undefined ? {} : { intervalMs: q.interval }),
        ...(q.maxPoints === undefined ? {} : { maxPoints: q.maxPoints }),
      });
      const meta: TrackMeta = { vehicle: id, ...unit, from, to, total: own.length };
      reply.header('vary', 'Accept');
      switch (format) {
        case 'json':
          return reply.type(TRACK_MEDIA_TYPES.json).send(trackJson(meta, fixes));
        case 'geojson':
          return reply
            .type(`${TRACK_MEDIA_TYPES.geojson}; charset=utf-8`)
            .send(JSON.stringify(trackGeoJson(meta, fixes)));
        case 'csv':
          return reply
            .type(`${TRACK_MEDIA_TYPES.csv}; charset=utf-8; header=present`)
            .header('content-disposition', `attachment; filename="${trackFileName(meta, 'csv')}"`)
            .send(trackCsv(meta, fixes, q.tz));
        case 'gpx':
          return reply
            .type(`${TRACK_MEDIA_TYPES.gpx}; charset=utf-8`)
            .header('content-disposition', `attachment; filename="${trackFileName(meta, 'gpx')}"`)
            .send(trackGpx(meta, fixes, now()));
      }
    },
  );
};
