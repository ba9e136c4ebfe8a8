import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Webhook signing as the Standard Webhooks specification lays it out (v1.0.0,
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
 *  - "Signature scheme": the signed content is `{msg_id}.{timestamp}.{payload}`, HMAC-SHA256, the
 *    signature serialized as `v1,` + base64;
 *  - "Webhook headers": `webhook-id` (the event id, the same on every retry: the receiver's
 *    idempotency key), `webhook-timestamp` (integer unix seconds of the attempt, so a receiver can
 *    refuse replays outside its tolerance), `webhook-signature` (space-delimited list of signatures);
 *  - secrets: random, at least 24 bytes, base64 with the `whsec_` prefix; the HMAC key is the decoded
 *    bytes, not the string.
 * The signing itself is the specification's own reference library (`standardwebhooks`); generating
 * secrets stays here, since the library only consumes them. Pure apart from generateSecret's randomness.
 */

export const SECRET_PREFIX = 'whsec_';
/** 32 random bytes: above the spec's 24-byte minimum */
const SECRET_BYTES = 32;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a secret: its base64 payload decoded (the `whsec_` prefix is optional, as in the spec's libraries). */
export function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(b64, 'base64');
}

/**
 * `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, by the reference library (which takes the
 * secret with or without its `whsec_` prefix, and the timestamp as a Date it floors to seconds).
 */
export function sign(secret: string, id: string, timestampS: number, body: string): string {
  return new Webhook(secret).sign(id, new Date(timestampS * 1000), body);
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three Standard Webhooks headers of one attempt (HTTP header names are case-insensitive). */
export function signedHeaders(secret: string, id: string, timestampS: number, body: string): SignedHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': sign(secret, id, timestampS, body),
  };
}
