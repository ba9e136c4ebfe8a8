import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RegistryConflictError } from '../registry/sqlite.ts';
import type { Registry, Vehicle } from '../registry/types.ts';
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
 * Vehicles (muck trucks and sanitation vehicles). Admins manage every firm's; a firm key registers,
 * changes and deletes its own (the domain's firms "register their trucks and devices"); monitors read.
 */

const VEHICLE_KINDS = ['muck_truck', 'sanitation'] as const;

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

const fields = {
  plate: z.string().trim().min(1).max(32),
  kind: z.enum(VEHICLE_KINDS),
  firm: ResourceIdSchema.optional().describe(
    'owning firm; a firm key may omit it (its own) or name only its own',
  ),
  ratedLoadT: z.number().positive().max(200).optional().describe('tonnes'),
};
const VehicleCreateSchema = z.strictObject({ id: ResourceIdSchema, ...fields });
const VehicleUpdateSchema = z.strictObject({
  id: z.string().optional().describe('when given, must equal the URL id'),
  ...fields,
});
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
  const tags = ['registry'];
  const invalid = problemResponse('invalid body or query: every field at fault is named');
  const unknown = problemResponse('unknown vehicle (or another firm’s, for a firm key)');
  const dto = (v: Vehicle) => ({ ...v, devices: registry.devicesOfUnit(v.id).sort() });

  app.post(
    '/vehicles',
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Register a vehicle',
        description: 'Vehicle ids are global: an id in use answers 409, whichever firm has it.',
        tags,
        security: bearerSecurity,
        body: VehicleCreateSchema,
        response: {
          201: jsonResponse('the vehicle', VehicleSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          409: problemResponse('a vehicle with this id exists'),
        },
      },
    },
    async (request, reply) => {
      const { id, firm: asked, ...rest } = request.body;
      const firm = owningFirm(request, registry, asked);
      if (registry.vehicle(id) !== undefined) throw conflict(`vehicle ${JSON.stringify(id)} exists`);
      const vehicle: Vehicle = { id, firm, ...rest };
      registry.upsertVehicle(vehicle);
      changed();
      reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(id)}`);
      return dto(registry.vehicle(id)!);
    },
  );

  app.get(
    '/vehicles',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'List vehicles',
        description:
          'Ordered by id; filters combine with AND. A firm key sees only its own. With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: VehiclesQuerySchema,
        response: {
          200: jsonResponse('vehicles', listSchema(VehicleSchema, 'VehicleList')),
          400: invalid,
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request) => {
      const firm = listFirm(request.principal, request.query.firm);
      const { kind } = request.query;
      if (firm === null) return { items: [], count: 0 };
      const page = paginate(
        registry
          .vehicles()
          .filter((v) => (firm === undefined || v.firm === firm) && (kind === undefined || v.kind === kind)),
        byIdKey,
        request.query,
      );
      // Devices are looked up for this page's vehicles only.
      return { ...page, items: page.items.map(dto) };
    },
  );

  app.get(
    '/vehicles/:id',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'Get a vehicle',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the vehicle', VehicleSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const vehicle = visible(request.principal, registry.vehicle(request.params.id));
      if (vehicle === undefined) throw unknownResource('vehicle', request.params.id);
      return dto(vehicle);
    },
  );

  app.put(
    '/vehicles/:id',
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Change a vehicle',
        description:
          'Replaces plate, kind, firm and rated load. Kind and firm cannot change while devices are mounted ' +
          '(409): their fixes are filed by kind and firm.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: VehicleUpdateSchema,
        response: {
          200: jsonResponse('the vehicle', VehicleSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
          409: problemResponse('kind or firm change while devices are mounted'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const current = visible(request.principal, registry.vehicle(id));
      if (current === undefined) throw unknownResource('vehicle', id);
      const { id: bodyId, firm: asked, ...rest } = request.body;
      if (bodyId !== undefined && bodyId !== id) {
        throw fieldProblem('/id', `does not match the URL id ${JSON.stringify(id)}`);
      }
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
    {
      config: { scope: 'registry:write', roles: ['admin', 'firm'] },
      schema: {
        summary: 'Delete a vehicle',
        description: 'Refused (409) while a device is mounted on it. Its stored fixes and violations stay.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the deleted vehicle', VehicleSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
          409: problemResponse('devices are mounted on it'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const vehicle = visible(request.principal, registry.vehicle(id));
      if (vehicle === undefined) throw unknownResource('vehicle', id);
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
