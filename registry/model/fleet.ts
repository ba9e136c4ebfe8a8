import { z } from 'zod';
import { UNIT_KINDS } from '../../core/fix.ts';
import { IdReferenceSchema } from '../ids.ts';

/**
 * The device registry's entities as zod schemas, declared once: the registry (registry/sqlite/) validates
 * every write with them, and the API (api/firms.ts, vehicles.ts, officers.ts, devices.ts) builds its
 * request bodies and OpenAPI document from the same fields. An entity's id is not here: a new one
 * follows the grammar, an existing one may predate it (registry/ids.ts checkNewId).
 */

export const VEHICLE_KINDS = ['muck_truck', 'sanitation'] as const;

/** Default nominal report interval of a device, seconds. */
export const DEFAULT_REPORT_INTERVAL_S = 30;

export const FirmFields = {
  name: z.string().trim().min(1).max(200).describe('registered name, e.g. 合肥甲运输有限公司'),
};

export const VehicleFields = {
  plate: z.string().trim().min(1).max(32).describe('licence plate, e.g. 皖A·12345'),
  kind: z.enum(VEHICLE_KINDS),
  firm: IdReferenceSchema.describe('owning firm id'),
  ratedLoadT: z.number().positive().max(200).optional().describe('rated load, tonnes (OVERLOAD)'),
};

export const OfficerFields = {
  name: z.string().trim().min(1).max(100),
  firm: IdReferenceSchema.describe('the department (a firm id) the officer belongs to'),
};

export const Jt808BindingSchema = z
  .strictObject({
    phone: z
      .string()
      .regex(/^\d{1,20}$/, '1-20 digits')
      .describe(
        'terminal phone number (终端手机号, the SIM number in every JT/T 808 header); leading zeros are dropped',
      ),
    terminalId: z
      .string()
      .regex(/^[\x21-\x7e]{1,30}$/, '1-30 printable ASCII characters')
      .optional()
      .describe('terminal id of its 0x0100 registration (终端 ID); any is accepted when absent'),
    model: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('device model whose vendor mapping reads cover, tipper and weight (GET /device-models)'),
  })
  .meta({ id: 'Jt808Binding' });

export const ReportIntervalSchema = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .describe('nominal report interval, s (OFFLINE waits 3x this)');

/** A device as provisioned (its secret apart: the registry hashes it, the API generates it). */
export const DeviceFields = {
  kind: z.enum(UNIT_KINDS),
  vehicle: IdReferenceSchema.optional().describe('the vehicle it is mounted on (not for body cameras)'),
  firm: IdReferenceSchema.describe('body cameras: the department; vehicle terminals take the vehicle’s firm'),
  officer: IdReferenceSchema.optional().describe('body cameras: the officer it is issued to'),
  reportIntervalS: ReportIntervalSchema.optional().describe(`default ${DEFAULT_REPORT_INTERVAL_S}`),
  jt808: Jt808BindingSchema.optional().describe(
    'a JT/T 808 terminal: its phone number (and terminal id, model); its authentication code is the secret',
  ),
};

/** A body camera is its own unit; a vehicle terminal is mounted on a vehicle. */
export function checkDeviceMount(
  device: { kind: (typeof UNIT_KINDS)[number]; vehicle?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (device.kind === 'body_camera' && device.vehicle !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['vehicle'], message: 'a body camera is not mounted on a vehicle' });
  } else if (device.kind !== 'body_camera' && device.vehicle === undefined) {
    ctx.addIssue({ code: 'custom', path: ['vehicle'], message: `required for a ${device.kind} terminal` });
  }
}

/** The changes of a device that keep its secret (null: no officer). */
export const DeviceChangeFields = {
  officer: DeviceFields.officer.unwrap().nullable().optional().describe('null: issued to nobody'),
  reportIntervalS: ReportIntervalSchema.optional(),
};

export const FirmSchema = z.object(FirmFields);
export const VehicleSchema = z.object(VehicleFields);
export const OfficerSchema = z.object(OfficerFields);
export const NewDeviceSchema = z.object(DeviceFields).superRefine(checkDeviceMount);
export const DeviceChangeSchema = z.object(DeviceChangeFields);
