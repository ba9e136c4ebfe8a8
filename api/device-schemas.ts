import { z } from 'zod';
import { UNIT_KINDS } from '../core/fix.ts';
import { EntityIdSchema } from '../registry/ids.ts';
import {
  checkDeviceMount,
  DeviceChangeFields,
  DeviceFields,
  Jt808BindingSchema,
} from '../registry/model/fleet.ts';
import { pageQueryFields } from './paging.ts';

/**
 * The zod schemas of /devices (api/devices.ts). A device's fields and rules are the registry's own
 * (registry/model/fleet.ts): declared once, validated the same way here and in the registry.
 */

const DeviceIdSchema = EntityIdSchema.describe(
  'device id, the MQTT username (e.g. the terminal serial number): the id grammar of every entity',
);

export const DeviceSchema = z
  .object({
    id: z.string().describe('device id = MQTT username'),
    kind: z.enum(UNIT_KINDS),
    unit: z.string().describe('what its fixes are filed under: the vehicle id, or the camera’s own id'),
    firm: z.string(),
    officer: z.string().optional().describe('body cameras: the officer it is issued to'),
    reportIntervalS: z.number().int().describe('nominal report interval, s (OFFLINE waits 3x this)'),
    enabled: z.boolean().describe('false: its MQTT connections are refused (CONNACK 5)'),
    jt808: Jt808BindingSchema.optional().describe('set for a JT/T 808 terminal: how the gateway binds it'),
    telemetryTopic: z.string().describe('where it publishes its fixes'),
  })
  .meta({ id: 'Device' });

const CredentialsSchema = z
  .object({
    username: z.string().describe('MQTT username (the device id)'),
    password: z.string().describe('MQTT password: shown this once, stored only as a hash'),
  })
  .meta({ id: 'DeviceCredentials' });

export const ProvisionedSchema = z
  .object({ device: DeviceSchema, credentials: CredentialsSchema })
  .meta({ id: 'ProvisionedDevice' });

export const DeviceCreateSchema = z
  .strictObject({
    id: DeviceIdSchema.optional().describe('device id; generated when omitted'),
    ...DeviceFields,
    firm: DeviceFields.firm.optional(),
    secret: z
      .string()
      .min(16)
      .max(256)
      .optional()
      .describe(
        'the MQTT password, for terminals that ship with one (at least 16 characters); omit to have a random one generated (recommended)',
      ),
  })
  .superRefine(checkDeviceMount);

export const DevicePatchSchema = z.strictObject({
  enabled: z.boolean().optional().describe('false refuses its MQTT connections and ends the open ones'),
  ...DeviceChangeFields,
  jt808: Jt808BindingSchema.nullable().optional().describe('null: no longer a JT/T 808 terminal'),
});

export const DevicesQuerySchema = z.strictObject({
  firm: z.string().min(1).max(128).optional(),
  vehicle: z.string().min(1).max(128).optional().describe('only devices mounted on this vehicle'),
  kind: z.enum(UNIT_KINDS).optional(),
  enabled: z.enum(['true', 'false']).optional(),
  ...pageQueryFields,
});
