/**
 * Why a message (or one fix of a batch) was refused. Every rejection is counted per reason
 * (`citywatch_ingest_rejected_total{reason}`) and published to the dead-letter topic with the raw payload.
 */
export const REJECTION_REASONS = [
  /** payload larger than MAX_PAYLOAD_BYTES */
  'payload_too_large',
  /** payload is not valid UTF-8 (RFC 3629) */
  'bad_utf8',
  /** payload is not JSON, or nests too deep for the parser */
  'malformed_json',
  /** JSON array with more fixes than MAX_FIXES_PER_MESSAGE, or an empty array */
  'too_many_fixes',
  /** a field is missing, has the wrong type or is outside its range */
  'schema',
  /** lat outside [-90, 90] or lon outside [-180, 180] */
  'coordinates_out_of_range',
  /** ts later than now + MAX_FUTURE_SKEW_S */
  'ts_in_future',
  /** ts older than now - MAX_FIX_AGE_DAYS (the backfill horizon) */
  'ts_too_old',
  /** the topic names a device the registry does not know */
  'unknown_device',
  /** the device is disabled in the registry */
  'device_disabled',
  /** the payload's `device` field names another device than the topic */
  'topic_device_mismatch',
  /** the topic is not devices/{id}/telemetry */
  'bad_topic',
  /**
   * the device's id, vehicle, firm or officer was created before the registry's id grammar and the store
   * cannot hold it (e.g. a trailing backslash in InfluxDB): refused here rather than acknowledged and lost
   */
  'unstorable_id',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  reason: RejectionReason;
  /** human-readable: names the field or limit at fault */
  detail: string;
  /** position in a JSON array payload, when one element of a batch was refused */
  index?: number;
}
