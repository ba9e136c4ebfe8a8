import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { HashingBusyError } from '../registry/hash-gate.ts';
import type { Jt808BindingSchema } from '../registry/model/fleet.ts';
import { RegistryConflictError } from '../registry/sqlite.ts';
import type { Device, NewDevice, Registry } from '../registry/types.ts';
import { bearerSecurity } from './auth.ts';
import {
  DeviceCreateSchema,
  DevicePatchSchema,
  DeviceSchema,
  DevicesQuerySchema,
  ProvisionedSchema,
} from './device-schemas.ts';
import { type Principal, visible } from './principal.ts';
import { HttpProblem } from './problem.ts';
import {
  ACCESS_RESPONSES,
  conflict,
  fieldProblem,
  firmPage,
  IdParamsSchema,
  owningFirm,
  replyCreated,
} from './resource-kit.ts';
import { registryRouteOptions } from './resource-route-options.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Devices (vehicle terminals and body cameras) and their MQTT credentials. Provisioning generates the
 * secret (the MQTT password) and returns it once; only its scrypt hash is stored, so a lost secret is
 * replaced by rotating it, never read back. Rotating, disabling and deleting end the device's open MQTT
 * connections (`dropSessions`), since the broker checks credentials only when a device connects.
 */

/** 24 random bytes: 192 bits, 32 base64url characters, easy to type into a terminal's config. */
const SECRET_BYTES = 24;
const newSecret = () => randomBytes(SECRET_BYTES).toString('base64url');

/**
 * A secret is hashed through the process's bounded hashing queue (registry/hash-gate.ts); when a login
 * flood has filled it, the request is a 503 to retry, not a 500.
 */
async function whenHashed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof HashingBusyError)) throw err;
    throw new HttpProblem({
      status: 503,
      detail: 'Secret hashing is busy (too many MQTT logins being checked); try again in a few seconds.',
      headers: { 'retry-after': '5' },
      cause: err,
    });
  }
}

export interface DeviceRoutesOptions {
  registry: Pick<
    Registry,
    | 'firm'
    | 'vehicle'
    | 'officer'
    | 'device'
    | 'devices'
    | 'putDevice'
    | 'setDeviceEnabled'
    | 'setDeviceSecret'
    | 'updateDevice'
    | 'deleteDevice'
    | 'setJt808Binding'
    | 'deviceByJt808Phone'
    | 'deviceModel'
  >;
  /** ends the device's open MQTT connections (after a rotation, a disable or a delete) */
  dropSessions?: (deviceId: string) => void;
  /** after every change (the compliance engine recompiles: report intervals drive OFFLINE) */
  onChange?: () => void;
}

