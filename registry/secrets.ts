import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { hashGate } from './hash-gate.ts';

/**
 * Secret hashing for device and service credentials.
 *
 * Stored form, self-describing so the parameters can be raised later without a migration:
 *   `scrypt$N$r$p$saltB64$hashB64`
 * with N=16384, r=8, p=1, a 16-byte random salt and a 32-byte derived key. scrypt runs on the libuv
 * thread pool (about 40 ms per call with these parameters), so hashing never blocks the event loop, and
 * through hashGate (hash-gate.ts), so it never fills the pool the spool's fdatasync needs.
 *
 * Plain secrets are never stored or logged; nothing in this module keeps a reference to them.
 */

export const SCRYPT_N = 16384;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Upper bounds accepted when parsing a stored hash, so a corrupt row cannot make us burn memory. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(
  secret: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
  keylen: number,
): Promise<Buffer> {
  // through the gate: at most a quarter of libuv's pool hashes, the rest stays free for the spool's
  // fdatasync (hash-gate.ts); a full queue rejects with HashingBusyError
  return hashGate.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        // maxmem must cover 128 * N * r bytes (16 MiB for the defaults); leave headroom.
        const maxmem = 256 * n * r + 1024 * 1024;
        scrypt(secret, salt, keylen, { N: n, r, p, maxmem }, (err, key) =>
          err ? reject(err) : resolve(key),
        );
      }),
  );
}

/** Hashes a secret into the self-describing `scrypt$N$r$p$salt$hash` form. */
export async function hashSecret(secret: string): Promise<string> {
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('secret must be a non-empty string');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES);
  return ['scrypt', SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(n) || n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) return undefined;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const key = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { n, r, p, salt, key };
}

/**
 * true when `secret` matches the stored hash. A malformed stored value verifies as false (never throws
 * for bad input), the comparison is constant-time (`timingSafeEqual`).
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  if (typeof secret !== 'string' || typeof stored !== 'string') return false;
  const parsed = parse(stored);
  if (parsed === undefined) return false;
  const key = await derive(secret, parsed.salt, parsed.n, parsed.r, parsed.p, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}
