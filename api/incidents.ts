import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { IncidentDesk } from '../dispatch/incidents.ts';
import type { Incident } from '../geofence/plans.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import { IdReferenceSchema } from '../registry/ids.ts';
import { bearerSecurity } from './auth.ts';
import { attempt, notFound, versionsOf } from './compliance-problems.ts';
import { EntityParamsSchema } from './compliance-schemas.ts';
import { byIdKey, pageQueryFields, paginate } from './paging.ts';
import { listSchema, replyCreated } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Incidents (issue 15, item 5): the command centre creates one at a point, assigns it to a unit (found
 * with GET /dispatch/nearest), and closes it; the unit's arrival (its first fix within the radius) is
 * recorded by the platform. Each event is a new version of the incident in the compliance registry
 * (GET /incidents/{id}/versions is the record: who, when). City data: admin keys write, admin and
 * monitor keys read; firm keys have no access (an incident names units of several firms).
 */

export interface IncidentRoutesOptions {
  desk: IncidentDesk;
  registry: Pick<ComplianceRegistry, 'get' | 'list' | 'history' | 'record'>;
}

const IncidentSchema = z
  .object({
    id: z.string(),
    version: z.number().int().positive(),
    title: z.string(),
    lat: z.number(),
    lon: z.number(),
    radiusM: z.number().describe('the unit has arrived at its first fix within this radius (m)'),
    status: z.enum(['open', 'assigned', 'arrived', 'closed']),
    openedAt: z.number().int().describe('epoch ms'),
    unit: z.string().optional().describe('the unit assigned'),
    assignedAt: z.number().int().optional(),
    arrivedAt: z.number().int().optional().describe("instant of the unit's first fix within the radius"),
    closedAt: z.number().int().optional(),
  })
  .meta({ id: 'Incident' });

const CreateSchema = z.strictObject({
  lat: z.number().min(-90).max(90).describe('WGS-84 latitude'),
  lon: z.number().min(-180).max(180).describe('WGS-84 longitude'),
  title: z.string().trim().min(1).max(500).describe('what happened'),
  radiusM: z.number().positive().max(5000).default(50).describe('arrival radius (m), default 50'),
});

const AssignSchema = z.strictObject({
  unit: IdReferenceSchema.describe('the vehicle or body camera to send'),
  version: z.number().int().positive().optional().describe('refused (409) unless the current version'),
});

const CloseSchema = z.strictObject({
  version: z.number().int().positive().optional().describe('refused (409) unless the current version'),
});

const ListQuerySchema = z.strictObject({
  open: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true'))
    .describe('true: open incidents only; false: closed ones only'),
  ...pageQueryFields,
});

const VersionsSchema = z
  .object({
    kind: z.literal('incident'),
    id: z.string(),
    items: z.array(
      z.object({
        version: z.number().int(),
        deleted: z.boolean(),
        createdAt: z.string(),
        actor: z.string().optional(),
        body: IncidentSchema.optional(),
      }),
    ),
    count: z.number().int().nonnegative(),
  })
  .meta({ id: 'IncidentVersions' });

export function incidentDto(i: Incident): z.infer<typeof IncidentSchema> {
  const status =
    i.closedAt !== undefined
      ? 'closed'
      : i.arrivedAt !== undefined
        ? 'arrived'
        : i.unit !== undefined
          ? 'assigned'
          : 'open';
  return {
    id: i.id,
    version: i.version,
    title: i.title,
    lat: i.position[1],
    lon: i.position[0],
    radiusM: i.radiusM,
    status,
    openedAt: i.openedAt,
    ...(i.unit === undefined ? {} : { unit: i.unit }),
    ...(i.assignedAt === undefined ? {} : { assignedAt: i.assignedAt }),
    ...(i.arrivedAt === undefined ? {} : { arrivedAt: i.arrivedAt }),
    ...(i.closedAt === undefined ? {} : { closedAt: i.closedAt }),
  };
}

const unauthorized = problemResponse('missing or invalid bearer token');
const forbidden = problemResponse('the key may not (admin writes; admin and monitor read)');
const invalid = problemResponse('invalid body or query: every field at fault is named');
const unknown = problemResponse('unknown incident');
const conflict = problemResponse('closed, the unit is on another open incident, or version mismatch');
/** the answers of a decision on an incident (assign, close): `what` is the version it writes */
const decisionResponses = (what: string) => ({
  200: jsonResponse(what, IncidentSchema),
  400: invalid,
  401: unauthorized,
  403: forbidden,
  404: unknown,
  409: conflict,
});

