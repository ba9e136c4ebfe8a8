import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ModelMappingSchema } from '../registry/device-models.ts';
import { RegistryConflictError } from '../registry/sqlite.ts';
import type { Registry } from '../registry/types.ts';
import { byIdKey, pageQueryFields, paginate } from './paging.ts';
import { checkBodyId, conflict, replyCreated, unknownResource } from './resource-kit.ts';
import { registryRouteOptions } from './resource-route-options.ts';

/**
 * Device models: the vendor mapping of a JT/T 808 terminal model (registry/device-models.ts), i.e. where
 * it reports its cover, tipper and load weight. The city maintains them (admin); every key may read
 * them (they hold no firm's data). A device names its model in `jt808.model`.
 */

const DeviceModelListQuery = z.strictObject(pageQueryFields);

export interface DeviceModelRoutesOptions {
  registry: Pick<Registry, 'deviceModel' | 'deviceModelIds' | 'putDeviceModel' | 'deleteDeviceModel'>;
}

export const deviceModelRoutes: FastifyPluginAsyncZod<DeviceModelRoutesOptions> = async (
  app,
  { registry },
) => {
  const routes = registryRouteOptions({
    noun: 'device model',
    plural: 'device models',
    schema: ModelMappingSchema,
    listId: 'DeviceModelList',
    unknown: 'unknown device model',
    write: { scope: 'registry:write', roles: ['admin'] },
    audit: 'device_model',
  });
  const read = (id: string) => {
    const stored = registry.deviceModel(id);
    if (stored === undefined) return undefined;
    const parsed = ModelMappingSchema.safeParse(stored);
    return parsed.success ? parsed.data : undefined;
  };
  const get = (id: string) => {
    const model = read(id);
    if (model === undefined) throw unknownResource('device model', id);
    return model;
  };

  app.post(
    '/device-models',
    routes.create({
      summary: 'Create a device model',
      description:
        'The vendor mapping of a JT/T 808 terminal model: which status bit or additional item carries the ' +
        'cover, the tipper and the weight. Admin only.',
      body: ModelMappingSchema,
      conflict: 'a device model with this id exists',
    }),
    async (request, reply) => {
      const model = request.body;
      if (registry.deviceModel(model.id) !== undefined) {
        throw conflict(`device model ${JSON.stringify(model.id)} exists`);
      }
      registry.putDeviceModel(model.id, model);
      replyCreated(request, reply, model.id);
      return model;
    },
  );

  app.get(
    '/device-models',
    routes.list({
      summary: 'List device models',
      description: 'Ordered by id. With `limit` or `cursor` in pages (`nextCursor`).',
      querystring: DeviceModelListQuery,
    }),
    async (request) => {
      const models = registry.deviceModelIds().flatMap((id) => read(id) ?? []);
      return paginate(models, byIdKey, request.query);
    },
  );

  app.get('/device-models/:id', routes.get({ summary: 'Get a device model' }), async (request) =>
    get(request.params.id),
  );

  app.put(
    '/device-models/:id',
    routes.replace({
      summary: 'Replace a device model',
      description: 'Takes effect for the next location of every device of the model. Admin only.',
      body: ModelMappingSchema,
    }),
    async (request) => {
      const { id } = request.params;
      get(id);
      checkBodyId(request.body.id, id);
      registry.putDeviceModel(id, request.body);
      return request.body;
    },
  );

  app.delete(
    '/device-models/:id',
    routes.remove({
      summary: 'Delete a device model',
      description: 'Refused (409) while a device names it.',
      conflict: 'a device names this model',
    }),
    async (request) => {
      const model = get(request.params.id);
      try {
        registry.deleteDeviceModel(model.id);
      } catch (err) {
        if (err instanceof RegistryConflictError) throw conflict(err.message);
        throw err;
      }
      return model;
    },
  );
};
