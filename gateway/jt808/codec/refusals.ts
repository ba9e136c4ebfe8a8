/**
 * Why the gateway refused a frame or a message. Each is counted (`citywatch_jt808_refused_total{reason}`)
 * and dead-lettered with the raw frame as hex; fixes refused later by ingest's own checks (ts too old,
 * coordinates out of range...) are counted under ingest's reasons as for MQTT.
 */
export const JT808_REFUSALS = [
  /** bytes outside any 0x7e ... 0x7e frame */
  'garbage',
  /** escaped content longer than any JT/T 808 frame (1023-byte body) */
  'frame_too_long',
  /** 0x7d followed by something else than 0x01 or 0x02 (§4.4.1) */
  'bad_escape',
  /** XOR check code differs (§4.4.3) */
  'bad_check_code',
  /** shorter than its header, or the body length in the attributes differs from the bytes received */
  'truncated',
  /** the body does not match its message's table (a field missing, a bad BCD digit, an impossible date) */
  'malformed_body',
  /** RSA-encrypted body (attributes bits 10-12): not supported */
  'unsupported_encryption',
  /** a sub-packaged message not complete within its timeout */
  'subpackage_timeout',
  /** sub-packets over the per-connection memory cap */
  'subpackage_overflow',
  /** data from a terminal that has not authenticated (0x0102) */
  'not_authenticated',
  /** a message id the gateway does not handle (answered 0x8001 result 3, unsupported) */
  'unsupported_message',
] as const;

export type Jt808Refusal = (typeof JT808_REFUSALS)[number];
