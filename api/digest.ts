import { createHash } from 'node:crypto';

/**
 * `Repr-Digest` (RFC 9530, Digest Fields): the SHA-256 of the representation's bytes as a Structured
 * Field dictionary member, `sha-256=:<base64>:`. The API sends representations unencoded (no
 * Content-Encoding), so it is also the digest of the content as received.
 */
export const REPR_DIGEST_HEADER = 'repr-digest';

export function reprDigest(body: string | Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}
