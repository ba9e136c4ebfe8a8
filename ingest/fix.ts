/**
 * The normalized fix: what ingest hands to the store, the live bus and (later) the geofence engine.
 *
 * Everything here is already validated and normalized: the instant is UTC epoch milliseconds, the
 * position is WGS-84 (GCJ-02 input has been converted), and the device has been mapped to the unit it
 * is mounted on (a vehicle, or for body cameras the camera itself) and to the firm that owns it.
 *
 * The shape is flat on purpose: it is written as one InfluxDB point / one SQLite row, spooled as one
 * JSON line, and copied per vehicle on the hot path.
 */

export const UNIT_KINDS = ['muck_truck', 'sanitation', 'body_camera'] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];

export const LOAD_STATES = ['empty', 'half', 'full'] as const;
export type LoadState = (typeof LOAD_STATES)[number];

export const SANITATION_TASKS = ['idle', 'sweeping', 'spraying', 'collecting'] as const;
export type SanitationTask = (typeof SANITATION_TASKS)[number];

export interface Fix {
  /** Unit the fix belongs to: the vehicle id, or the camera id for body cameras. Store tag `vehicle`. */
  vehicle: string;
  /** Reporting device id (the MQTT username). */
  device: string;
  kind: UnitKind;
  firm: string;
  /** Instant of the fix, UTC epoch milliseconds. */
  ts: number;
  /** When the platform received it, UTC epoch milliseconds. */
  received: number;
  /** WGS-84 degrees. */
  lat: number;
  lon: number;
  /** km/h */
  speed?: number;
  /** degrees 0-359, north 0 */
  heading?: number;
  /** metres */
  alt?: number;
  sats?: number;
  /**
   * horizontal accuracy, metres (the device sends `accuracy`; its numeric `acc` of before is read as this
   * for one release: `acc` is ignition in Chinese telematics, ingest/payload.ts)
   */
  accuracy?: number;
  /** GNSS fix valid; false means the position is the last known one and must not be judged. */
  valid: boolean;
  /** Coordinate system the device sent (the stored position is always WGS-84). */
  crsIn: 'WGS84' | 'GCJ02';
  /** true when an earlier-timestamped fix of this device arrived after a later one. */
  late: boolean;
  /** ignition (ACC) */
  ign?: boolean;
  // muck truck
  load?: LoadState;
  /** tonnes */
  weight?: number;
  cover?: 'closed' | 'open';
  lift?: 'down' | 'up';
  doors?: 'closed' | 'open';
  // sanitation
  task?: SanitationTask;
  brush?: boolean;
  binLifts?: number;
  // body camera
  recording?: boolean;
  /** percent */
  battery?: number;
  /** MB */
  storageFree?: number;
  officer?: string;
  sos?: boolean;
  docked?: boolean;
}

/** Optional measurement fields of a Fix, in a fixed order (used by the store adapters). */
export const NUMERIC_FIELDS = [
  'speed',
  'heading',
  'alt',
  'sats',
  'accuracy',
  'weight',
  'binLifts',
  'battery',
  'storageFree',
] as const;
export const BOOLEAN_FIELDS = ['valid', 'late', 'ign', 'brush', 'recording', 'sos', 'docked'] as const;
export const STRING_FIELDS = [
  'device',
  'crsIn',
  'load',
  'cover',
  'lift',
  'doors',
  'task',
  'officer',
] as const;

/**
 * A Fix spooled by an earlier version, brought to today's shape: its accuracy was `acc` (a number) until
 * `acc` came to mean ignition in the device contract (2026-12). The spool outlives an upgrade (fixes
 * acknowledged before it are replayed after it), so the pump reads old records through this.
 */
export function upgradeSpooledFix(fix: Fix): Fix {
  const legacy = fix as Fix & { acc?: unknown };
  if (legacy.acc === undefined) return fix;
  if (typeof legacy.acc === 'number' && fix.accuracy === undefined) fix.accuracy = legacy.acc;
  delete legacy.acc;
  return fix;
}