export const deviceRoutes: FastifyPluginAsyncZod<DeviceRoutesOptions> = async (app, options) => {
  const { registry } = options;
  const changed = () => options.onChange?.();
  const drop = (id: string) => options.dropSessions?.(id);
  const routes = registryRouteOptions({
    noun: 'device',
    plural: 'devices',
    schema: DeviceSchema,
    listId: 'DeviceList',
    write: { scope: 'devices:write', roles: ['admin', 'firm'] },
    audit: 'device',
  });
  // Provisioning, PATCH and rotation answer differently from the shared shapes: declared here.
  const tags = ['registry'];
  const { invalid, unknown } = routes;
  const dto = (d: Device) => ({ ...d, telemetryTopic: `devices/${d.id}/telemetry` });
  const find = (principal: Principal, id: string) => routes.found(principal, id, registry.device(id));

  /** A JT/T 808 binding's phone must be free and its model known (400 naming the field, 409 for the phone). */
  const checkJt808 = (id: string, jt808: z.infer<typeof Jt808BindingSchema> | null | undefined) => {
    if (jt808 === undefined || jt808 === null) return;
    const other = registry.deviceByJt808Phone(jt808.phone);
    if (other !== undefined && other.id !== id)
      throw conflict(`jt808 phone ${jt808.phone} is bound to another device`);
    if (jt808.model !== undefined && registry.deviceModel(jt808.model) === undefined) {
      throw fieldProblem('/jt808/model', `unknown device model ${JSON.stringify(jt808.model)}`);
    }
  };

  /** The officer must exist and belong to the device's firm (another firm's is unknown, as always). */
  const checkOfficer = (officer: string | null | undefined, firm: string) => {
    if (officer === undefined || officer === null) return;
    if (registry.officer(officer)?.firm !== firm) {
      throw fieldProblem(
        '/officer',
        `unknown officer ${JSON.stringify(officer)} of firm ${JSON.stringify(firm)}`,
      );
    }
  };

  app.post(
    '/devices',
    {
      config: { scope: 'devices:write', roles: ['admin', 'firm'], audit: { entity: 'device' } },
      schema: {
        summary: 'Provision a device',
        description:
          'Registers a vehicle terminal (on a vehicle of the key’s firm) or a body camera and generates its ' +
          'MQTT password, returned in this answer only.',
        tags,
        security: bearerSecurity,
        body: DeviceCreateSchema,
        response: {
          201: jsonResponse('the device and its MQTT credentials (shown once)', ProvisionedSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          409: problemResponse('a device with this id exists'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const id = body.id ?? `dev-${randomBytes(6).toString('hex')}`;
      let firm: string;
      let vehicle: string | undefined;
      // a body camera on a vehicle, a terminal without one: refused by the schema (checkDeviceMount)
      if (body.kind === 'body_camera' || body.vehicle === undefined) {
        firm = owningFirm(request, registry, body.firm);
      } else {
        const v = visible(request.principal, registry.vehicle(body.vehicle));
        if (v === undefined)
          throw fieldProblem('/vehicle', `unknown vehicle ${JSON.stringify(body.vehicle)}`);
        if (v.kind !== body.kind) throw fieldProblem('/kind', `vehicle ${v.id} is a ${v.kind}`);
        if (body.firm !== undefined && body.firm !== v.firm) {
          throw fieldProblem('/firm', `the device takes the firm of vehicle ${v.id}`);
        }
        firm = v.firm;
        vehicle = v.id;
      }
      checkOfficer(body.officer, firm);
      if (registry.device(id) !== undefined) throw conflict(`device ${JSON.stringify(id)} exists`);
      checkJt808(id, body.jt808);
      const secret = body.secret ?? newSecret();
      const input: NewDevice = { id, secret, kind: body.kind, firm };
      if (vehicle !== undefined) input.vehicle = vehicle;
      if (body.officer !== undefined) input.officer = body.officer;
      if (body.reportIntervalS !== undefined) input.reportIntervalS = body.reportIntervalS;
      if (body.jt808 !== undefined) input.jt808 = body.jt808;
      let device: Device;
      try {
        device = await whenHashed(() => registry.putDevice(input));
      } catch (err) {
        if (err instanceof RegistryConflictError) throw conflict(err.message);
        throw err;
      }
      changed();
      replyCreated(request, reply, id);
      return { device: dto(device), credentials: { username: id, password: secret } };
    },
  );

  app.get(
    '/devices',
    routes.list({
      summary: 'List devices',
      description:
        'Ordered by id; filters combine with AND. A firm key sees only its own. No secrets. With `limit` or `cursor` in pages (`nextCursor`).',
      querystring: DevicesQuerySchema,
    }),
    async (request) => {
      const q = request.query;
      const enabled = q.enabled === undefined ? undefined : q.enabled === 'true';
      return firmPage(
        request.principal,
        q,
        registry.devices(),
        dto,
        (d) =>
          (q.kind === undefined || d.kind === q.kind) &&
          (q.vehicle === undefined || (d.kind !== 'body_camera' && d.unit === q.vehicle)) &&
          (enabled === undefined || d.enabled === enabled),
      );
    },
  );

  app.get('/devices/:id', routes.get({ summary: 'Get a device' }), async (request) =>
    dto(find(request.principal, request.params.id)),
  );

  app.patch(
    '/devices/:id',
    {
      config: { scope: 'devices:write', roles: ['admin', 'firm'], audit: { entity: 'device' } },
      schema: {
        summary: 'Disable, enable or change a device',
        description:
          '`enabled: false` refuses its MQTT connections (CONNACK 5) and ends the open ones; its secret ' +
          'stays, so `enabled: true` lets it back in.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: DevicePatchSchema,
        response: {
          200: jsonResponse('the device', DeviceSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const device = find(request.principal, request.params.id);
      const { enabled, officer, reportIntervalS: interval, jt808 } = request.body;
      checkJt808(device.id, jt808);
      if (officer !== undefined && device.kind !== 'body_camera' && officer !== null) {
        throw fieldProblem('/officer', 'only body cameras are issued to officers');
      }
      checkOfficer(officer, device.firm);
      if (officer !== undefined || interval !== undefined) {
        registry.updateDevice(device.id, {
          ...(officer === undefined ? {} : { officer }),
          ...(interval === undefined ? {} : { reportIntervalS: interval }),
        });
      }
      if (jt808 !== undefined) {
        try {
          registry.setJt808Binding(device.id, jt808);
        } catch (err) {
          if (err instanceof RegistryConflictError) throw conflict(err.message);
          throw err;
        }
        // a connection bound under the old phone speaks for a terminal this device no longer is
        drop(device.id);
      }
      if (enabled !== undefined && enabled !== device.enabled) {
        registry.setDeviceEnabled(device.id, enabled);
        if (!enabled) drop(device.id);
      }
      changed();
      return dto(registry.device(device.id)!);
    },
  );

  app.post(
    '/devices/:id/rotate',
    {
      config: {
        scope: 'devices:write',
        roles: ['admin', 'firm'],
        audit: { entity: 'device', action: 'rotate' },
      },
      schema: {
        summary: 'Rotate a device’s secret',
        description:
          'Generates a new MQTT password, returned in this answer only. The old one stops working at once ' +
          'and the device’s open connections are ended. The enabled flag is kept. A JT/T 808 terminal ' +
          'may register (0x0100) again afterwards: its registration closes once it has authenticated.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the device and its new MQTT credentials (shown once)', ProvisionedSchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const device = find(request.principal, request.params.id);
      const secret = newSecret();
      await whenHashed(() => registry.setDeviceSecret(device.id, secret));
      drop(device.id);
      return {
        device: dto(registry.device(device.id)!),
        credentials: { username: device.id, password: secret },
      };
    },
  );

  app.delete(
    '/devices/:id',
    routes.remove({
      summary: 'Delete a device',
      description: 'Its MQTT connections end and are refused from then on; its stored fixes stay.',
    }),
    async (request) => {
      const device = find(request.principal, request.params.id);
      registry.deleteDevice(device.id);
      drop(device.id);
      changed();
      return dto(device);
    },
  );
};