export const incidentRoutes: FastifyPluginAsyncZod<IncidentRoutesOptions> = async (
  app,
  { desk, registry },
) => {
  const tags = ['dispatch'];
  const read = { scope: 'compliance:read' as const, roles: ['admin' as const, 'monitor' as const] };
  const write = (action?: string) => ({
    scope: 'compliance:write' as const,
    roles: ['admin' as const],
    audit: { entity: 'incident' as const, ...(action === undefined ? {} : { action }) },
  });

  app.post(
    '/incidents',
    {
      config: write(),
      schema: {
        summary: 'Create an incident',
        description: 'At a point, open, on the judgement clock. Assign it with POST /incidents/{id}/assign.',
        tags,
        security: bearerSecurity,
        body: CreateSchema,
        response: {
          201: jsonResponse('the incident, version 1', IncidentSchema),
          400: invalid,
          401: unauthorized,
          403: forbidden,
        },
      },
    },
    async (request, reply) => {
      const i = attempt(() => desk.create(request.body, request.principal.keyId));
      replyCreated(request, reply, i.id);
      return incidentDto(i);
    },
  );

  app.get(
    '/incidents',
    {
      config: read,
      schema: {
        summary: 'List incidents',
        description: 'The latest version of each, ordered by id (pages with `limit`, `cursor`).',
        tags,
        security: bearerSecurity,
        querystring: ListQuerySchema,
        response: {
          200: jsonResponse('incidents', listSchema(IncidentSchema, 'IncidentList')),
          400: invalid,
          401: unauthorized,
          403: forbidden,
        },
      },
    },
    async (request) => {
      const { open } = request.query;
      const items = registry
        .list('incident')
        .filter((i) => open === undefined || (i.closedAt === undefined) === open);
      const page = paginate(items, byIdKey, request.query);
      const body = { items: page.items.map(incidentDto), count: page.count };
      return page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/incidents/:id',
    {
      config: read,
      schema: {
        summary: 'Get an incident',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the incident', IncidentSchema),
          400: invalid,
          401: unauthorized,
          403: forbidden,
          404: unknown,
        },
      },
    },
    async (request) => {
      const i = registry.get('incident', request.params.id);
      if (i === undefined) notFound('incident', request.params.id);
      return incidentDto(i);
    },
  );

  app.get(
    '/incidents/:id/versions',
    {
      config: read,
      schema: {
        summary: 'The record of an incident',
        description:
          'Every version, oldest first: creation, assignments, arrival, closing, with who and when.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the versions', VersionsSchema),
          400: invalid,
          401: unauthorized,
          403: forbidden,
          404: unknown,
        },
      },
    },
    async (request) => {
      const history = registry.history('incident', request.params.id);
      if (history.length === 0) notFound('incident', request.params.id);
      return versionsOf('incident', request.params.id, history, (e) => incidentDto(e));
    },
  );

  app.post(
    '/incidents/:id/assign',
    {
      config: write('assign'),
      schema: {
        summary: 'Assign an incident to a unit',
        description:
          'A new version naming the unit, assigned now; the unit is no longer `available` to dispatch until ' +
          'the incident closes, and its arrival (first fix within the radius) is recorded. A body camera ' +
          'assigned is judged by NOT_RECORDING on the incident policy (`notRecordingIncidentMinMs`). ' +
          'Reassigning replaces the unit and its arrival.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        body: AssignSchema,
        response: decisionResponses('the new version'),
      },
    },
    async (request) => {
      const { unit, version } = request.body;
      return incidentDto(
        attempt(() => desk.assign(request.params.id, unit, request.principal.keyId, version)),
      );
    },
  );

  app.post(
    '/incidents/:id/close',
    {
      config: write('close'),
      schema: {
        summary: 'Close an incident',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        body: CloseSchema,
        response: decisionResponses('the closed version'),
      },
    },
    async (request) => {
      const { version } = request.body;
      return incidentDto(attempt(() => desk.close(request.params.id, request.principal.keyId, version)));
    },
  );
};
