import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VEHICLE_KINDS, VehicleFields } from '../registry/model/fleet.ts';
import { RegistryConflictError } from '../registry/sqlite.ts';
import type { Registry, Vehicle } from '../registry/types.ts';
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
 * Vehicles (muck trucks and sanitation vehicles). Admins manage every firm's; a firm key registers,
 * changes and deletes its own (the domain's firms "register their trucks and devices"); monitors read.
 */

export const VehicleSchema = z
  .object({
    id: z.string(),
    plate: z.string().describe('licence plate, e.g. 皖A·12345'),
    kind: z.enum(VEHICLE_KINDS),
    firm: z.string().describe('owning firm id'),
    ratedLoadT: z.number().optional().describe('rated load, tonnes (OVERLOAD)'),
    devices: z.array(z.string()).describe('ids of the devices mounted on it'),
  })
  .meta({ id: 'Vehicle' });

/** The registry's vehicle (registry/model/fleet.ts). */
const { create: VehicleCreateSchema, replace: VehicleUpdateSchema } = firmOwnedBodySchemas(
  VehicleFields,
  'owning firm',
);
const VehiclesQuerySchema = z.strictObject({
  firm: z.string().min(1).max(128).optional().describe('only vehicles of this firm'),
  kind: z.enum(VEHICLE_KINDS).optional(),
  ...pageQueryFields,
});

export interface VehicleRoutesOptions {
  registry: Pick<
    Registry,
    'firm' | 'vehicle' | 'vehicles' | 'upsertVehicle' | 'deleteVehicle' | 'devicesOfUnit' | 'device'
  >;
  /** after every change (the compliance engine recompiles its world: rated loads, firms) */
  onChange?: () => void;
}

export const vehicleRoutes: FastifyPluginAsyncZod<VehicleRoutesOptions> = async (app, options) => {
  const { registry } = options;
  const changed = () => options.onChange?.();
  const routes = registryRouteOptions({
    noun: 'vehicle',
    plural: 'vehicles',
    schema: VehicleSchema,
    listId: 'VehicleList',
    write: { scope: 'registry:write', roles: ['admin', 'firm'] },
    audit: 'vehicle',
  });
  const dto = (v: Vehicle) => ({ ...v, devices: registry.devicesOfUnit(v.id).sort() });

  app.post(
    '/vehicles',
    routes.create({
      summary: 'Register a vehicle',
      description: 'Vehicle ids are global: an id in use answers 409, whichever firm has it.',
      body: VehicleCreateSchema,
      conflict: 'a vehicle with this id exists',
    }),
    async (request, reply) => {
      const { id, firm: asked, ...rest } = request.body;
      const firm = owningFirm(request, registry, asked);
      if (registry.vehicle(id) !== undefined) throw conflict(`vehicle ${JSON.stringify(id)} exists`);
      const vehicle: Vehicle = { id, firm, ...rest };
      registry.upsertVehicle(vehicle);
      changed();
      replyCreated(request, reply, id);
      return dto(registry.vehicle(id)!);
    },
  );

  app.get(
    '/vehicles',
    routes.list({
      summary: 'List vehicles',
      description:
        'Ordered by id; filters combine with AND. A firm key sees only its own. With `limit` or `cursor` in pages (`nextCursor`).',
      querystring: VehiclesQuerySchema,
    }),
    async (request) => {
      const { kind } = request.query;
      // Devices are looked up for this page's vehicles only (firmPage maps after paging).
      return firmPage(
        request.principal,
        request.query,
        registry.vehicles(),
        dto,
        (v) => kind === undefined || v.kind === kind,
      );
    },
  );

  app.get('/vehicles/:id', routes.get({ summary: 'Get a vehicle' }), async (request) => {
    const { id } = request.params;
    return dto(routes.found(request.principal, id, registry.vehicle(id)));
  });

  app.put(
    '/vehicles/:id',
    routes.replace({
      summary: 'Change a vehicle',
      description:
        'Replaces plate, kind, firm and rated load. Kind and firm cannot change while devices are mounted ' +
        '(409): their fixes are filed by kind and firm.',
      body: VehicleUpdateSchema,
      conflict: 'kind or firm change while devices are mounted',
    }),
    async (request) => {
      const { id } = request.params;
      const current = routes.found(request.principal, id, registry.vehicle(id));
      const { id: bodyId, firm: asked, ...rest } = request.body;
      checkBodyId(bodyId, id);
      const firm = owningFirm(request, registry, asked ?? current.firm);
      const mounted = registry.devicesOfUnit(id);
      if (mounted.length > 0 && (firm !== current.firm || rest.kind !== current.kind)) {
        throw conflict(`vehicle ${id} carries device(s) ${mounted.join(', ')}: move or delete them first`);
      }
      registry.upsertVehicle({ id, firm, ...rest });
      changed();
      return dto(registry.vehicle(id)!);
    },
  );

  app.delete(
    '/vehicles/:id',
    routes.remove({
      summary: 'Delete a vehicle',
      description: 'Refused (409) while a device is mounted on it. Its stored fixes and violations stay.',
      conflict: 'devices are mounted on it',
    }),
    async (request) => {
      const { id } = request.params;
      const vehicle = routes.found(request.principal, id, registry.vehicle(id));
      const deleted = dto(vehicle);
      try {
        registry.deleteVehicle(id);
      } catch (err) {
        if (err instanceof RegistryConflictError) throw conflict(`${err.message}: delete them first`);
        throw err;
      }
      changed();
      return deleted;
    },
  );
};
