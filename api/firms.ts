import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FirmFields } from '../registry/model/fleet.ts';
import type { Registry } from '../registry/types.ts';
import { byIdKey, pageQueryFields, paginate } from './paging.ts';
import { requireRole, visibleFirm } from './principal.ts';
import { checkBodyId, conflict, ResourceIdSchema, replaceBodySchema, replyCreated } from './resource-kit.ts';
import { registryRouteOptions } from './resource-route-options.ts';

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
  ...FirmFields,
});
const FirmsQuerySchema = z.strictObject(pageQueryFields);
const FirmUpdateSchema = replaceBodySchema(FirmFields);

export interface FirmRoutesOptions {
  registry: Pick<Registry, 'firm' | 'firms' | 'upsertFirm'>;
}

export const firmRoutes: FastifyPluginAsyncZod<FirmRoutesOptions> = async (app, { registry }) => {
  const routes = registryRouteOptions({
    noun: 'firm',
    plural: 'firms',
    schema: FirmSchema,
    listId: 'FirmList',
    invalid: 'invalid body: every field at fault is named',
    unknown: 'unknown firm (or another firm, for a firm key)',
    // Only the city creates firms; renaming checks the role itself, after tenancy (see PUT).
    write: { scope: 'registry:write', roles: ['admin'] },
    audit: 'firm',
  });

  app.post(
    '/firms',
    routes.create({
      summary: 'Create a firm',
      body: FirmCreateSchema,
      conflict: 'a firm with this id exists',
    }),
    async (request, reply) => {
      const { id, name } = request.body;
      if (registry.firm(id) !== undefined) throw conflict(`firm ${JSON.stringify(id)} exists`);
      registry.upsertFirm({ id, name });
      replyCreated(request, reply, id);
      return { id, name };
    },
  );

  app.get(
    '/firms',
    routes.list({
      summary: 'List firms',
      description:
        'Ordered by id. A firm key sees only its own firm. With `limit` or `cursor` in pages (`nextCursor`).',
      querystring: FirmsQuerySchema,
    }),
    async (request) => {
      const only = visibleFirm(request.principal);
      const firms = registry
        .firms()
        .filter((f) => only === undefined || f.id === only)
        .map(({ id, name }) => ({ id, name }));
      return paginate(firms, byIdKey, request.query);
    },
  );

  app.get('/firms/:id', routes.get({ summary: 'Get a firm' }), async (request) => {
    const { id } = request.params;
    const firm = routes.found(request.principal, id, firmView(registry.firm(id)));
    return { id: firm.id, name: firm.name };
  });

  app.put(
    '/firms/:id',
    routes.replace({
      summary: 'Rename a firm',
      description: 'Admin only; a firm key gets 403 for its own firm and 404 for any other.',
      body: FirmUpdateSchema,
      access: { scope: 'registry:write' },
    }),
    async (request) => {
      const { id } = request.params;
      // Tenancy first: another firm's firm is a 404 before the role is even looked at.
      routes.found(request.principal, id, firmView(registry.firm(id)));
      requireRole(request, 'admin');
      checkBodyId(request.body.id, id);
      registry.upsertFirm({ id, name: request.body.name });
      return { id, name: request.body.name };
    },
  );
};

/** A firm owns itself: the tenancy helpers read `firm`. */
function firmView(firm: { id: string; name: string } | undefined) {
  return firm === undefined ? undefined : { ...firm, firm: firm.id };
}
