import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Response headers that keep browsers from misusing the API's answers, and CORS for the origins the
 * operator allows. Small hooks rather than @fastify/helmet and @fastify/cors: a JSON API needs a handful
 * of fixed headers, and a preflight must be answered before the bearer check (browsers never send
 * credentials on a preflight), which an onRequest hook on the root does.
 */

export interface SecurityOptions {
  /** the path prefix of the data API: its answers are never cached and may not load any content */
  apiPrefix: string;
  /** origins allowed to call the API from a browser (`https://ops.example.cn`), or `*` for any */
  corsOrigins?: readonly string[];
  /** the API is served over HTTPS: tell browsers to keep using it (HSTS) */
  https?: boolean;
}

/** Headers a browser may read from a cross-origin answer (besides the CORS-safelisted ones). */
const EXPOSED = [
  'location',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-request-id',
  'etag',
  'repr-digest',
  'idempotent-replayed',
].join(', ');
const METHODS = 'GET, POST, PUT, PATCH, DELETE';
/**
 * Last-Event-ID: an EventSource reconnecting to a live stream sends it; the others are the API's
 * conventions (api/idempotency/, api/etag.ts, api/request-id.ts).
 */
const ALLOWED_HEADERS =
  'authorization, content-type, last-event-id, idempotency-key, if-none-match, x-request-id';
/** How long a browser may reuse a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

export function registerSecurity(app: FastifyInstance, options: SecurityOptions): void {
  const origins = new Set(options.corsOrigins ?? []);
  const anyOrigin = origins.has('*');
  const prefix = options.apiPrefix;

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Set first, so that every answer has them: errors, 404s and answers hijacked by a stream route
    // (which start from reply.getHeaders()).
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    const path = request.url.split('?', 1)[0] ?? '';
    const api = path === prefix || path.startsWith(`${prefix}/`);
    // The API answers data, never documents: nothing may load from it or frame it. The docs page needs
    // its scripts and styles, so it only gets the framing ban.
    reply.header(
      'content-security-policy',
      api ? "default-src 'none'; frame-ancestors 'none'" : "frame-ancestors 'none'",
    );
    // Tenant data must not stay in shared or browser caches; a route may still set its own policy.
    if (api) reply.header('cache-control', 'no-store');
    if (options.https) reply.header('strict-transport-security', 'max-age=31536000');

    const origin = request.headers.origin;
    // The answer depends on the Origin whenever some origins are allowed and others not.
    if (origins.size > 0 && !anyOrigin) reply.header('vary', 'Origin');
    if (origin === undefined || !(anyOrigin || origins.has(origin))) return;
    reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
    const preflight =
      request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      reply.header('access-control-expose-headers', EXPOSED);
      return;
    }
    // The API authenticates with a bearer header, never cookies: no Allow-Credentials.
    reply.header('access-control-allow-methods', METHODS);
    reply.header('access-control-allow-headers', ALLOWED_HEADERS);
    reply.header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S));
    return reply.code(204).send();
  });
}

/** Allowed CORS origins: `*`, or scheme://host[:port] without a path (what browsers send in Origin). */
export const CORS_ORIGIN_PATTERN = /^(\*|https?:\/\/[^/\s?#]+)$/;
