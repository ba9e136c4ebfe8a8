import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OfficerFields } from '../registry/model/fleet.ts';
import type { Officer, Registry } from '../registry/types.ts';
import { pageQueryFields } from './paging.ts';
import {
  checkBodyId,
  conflict,
  firmOwnedBodySchemas,
  firmPage,
  owningFirm,
  replyCreated,
} from './resource-kit.ts';
import { registryRouteOptions } from './resource-route-options.ts';

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

/** The registry's officer (registry/model/fleet.ts). */
const { create: OfficerCreateSchema, replace: OfficerUpdateSchema } = firmOwnedBodySchemas(
  OfficerFields,
  'department',
);
const OfficersQuerySchema = z.strictObject({
  firm: z.string().min(1).max(128).optional().describe('only officers of this department'),
  ...pageQueryFields,
});

export interface OfficerRoutesOptions {
  registry: Pick<Registry, 'firm' | 'officer' | 'officers' | 'upsertOfficer' | 'deleteOfficer'>;
}

export const officerRoutes: FastifyPluginAsyncZod<OfficerRoutesOptions> = async (app, { registry }) => {
  const routes = registryRouteOptions({
    noun: 'officer',
    plural: 'officers',
    schema: OfficerSchema,
    listId: 'OfficerList',
    write: { scope: 'registry:write', roles: ['admin', 'firm'] },
    audit: 'officer',
  });
  const dto = (o: Officer) => ({ id: o.id, name: o.name, firm: o.firm });

  app.post(
    '/officers',
    routes.create({
      summary: 'Register an officer',
      body: OfficerCreateSchema,
      conflict: 'an officer with this id exists',
    }),
    async (request, reply) => {
      const { id, name, firm: asked } = request.body;
      const firm = owningFirm(request, registry, asked);
      if (registry.officer(id) !== undefined) throw conflict(`officer ${JSON.stringify(id)} exists`);
      registry.upsertOfficer({ id, name, firm });
      replyCreated(request, reply, id);
      return { id, name, firm };
    },
  );

  app.get(
    '/officers',
    routes.list({
      summary: 'List officers',
      description:
        'Ordered by id. A firm key sees only its own. With `limit` or `cursor` in pages (`nextCursor`).',
      querystring: OfficersQuerySchema,
    }),
    async (request) => firmPage(request.principal, request.query, registry.officers(), dto),
  );

  app.get('/officers/:id', routes.get({ summary: 'Get an officer' }), async (request) => {
    const { id } = request.params;
    return dto(routes.found(request.principal, id, registry.officer(id)));
  });

  app.put(
    '/officers/:id',
    routes.replace({ summary: 'Change an officer', body: OfficerUpdateSchema }),
    async (request) => {
      const { id } = request.params;
      const current = routes.found(request.principal, id, registry.officer(id));
      const { id: bodyId, name, firm: asked } = request.body;
      checkBodyId(bodyId, id);
      const firm = owningFirm(request, registry, asked ?? current.firm);
      registry.upsertOfficer({ id, name, firm });
      return { id, name, firm };
    },
  );

  app.delete(
    '/officers/:id',
    routes.remove({
      summary: 'Delete an officer',
      description: 'Body cameras issued to the officer keep the id in their history.',
    }),
    async (request) => {
      const { id } = request.params;
      const officer = routes.found(request.principal, id, registry.officer(id));
      registry.deleteOfficer(officer.id);
      return dto(officer);
    },
  );
};
