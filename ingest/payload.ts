import { z } from 'zod';
import { LOAD_STATES, SANITATION_TASKS, TERMINAL_ALARMS } from '../core/fix.ts';
import { EntityIdSchema } from '../registry/ids.ts';

/**
 * The device contract: the JSON a device publishes to `devices/{id}/telemetry`, one fix object or an
 * array of them. Documented in the README ("MQTT contract"); keep the two in step.
 *
 * Range checks on the coordinates are deliberately not part of this schema: out-of-range coordinates
 * are counted under their own rejection reason (`coordinates_out_of_range`), so the schema only checks
 * that they are finite numbers.
 */

/** `ts` as epoch milliseconds, or ISO-8601 with an explicit offset (a local time without one is ambiguous). */
export const timestampSchema = z.union([
  z.number().int().nonnegative(),
  z.iso.datetime({ offset: true, local: false }),
]);

const finite = z.number().finite();
/** largest horizontal accuracy a fix may declare, metres */
const ACCURACY_MAX_M = 100_000;

export const commonFixSchema = z.object({
  ts: timestampSchema,
  lat: finite,
  lon: finite,
  /** km/h */
  speed: finite.min(0).max(400).optional(),
  /** degrees, north 0 */
  heading: finite.min(0).max(360).optional(),
  /** metres */
  alt: finite.min(-1000).max(10000).optional(),
  sats: z.number().int().min(0).max(200).optional(),
  /** horizontal accuracy, metres */
  accuracy: finite.min(0).max(ACCURACY_MAX_M).optional(),
  /**
   * Ignition, as Chinese telematics names it: ACC on/off (JT/T 808 location report, status bit 0 "ACC");
   * the same as `ign`. A NUMBER here is the horizontal accuracy in metres under this contract's old name:
   * still read as `accuracy` for one release, and counted as deprecated (decode.ts).
   */
  acc: z
    .union([z.boolean(), finite.min(0).max(ACCURACY_MAX_M)], {
      error: `expected a boolean (ignition, ACC), or the deprecated numeric accuracy 0-${ACCURACY_MAX_M} m (send it as accuracy)`,
    })
    .optional(),
  /** GNSS fix valid (default true) */
  valid: z.boolean().optional(),
  /** coordinate system of lat/lon (default WGS84) */
  crs: z.enum(['WGS84', 'GCJ02']).optional(),
  /** ignition (ACC) */
  ign: z.boolean().optional(),
  /** optional: the sender's own id; must match the topic when present */
  device: z.string().max(64).optional(),
  /** SOS / emergency button pressed (a vehicle terminal's emergency alarm too) */
  sos: z.boolean().optional(),
  /** the terminal's own alarms (JT/T 808 alarm flags by name, core/fix.ts TERMINAL_ALARMS) */
  alarms: z.array(z.enum(TERMINAL_ALARMS)).max(TERMINAL_ALARMS.length).optional(),
  /** odometer, km */
  mileage: finite.min(0).max(100_000_000).optional(),
  /** fuel, litres */
  fuel: finite.min(0).max(100_000).optional(),
  /** tachograph speed, km/h */
  tachoSpeed: finite.min(0).max(400).optional(),
  /** extended vehicle signal status bits (JT/T 808 item 0x25) */
  vehicleSignals: z.number().int().min(0).max(0xffffffff).optional(),
  /** IO status bits (JT/T 808 item 0x2A) */
  ioStatus: z.number().int().min(0).max(0xffff).optional(),
  /** analog inputs (JT/T 808 item 0x2B) */
  analog0: z.number().int().min(0).max(0xffff).optional(),
  analog1: z.number().int().min(0).max(0xffff).optional(),
  /** mobile network signal strength (JT/T 808 item 0x30) */
  rssi: z.number().int().min(0).max(255).optional(),
});

export const muckTruckFixSchema = commonFixSchema.extend({
  load: z.enum(LOAD_STATES).optional(),
  /** tonnes */
  weight: finite.min(0).max(200).optional(),
  cover: z.enum(['closed', 'open']).optional(),
  lift: z.enum(['down', 'up']).optional(),
  doors: z.enum(['closed', 'open']).optional(),
});

export const sanitationFixSchema = commonFixSchema.extend({
  task: z.enum(SANITATION_TASKS).optional(),
  brush: z.boolean().optional(),
  /** bins emptied since the start of the shift (收运桶数) */
  binLifts: z.number().int().min(0).max(100000).optional(),
  /** tonnes */
  weight: finite.min(0).max(200).optional(),
});

export const bodyCameraFixSchema = commonFixSchema.extend({
  recording: z.boolean().optional(),
  /** percent */
  battery: finite.min(0).max(100).optional(),
  /** MB */
  storageFree: finite.min(0).optional(),
  /** an officer id: the registry's id grammar, so that every string of a stored fix is one the store can hold */
  officer: EntityIdSchema.optional(),
  /** docked at an upload station (采集站) */
  docked: z.boolean().optional(),
});

export type CommonFixPayload = z.infer<typeof commonFixSchema>;
export type MuckTruckFixPayload = z.infer<typeof muckTruckFixSchema>;
export type SanitationFixPayload = z.infer<typeof sanitationFixSchema>;
export type BodyCameraFixPayload = z.infer<typeof bodyCameraFixSchema>;
export type FixPayload = MuckTruckFixPayload | SanitationFixPayload | BodyCameraFixPayload;

export const fixSchemaByKind = {
  muck_truck: muckTruckFixSchema,
  sanitation: sanitationFixSchema,
  body_camera: bodyCameraFixSchema,
} as const;

// The topic layout is the device contract's too, declared once in core/topics.ts.
export {
  commandsTopicFilter,
  DEAD_LETTER_TOPIC,
  statusTopic,
  TELEMETRY_TOPIC_FILTER,
  telemetryTopic,
} from '../core/topics.ts';

/** Retained payload of `devices/{id}/status`. */
export interface DeviceStatus {
  state: 'online' | 'offline';
  /** ISO-8601 UTC */
  ts: string;
}
