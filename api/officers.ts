import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Officer, Registry } from '../registry/types.ts';
import { bearerSecurity } from './auth.ts';
import { byIdKey, pageQueryFields, paginate } from './paging.ts';
import { listFirm, visible } from './principal.ts';
import {
  ACCESS_RESPONSES,
  conflict,
  fieldProblem,
  IdParamsSchema,
  listSchema,
  owningFirm,
  ResourceIdSchema,
  unknownResource,
} from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Officers (城管 staff) who wear body cameras. They belong to a department, which the registry models as
 * a firm, so a department's firm key manages its own officers like a transport firm its vehicles.
 */

export const OfficerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    firm: z.string().describe('the department (a firm id) the officer belongs to'),
  })
  .meta({ id: 'Officer' });

const fields = {
  name: z.string().trim().min(1).max(100),
  firm: ResourceIdSchema.optional().describe(
    'department; a firm key may omit it (its own) or name only its own',
  ),
};
const OfficerCreateSchema = z.strictObject({ id: ResourceIdSchema, ...fields });
const OfficerUpdateSchema = z.strictObject({
  id: z.string().optional().describe('when given, must equal the URL id'),
  ...fields,
});
const OfficersQuerySchema = z.strictObject({
  firm: z.string().min(1).max(128).optional().describe('only officers of this department'),
  ...pageQueryFields,
});

export interface OfficerRoutesOptions {
  registry: Pick<Registry, 'firm' | 'officer' | 'officers' | 'upsertOfficer' | 'deleteOfficer'>;
}

export const officerRoutes: FastifyPluginAsyncZod<OfficerRoutesOptions> = async (app, { registry }) => {
  const tags = ['registry'];
  const invalid = problemResponse('invalid body or query: every field at fault is named');
  const unknown = problemResponse('unknown officer (or another firm’s, for a firm key)');
  const dto = (o: Officer) => ({ id: o.id, name: o.name, firm: o.firm });

  app.post(
    '/officers',
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Register an officer',
        tags,
        security: bearerSecurity,
        body: OfficerCreateSchema,
        response: {
          201: jsonResponse('the officer', OfficerSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          409: problemResponse('an officer with this id exists'),
        },
      },
    },
    async (request, reply) => {
      const { id, name, firm: asked } = request.body;
      const firm = owningFirm(request, registry, asked);
      if (registry.officer(id) !== undefined) throw conflict(`officer ${JSON.stringify(id)} exists`);
      registry.upsertOfficer({ id, name, firm });
      reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(id)}`);
      return { id, name, firm };
    },
  );

  app.get(
    '/officers',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'List officers',
        description:
          'Ordered by id. A firm key sees only its own. With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: OfficersQuerySchema,
        response: {
          200: jsonResponse('officers', listSchema(OfficerSchema, 'OfficerList')),
          400: invalid,
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request) => {
      const firm = listFirm(request.principal, request.query.firm);
      if (firm === null) return { items: [], count: 0 };
      const page = paginate(
        registry.officers().filter((o) => firm === undefined || o.firm === firm),
        byIdKey,
        request.query,
      );
      return { ...page, items: page.items.map(dto) };
    },
  );

  app.get(
    '/officers/:id',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'Get an officer',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the officer', OfficerSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const officer = visible(request.principal, registry.officer(request.params.id));
      if (officer === undefined) throw unknownResource('officer', request.params.id);
      return dto(officer);
    },
  );

  app.put(
    '/officers/:id',
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Change an officer',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: OfficerUpdateSchema,
        response: {
          200: jsonResponse('the officer', OfficerSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const current = visible(request.principal, registry.officer(id));
      if (current === undefined) throw unknownResource('officer', id);
      const { id: bodyId, name, firm: asked } = request.body;
      if (bodyId !== undefined && bodyId !== id) {
        throw fieldProblem('/id', `does not match the URL id ${JSON.stringify(id)}`);
      }
      const firm = owningFirm(request, registry, asked ?? current.firm);
      registry.upsertOfficer({ id, name, firm });
      return { id, name, firm };
    },
  );

  app.delete(
    '/officers/:id',
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Delete an officer',
        description: 'Body cameras issued to the officer keep the id in their history.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the deleted officer', OfficerSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const officer = visible(request.principal, registry.officer(request.params.id));
      if (officer === undefined) throw unknownResource('officer', request.params.id);
      registry.deleteOfficer(officer.id);
      return dto(officer);
    },
  );
};
