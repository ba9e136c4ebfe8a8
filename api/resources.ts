import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from '../registry/types.ts';
import { type DeviceCommands, deviceCommandRoutes } from './device-commands.ts';
import { deviceModelRoutes } from './device-models.ts';
import { deviceRoutes } from './devices.ts';
import { firmRoutes } from './firms.ts';
import { officerRoutes } from './officers.ts';
import { vehicleRoutes } from './vehicles.ts';

export interface ResourceRoutesOptions {
  /** the writable device registry (registry/sqlite.ts) */
  registry: Registry;
  /** ends a device's open MQTT connections (the embedded broker's; none when the broker runs elsewhere) */
  dropSessions?: (deviceId: string) => void;
  /** after a change of vehicles or devices (the compliance engine recompiles its world) */
  onChange?: () => void;
  /** commands to JT/T 808 terminals (the gateway's); absent when it is off */
  jt808Commands?: DeviceCommands;
}

/** /firms, /vehicles, /officers and /devices. Register inside the scope guarded by `bearerAuth`. */
export const resourceRoutes: FastifyPluginAsync<ResourceRoutesOptions> = async (app, options) => {
  const { registry, dropSessions, onChange } = options;
  await app.register(firmRoutes, { registry });
  await app.register(vehicleRoutes, { registry, ...(onChange ? { onChange } : {}) });
  await app.register(officerRoutes, { registry });
  await app.register(deviceModelRoutes, { registry });
  await app.register(deviceCommandRoutes, {
    registry,
    ...(options.jt808Commands ? { commands: options.jt808Commands } : {}),
  });
  await app.register(deviceRoutes, {
    registry,
    ...(dropSessions ? { dropSessions } : {}),
    ...(onChange ? { onChange } : {}),
  });
};
