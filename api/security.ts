import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Response headers that keep browsers from misusing the API's answers (helmet), and CORS for the
 * origins the operator allows (@fastify/cors).
 *
 * helmet is called directly rather than through @fastify/helmet: the plugin picks a policy per route
 * (route config) and builds helmet's middleware again for every request, while the API's policy goes
 * by path prefix (so that the 404 of an unknown /api/v1 path gets it too) and is computed once here.
 * Only the headers the platform sent before are switched on; the API answers JSON to programs, and
 * the docs page is the one document it serves.
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
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/**
 * Last-Event-ID: an EventSource reconnecting to a live stream sends it; the others are the API's
 * conventions (api/idempotency/, api/etag.ts, api/request-id.ts).
 */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'last-event-id',
  'idempotency-key',
  'if-none-match',
  'x-request-id',
];
/** How long a browser may reuse a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * The headers helmet sets with every header off but nosniff, framing denied, no referrer, HSTS over
 * HTTPS and this CSP. None of them depends on the request, so helmet runs once, here, against a
 * recording response, and each request gets them as reply headers: set on the raw response instead,
 * as helmet's middleware does, they cost 4 % more CPU per request (measured on the single-position
 * read over HTTP), since Node's writeHead then validates and merges every header one by one.
 */
function headers(https: boolean, csp: NonNullable<HelmetOptions['contentSecurityPolicy']>) {
  const recorded: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => {
      recorded[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete recorded[name.toLowerCase()];
    },
  };
  const middleware = helmet({
    contentSecurityPolicy: csp,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    xContentTypeOptions: true,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: false,
    xXssProtection: false,
  });
  middleware({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return recorded;
}

export async function registerSecurity(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  const prefix = options.apiPrefix;
  const https = options.https === true;
  // The API answers data, never documents: nothing may load from it or frame it. The docs page needs
  // its scripts and styles, so it only gets the framing ban.
  // Tenant data must not stay in shared or browser caches; a route may still set its own policy.
  const apiHeaders = {
    ...headers(https, {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    }),
    'cache-control': 'no-store',
  };
  // helmet insists on a default-src; the docs page (Swagger UI) loads its own scripts and styles and
  // had only the framing ban before, which it keeps.
  const pageHeaders = headers(https, {
    useDefaults: false,
    directives: {
      defaultSrc: helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc,
      frameAncestors: ["'none'"],
    },
  });
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    // Set first, so that every answer has them: errors, 404s and answers hijacked by a stream route.
    const path = request.url.split('?', 1)[0] ?? '';
    const api = path === prefix || path.startsWith(`${prefix}/`);
    reply.headers(api ? apiHeaders : pageHeaders);
    done();
  });

  const origins = new Set(options.corsOrigins ?? []);
  if (origins.size === 0) return;
  const anyOrigin = origins.has('*');
  // Registered on the root, its onRequest hook answers a preflight before the bearer check of
  // /api/v1 (browsers never send credentials on a preflight). A preflight from another origin gets
  // no CORS headers and is not answered as one (404).
  await app.register(cors, {
    // a function answers per request and sets Vary: Origin (the answer depends on the Origin)
    origin: anyOrigin
      ? '*'
      : (origin, callback) => callback(null, origin !== undefined && origins.has(origin)),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED,
    // The API authenticates with a bearer header, never cookies: no Allow-Credentials.
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_S,
    // an OPTIONS request without Access-Control-Request-Method is not refused with a bare text 400
    strictPreflight: false,
  });
}

/** Allowed CORS origins: `*`, or scheme://host[:port] without a path (what browsers send in Origin). */
export const CORS_ORIGIN_PATTERN = /^(\*|https?:\/\/[^/\s?#]+)$/;
