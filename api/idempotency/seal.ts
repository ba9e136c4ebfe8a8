import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Stored responses are sealed with a key derived from the bearer token that made the request. Some of
 * them hold a secret shown once (a device's MQTT password, an API key, a webhook signing secret), which
 * the platform otherwise keeps only as a hash: sealed, the idempotency store on disk gives none of them
 * away, and only a request bearing the same token can open them for a replay.
 *
 * AES-256-GCM; key = HKDF-SHA256(token, a random salt per record). Layout: salt(16) iv(12) tag(16) data.
 */

const INFO = 'citywatch idempotency response v1';
const SALT = 16;
const IV = 12;
const TAG = 16;

const keyOf = (token: string, salt: Buffer) =>
  Buffer.from(hkdfSync('sha256', Buffer.from(token, 'utf8'), salt, INFO, 32));

export function seal(plaintext: string, token: string): Buffer {
  const salt = randomBytes(SALT);
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', keyOf(token, salt), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([salt, iv, cipher.getAuthTag(), data]);
}

/** The plaintext, or undefined when the token is not the one that sealed it (or the record is damaged). */
export function unseal(sealed: Buffer, token: string): string | undefined {
  if (sealed.length < SALT + IV + TAG) return undefined;
  const salt = sealed.subarray(0, SALT);
  const iv = sealed.subarray(SALT, SALT + IV);
  const tag = sealed.subarray(SALT + IV, SALT + IV + TAG);
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(token, salt), iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(SALT + IV + TAG)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return undefined;
  }
}
