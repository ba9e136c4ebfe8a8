import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * ETags on cheap reads, once for every route of the scope it is registered in: an onSend hook gives each
 * GET (and HEAD) 200 answer whose body is already serialized and at most `maxBytes` a strong ETag, the
 * SHA-256 of the bytes (RFC 9110 section 8.8.3: equal bytes, equal tag; so the JSON and GeoJSON forms of
 * one resource get different tags), and answers `If-None-Match` with 304 Not Modified and no body
 * (section 13.1.2). Streams (Server-Sent Events) and bodies above the limit (big track exports) are left
 * alone: hashing them would cost more than sending them. Answers keep `Cache-Control: no-store`: the tag
 * is for clients that poll (send the last ETag, get a 304 while nothing changed), not for shared caches.
 *
 * Not @fastify/etag (6.2), which does not do what the API's tests ask of an ETag: it tags every
 * answer of every method and status (POST answers, errors), hashes bodies of any size, and compares
 * If-None-Match as one exact string, so neither a list (`"a", "b"`) nor `*` gives a 304 (RFC 9110
 * section 13.1.2). Wrapping it would leave nothing of it in use.
 */

/**
 * Single resources and pages of a hundred list items fit; a list of a thousand positions or a 24 h track
 * does not, and is not hashed (hashing 1 MB would add about a millisecond to every such answer).
 */
export const ETAG_MAX_BYTES = 64 * 1024;

export function etagOf(body: string | Buffer): string {
  // 128 bits of the digest: enough to tell representations apart, shorter headers.
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** If-None-Match with the weak comparison its section asks for: `W/` prefixes do not matter. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((tag) => opaque(tag) === wanted);
}

export function registerEtags(app: FastifyInstance, maxBytes = ETAG_MAX_BYTES): void {
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || reply.statusCode !== 200) return payload;
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    if (Buffer.byteLength(payload) > maxBytes) return payload;
    const etag = etagOf(payload);
    reply.header('etag', etag);
    if (!noneMatch(request.headers['if-none-match'], etag)) return payload;
    // 304: the same headers as the 200 would have had (ETag, Cache-Control, Vary), no body.
    reply.code(304);
    reply.removeHeader('content-type');
    reply.removeHeader('content-length');
    reply.removeHeader('repr-digest');
    return null;
  });
}
