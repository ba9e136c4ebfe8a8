import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import type { Fix } from '../core/fix.ts';
import type { Device } from '../registry/types.ts';
import { normalizeFix, toEpochMs } from './normalize.ts';
import { fixSchemaByKind } from './payload.ts';
import type { Rejection } from './reasons.ts';

/**
 * Pure decoding of one telemetry message: bytes in, normalized fixes and rejections out. No I/O, no
 * clock (the receive time is an argument), no registry access (the caller looks the device up), so every
 * rule here is testable on its own and the same for both transports.
 */

export interface DecodeLimits {
  maxPayloadBytes: number;
  maxFixesPerMessage: number;
  /** a fix may be at most this far ahead of the receive time (device clocks drift) */
  maxFutureSkewMs: number;
  /** backfill horizon: older fixes are refused */
  maxFixAgeMs: number;
}

export const DEFAULT_LIMITS: DecodeLimits = {
  maxPayloadBytes: 256 * 1024,
  maxFixesPerMessage: 1000,
  maxFutureSkewMs: 5 * 60_000,
  maxFixAgeMs: 7 * 86_400_000,
};

export interface DecodeInput {
  /** device id taken from the topic */
  deviceId: string;
  payload: Buffer;
  receivedMs: number;
  /** registry entry of deviceId, undefined when unknown */
  device: Device | undefined;
}

export interface DecodeResult {
  fixes: Fix[];
  rejections: Rejection[];
  /**
   * accepted fixes that sent their accuracy as a number in `acc`, the contract's old name (`acc` is
   * ignition now, payload.ts): counted and warned about by the caller, read for one release
   */
  deprecatedNumericAcc: number;
}

export { deviceIdFromTelemetryTopic } from '../core/topics.ts';

function reject(reason: Rejection['reason'], detail: string, index?: number): Rejection {
  return index === undefined ? { reason, detail } : { reason, detail, index };
}

/** First zod issue as "path: message", e.g. "speed: Too big: expected number to be <=400". */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/**
 * `acc` spells ignition (a boolean, as `ign`) or, deprecated, the accuracy (a number, as `accuracy`): a
 * fix whose two spellings of one reading disagree is refused rather than guessed at.
 */
function accConflictOf(p: { acc?: boolean | number; ign?: boolean; accuracy?: number }): string | undefined {
  if (typeof p.acc === 'boolean' && p.ign !== undefined && p.acc !== p.ign)
    return `acc: ignition ${p.acc} contradicts ign ${p.ign} (both are ignition; send one)`;
  if (typeof p.acc === 'number' && p.accuracy !== undefined && p.acc !== p.accuracy)
    return `acc: the deprecated numeric accuracy ${p.acc} differs from accuracy ${p.accuracy} (send accuracy only)`;
  return undefined;
}

export function decodeTelemetry(input: DecodeInput, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const { payload, device, deviceId, receivedMs } = input;
  const fixes: Fix[] = [];
  const rejections: Rejection[] = [];
  const deprecatedNumericAcc = 0;

  if (device === undefined) {
    rejections.push(reject('unknown_device', `device "${deviceId}" is not registered`));
    return { fixes, rejections, deprecatedNumericAcc };
  }
  if (!device.enabled) {
    rejections.push(reject('device_disabled', `device "${deviceId}" is disabled`));
    return { fixes, rejections, deprecatedNumericAcc };
  }
  if (payload.length > limits.maxPayloadBytes) {
    rejections.push(
      reject('payload_too_large', `payload is ${payload.length} bytes, limit ${limits.maxPayloadBytes}`),
    );
    return { fixes, rejections, deprecatedNumericAcc };
  }
  if (!isUtf8(payload)) {
    rejections.push(reject('bad_utf8', 'payload is not valid UTF-8'));
    return { fixes, rejections, deprecatedNumericAcc };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    // Also catches RangeError from pathologically deep nesting.
    rejections.push(reject('malformed_json', `not JSON: ${(err as Error).message.slice(0, 200)}`));
    return { fixes, rejections, deprecatedNumericAcc };
  }

  const batch = Array.isArray(parsed);
  const items: unknown[] = batch ? (parsed as unknown[]) : [parsed];
  if (batch && (items.length === 0 || items.length > limits.maxFixesPerMessage)) {
    rejections.push(
      reject(
        'too_many_fixes',
        `array holds ${items.length} fixes; allowed 1 to ${limits.maxFixesPerMessage} per message`,
      ),
    );
    return { fixes, rejections, deprecatedNumericAcc };
  }

  return validateFixObjects({ deviceId, device, receivedMs }, items, batch, limits);
}

/**
 * The checks every fix object passes, whatever carried it: the schema of the device's kind, the
 * payload's device id, coordinates, the time window; then normalization. The JSON path above and
 * protocol gateways that build fix objects themselves (gateway/jt808/) both end here, so a fix is
 * judged by the same rules whichever way it came in. `batch`: rejections carry the item's index.
 */
export function validateFixObjects(
  input: { deviceId: string; device: Device; receivedMs: number },
  items: readonly unknown[],
  batch: boolean,
  limits: DecodeLimits = DEFAULT_LIMITS,
): DecodeResult {
  const { device, deviceId, receivedMs } = input;
  const fixes: Fix[] = [];
  const rejections: Rejection[] = [];
  let deprecatedNumericAcc = 0;
  const schema = fixSchemaByKind[device.kind];
  for (let i = 0; i < items.length; i++) {
    const index = batch ? i : undefined;
    const result = schema.safeParse(items[i]);
    if (!result.success) {
      rejections.push(reject('schema', describeIssue(result.error), index));
      continue;
    }
    const p = result.data;
    if (p.device !== undefined && p.device !== deviceId) {
      rejections.push(
        reject(
          'topic_device_mismatch',
          `payload device "${p.device}" differs from topic device "${deviceId}"`,
          index,
        ),
      );
      continue;
    }
    const accConflict = accConflictOf(p);
    if (accConflict !== undefined) {
      rejections.push(reject('schema', accConflict, index));
      continue;
    }
    if (p.lat < -90 || p.lat > 90 || p.lon < -180 || p.lon > 180) {
      rejections.push(
        reject(
          'coordinates_out_of_range',
          `lat ${p.lat} / lon ${p.lon} outside [-90,90] / [-180,180]`,
          index,
        ),
      );
      continue;
    }
    const ts = toEpochMs(p.ts);
    if (ts > receivedMs + limits.maxFutureSkewMs) {
      rejections.push(
        reject(
          'ts_in_future',
          `ts ${new Date(ts).toISOString()} is more than ${limits.maxFutureSkewMs / 1000} s ahead`,
          index,
        ),
      );
      continue;
    }
    if (ts < receivedMs - limits.maxFixAgeMs) {
      rejections.push(
        reject(
          'ts_too_old',
          `ts ${new Date(ts).toISOString()} is older than the ${limits.maxFixAgeMs / 86_400_000} day backfill horizon`,
          index,
        ),
      );
      continue;
    }
    if (typeof p.acc === 'number') deprecatedNumericAcc++;
    fixes.push(normalizeFix(p, device, receivedMs));
  }
  return { fixes, rejections, deprecatedNumericAcc };
}
