import type { Jt808Refusal } from './codec/refusals.ts';

/**
 * The dead letter of a refused JT/T 808 frame or message, published to the platform's dead-letter topic
 * (`platform/deadletter`, services only) like MQTT's (ingest/dead-letter.ts), with the raw frame as hex
 * instead of a payload. Fixes of an accepted frame refused by ingest's own checks are dead-lettered by
 * ingest, with the same hex as their payload.
 */
export interface Jt808DeadLetter {
  reasons: { reason: Jt808Refusal; detail: string }[];
  /** jt808/{phone}/{message id}, or jt808 when the frame's header could not be read */
  topic: string;
  /** the bound device, '' before authentication */
  device: string;
  /** ISO-8601 UTC receive time */
  received: string;
  /** bytes of the raw frame */
  size: number;
  truncated: boolean;
  /** the frame as received (escaped, delimiters included), hex, at most RAW_LIMIT bytes */
  frameHex: string;
}

const RAW_LIMIT = 4 * 1024;

export function jt808Topic(phone: string | undefined, msgId: number | undefined): string {
  if (phone === undefined) return 'jt808';
  return msgId === undefined ? `jt808/${phone}` : `jt808/${phone}/0x${msgId.toString(16).padStart(4, '0')}`;
}

export function buildJt808DeadLetter(
  refusal: { reason: Jt808Refusal; detail: string },
  topic: string,
  device: string,
  frame: Uint8Array,
  receivedMs: number,
): Jt808DeadLetter {
  const truncated = frame.length > RAW_LIMIT;
  return {
    reasons: [refusal],
    topic,
    device,
    received: new Date(receivedMs).toISOString(),
    size: frame.length,
    truncated,
    frameHex: Buffer.from(truncated ? frame.subarray(0, RAW_LIMIT) : frame).toString('hex'),
  };
}
