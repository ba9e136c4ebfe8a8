import { isUtf8 } from 'node:buffer';
import type { Rejection } from './reasons.ts';

/**
 * The dead-letter record published to `platform/deadletter` (services only) for every refused message.
 * One record per message lists every rejection; the raw payload rides along, as text when it is valid
 * UTF-8 and base64 otherwise, cut to RAW_LIMIT bytes so a hostile 256 KiB payload cannot amplify.
 */
export interface DeadLetter {
  reasons: Rejection[];
  topic: string;
  device: string;
  /** ISO-8601 UTC receive time */
  received: string;
  /** size of the original payload in bytes */
  size: number;
  truncated: boolean;
  payload?: string;
  payloadBase64?: string;
}

const RAW_LIMIT = 16 * 1024;

export function buildDeadLetter(
  topic: string,
  device: string,
  payload: Buffer,
  receivedMs: number,
  reasons: Rejection[],
): DeadLetter {
  const truncated = payload.length > RAW_LIMIT;
  const raw = truncated ? payload.subarray(0, RAW_LIMIT) : payload;
  const letter: DeadLetter = {
    reasons,
    topic,
    device,
    received: new Date(receivedMs).toISOString(),
    size: payload.length,
    truncated,
  };
  if (!truncated && isUtf8(raw)) letter.payload = raw.toString('utf8');
  else letter.payloadBase64 = raw.toString('base64');
  return letter;
}
