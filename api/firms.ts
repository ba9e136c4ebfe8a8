import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../registry/types.ts';
import { bearerSecurity } from './auth.ts';
import { byIdKey, pageQueryFields, paginate } from './paging.ts';
import { requireRole, visible, visibleFirm } from './principal.ts';
import {
  ACCESS_RESPONSES,
  conflict,
  fieldProblem,
  IdParamsSchema,
  listSchema,
  ResourceIdSchema,
  unknownResource,
} from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Transport firms, sanitation contractors and the departments that own body cameras. The city creates
 * them (admin); a firm key sees only its own firm.
 */

export const FirmSchema = z
  .object({
    id: z.string().describe('firm id'),
    name: z.string().describe('registered name, e.g. 合肥甲运输有限公司'),
  })
  .meta({ id: 'Firm' });

const FirmCreateSchema = z.strictObject({
  id: ResourceIdSchema.describe('firm id (an MQTT topic level of its alerts)'),
  name: z.string().trim().min(1).max(200),
});
const FirmsQuerySchema = z.strictObject(pageQueryFields);
const FirmUpdateSchema = z.strictObject({
  id: z.string().optional().describe('when given, must equal the URL id'),
  name: z.string().trim().min(1).max(200),
});

export interface FirmRoutesOptions {
  registry: Pick<Registry, 'firm' | 'firms' | 'upsertFirm'>;
}

export const firmRoutes: FastifyPluginAsyncZod<FirmRoutesOptions> = async (app, { registry }) => {
  const tags = ['registry'];
  const invalid = problemResponse('invalid body: every field at fault is named');
  const unknown = problemResponse('unknown firm (or another firm, for a firm key)');

  app.post(
    '/firms',
    {
      config: { scope: 'registry:write', roles: ['admin'] },
      schema: {
        summary: 'Create a firm',
        tags,
        security: bearerSecurity,
        body: FirmCreateSchema,
        response: {
          201: jsonResponse('the firm', FirmSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          409: problemResponse('a firm with this id exists'),
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.body;
      if (registry.firm(id) !== undefined) throw conflict(`firm ${JSON.stringify(id)} exists`);
      registry.upsertFirm({ id, name });
      reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(id)}`);
      return { id, name };
    },
  );

  app.get(
    '/firms',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'List firms',
        description:
          'Ordered by id. A firm key sees only its own firm. With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: FirmsQuerySchema,
        response: {
          200: jsonResponse('firms', listSchema(FirmSchema, 'FirmList')),
          400: invalid,
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request) => {
      const only = visibleFirm(request.principal);
      const firms = registry
        .firms()
        .filter((f) => only === undefined || f.id === only)
        .map(({ id, name }) => ({ id, name }));
      return paginate(firms, byIdKey, request.query);
    },
  );

  app.get(
    '/firms/:id',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'Get a firm',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the firm', FirmSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const firm = visible(request.principal, firmView(registry.firm(id)));
      if (firm === undefined) throw unknownResource('firm', id);
      return { id: firm.id, name: firm.name };
    },
  );

  app.put(
    '/firms/:id',
    {
      config: { scope: 'registry:write' },
      schema: {
        summary: 'Rename a firm',
        description: 'Admin only; a firm key gets 403 for its own firm and 404 for any other.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: FirmUpdateSchema,
        response: {
          200: jsonResponse('the firm', FirmSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      // Tenancy first: another firm's firm is a 404 before the role is even looked at.
      if (visible(request.principal, firmView(registry.firm(id))) === undefined)
        throw unknownResource('firm', id);
      requireRole(request, 'admin');
      if (request.body.id !== undefined && request.body.id !== id) {
        throw fieldProblem('/id', `does not match the URL id ${JSON.stringify(id)}`);
      }
      registry.upsertFirm({ id, name: request.body.name });
      return { id, name: request.body.name };
    },
  );
};

/** A firm owns itself: the tenancy helpers read `firm`. */
function firmView(firm: { id: string; name: string } | undefined) {
  return firm === undefined ? undefined : { ...firm, firm: firm.id };
}
