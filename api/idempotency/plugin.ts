import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { canonicalJson } from '../../geofence/evidence.ts';
import { HttpProblem, PROBLEM_TYPES } from '../problem.ts';
import { problemResponse } from '../schemas.ts';
import { seal, unseal } from './seal.ts';
import type { IdempotencyScope, IdempotencyStore } from './store.ts';

/**
 * Idempotency keys on every POST and PATCH of the scope it is registered in, as the IETF draft "The
 * Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header) lays them out: a client
 * sends `Idempotency-Key: "<unique value>"` and may then retry the request safely.
 *  - The first response (status, body, Content-Type and Location) is recorded per (API key id, method,
 *    path with query, key) with a fingerprint of the request body (sha256 of its canonical JSON), for
 *    `ttlMs` (24 h by default) in SQLite (store.ts), sealed with the caller's token (seal.ts).
 *  - A repeat with the same body gets the recorded response again, marked `Idempotent-Replayed: true`,
 *    and nothing is executed a second time.
 *  - The same key with another body: 422 (the draft's "Idempotency Key is already used").
 *  - While the first request still runs: 409 (the draft's "concurrent request"); retry shortly.
 * Responses worth retrying (5xx) are not recorded: the key is free again. Errors raised before the
 * handler runs are outside it: authentication, scopes and rate limits (onRequest) come first; a body
 * that fails validation is recorded like any answer (the same body fails the same way).
 *
 * The draft leaves open which key a replay is keyed on; here it is the API key, so a replay of a creation
 * that returned a secret once (API key, device credentials, webhook secret) returns it again, to the same
 * API key only. The record is sealed with that key's token, so the secret never sits in clear on disk.
 */

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const METHODS = new Set(['POST', 'PATCH']);
/** Headers of the first response that a replay repeats (security and rate-limit headers are fresh). */
const KEPT_HEADERS = ['content-type', 'location'] as const;

export const IDEMPOTENCY_PROBLEM_TYPES = {
  inFlight: 'urn:citywatch:problem:idempotency-key-in-flight',
  reused: 'urn:citywatch:problem:idempotency-key-reused',
} as const;

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** how long a response is kept for replays; 24 h by default */
  ttlMs?: number;
  /** how long a first request may run before its key is considered abandoned; 60 s by default */
  leaseMs?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 24 * 3_600_000;
const DEFAULT_LEASE_MS = 60_000;
const MAX_KEY_LENGTH = 255;

/** A problem naming the header as the field at fault, like the schema errors (problem.ts). */
function headerProblem(
  status: number,
  type: string,
  title: string,
  message: string,
  headers: Record<string, string> = {},
): HttpProblem {
  return new HttpProblem({
    status,
    type,
    title,
    detail: `headers/${IDEMPOTENCY_KEY_HEADER}: ${message}`,
    errors: [{ in: 'headers', pointer: `/${IDEMPOTENCY_KEY_HEADER}`, message }],
    headers,
  });
}

/**
 * The key: the draft's sf-string (`"..."`, RFC 8941 section 3.3.3, with `\"` and `\\` escapes), or, as
 * many clients send it, the bare value. Printable ASCII, 1 to 255 characters.
 */
export function parseIdempotencyKey(raw: string): string {
  let key = raw.trim();
  if (key.startsWith('"')) {
    // A leading quote makes it an sf-string: it must be a whole, well-formed one.
    const inner = key.length >= 2 && key.endsWith('"') ? key.slice(1, -1) : '"';
    if (/(^|[^\\])"/.test(inner) || /\\[^"\\]/.test(inner) || inner.endsWith('\\')) {
      throw headerProblem(400, PROBLEM_TYPES.validation, 'Invalid request', 'not a valid string');
    }
    key = inner.replace(/\\(["\\])/g, '$1');
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw headerProblem(
      400,
      PROBLEM_TYPES.validation,
      'Invalid request',
      `1 to ${MAX_KEY_LENGTH} printable ASCII characters`,
    );
  }
  return key;
}

export function fingerprintOf(body: unknown): string {
  const hash = createHash('sha256');
  if (Buffer.isBuffer(body)) hash.update(body);
  else hash.update(canonicalJson(body ?? null), 'utf8');
  return hash.digest('hex');
}

const bearerToken = (request: FastifyRequest): string =>
  /^Bearer +(\S+)/i.exec(request.headers.authorization ?? '')?.[1] ?? '';

interface Claim {
  scope: IdempotencyScope;
  claim: string;
  token: string;
}

const HeaderSchema = z.looseObject({
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .optional()
    .describe(
      'makes a retry safe (draft-ietf-httpapi-idempotency-key-header): a unique value, e.g. a UUID, sent ' +
        'as a quoted string ("...") or bare; the first response is kept 24 h and a repeat with the same ' +
        'body gets it again (Idempotent-Replayed: true); another body: 422; while the first still runs: 409',
    ),
});

/** onRoute: the header and the two answers it adds go into the OpenAPI operation of each POST/PATCH. */
function documentIdempotency(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (!methods.some((m) => METHODS.has(m))) return;
  const schema = { ...(route.schema ?? {}) } as Record<string, unknown>;
  const headers = schema.headers as z.ZodObject | undefined;
  schema.headers = headers === undefined ? HeaderSchema : headers.extend(HeaderSchema.shape);
  const response = { ...((schema.response as Record<string, { description?: string }>) ?? {}) };
  const busy = 'a request with the same Idempotency-Key is still running';
  response[409] =
    response[409] === undefined
      ? problemResponse(busy)
      : { ...response[409], description: `${response[409].description}; or ${busy}` };
  response[422] ??= problemResponse('the Idempotency-Key was used with another request body');
  schema.response = response;
  route.schema = schema as RouteOptions['schema'];
}

/**
 * A plugin that is NOT encapsulated (like bearerAuth): registered inside a scope after the auth plugin,
 * its hooks apply to every POST and PATCH of that scope.
 */
export const idempotency: FastifyPluginAsync<IdempotencyOptions> = Object.assign(
  async (app: Parameters<FastifyPluginAsync<IdempotencyOptions>>[0], options: IdempotencyOptions) => {
    const { store } = options;
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const now = options.now ?? Date.now;
    const claims = new WeakMap<FastifyRequest, Claim>();

    app.addHook('onRoute', documentIdempotency);

    // preValidation: after authentication (the principal is known) and body parsing (the fingerprint is
    // of the body as sent, before validation normalises it), before the handler.
    app.addHook('preValidation', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!METHODS.has(request.method)) return;
      const raw = request.headers[IDEMPOTENCY_KEY_HEADER];
      if (raw === undefined) return;
      const key = parseIdempotencyKey(Array.isArray(raw) ? raw.join(',') : raw);
      const scope: IdempotencyScope = {
        principal: request.principal.keyId,
        method: request.method,
        path: request.url,
        key,
      };
      const token = bearerToken(request);
      let outcome = store.begin(scope, fingerprintOf(request.body), now(), leaseMs);
      if (outcome.kind === 'replay') {
        const opened = unseal(outcome.sealed, token);
        if (opened !== undefined) {
          const recorded = JSON.parse(opened) as { headers: Record<string, string>; body: string };
          request.log.info({ idempotencyKey: key }, 'idempotent replay');
          return reply
            .code(outcome.status)
            .headers({ ...recorded.headers, [REPLAYED_HEADER]: 'true' })
            .send(recorded.body);
        }
        // Sealed with another token under the same key id (the ADMIN_TOKEN changed): unusable, start over.
        store.forget(scope);
        outcome = store.begin(scope, fingerprintOf(request.body), now(), leaseMs);
      }
      if (outcome.kind === 'mismatch') {
        throw headerProblem(
          422,
          IDEMPOTENCY_PROBLEM_TYPES.reused,
          'Idempotency key already used',
          'already used for a request with another body; use a new key for a new request',
        );
      }
      if (outcome.kind === 'in-flight') {
        throw headerProblem(
          409,
          IDEMPOTENCY_PROBLEM_TYPES.inFlight,
          'Request in progress',
          'a request with this key is still being processed; retry when it has finished',
          { 'retry-after': '1' },
        );
      }
      if (outcome.kind === 'new') claims.set(request, { scope, claim: outcome.claim, token });
    });

    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const claim = claims.get(request);
      if (claim === undefined) return payload;
      claims.delete(request);
      const text =
        typeof payload === 'string'
          ? payload
          : Buffer.isBuffer(payload)
            ? payload.toString('utf8')
            : undefined;
      if (reply.statusCode >= 500 || text === undefined) {
        store.abandon(claim.scope, claim.claim);
        return payload;
      }
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      const sealed = seal(JSON.stringify({ headers, body: text }), claim.token);
      store.complete(claim.scope, claim.claim, reply.statusCode, sealed, now() + ttlMs);
      return payload;
    });

    // A request that ended without onSend (its connection gone mid-handler) leaves no pending claim.
    app.addHook('onResponse', async (request: FastifyRequest) => {
      const claim = claims.get(request);
      if (claim === undefined) return;
      claims.delete(request);
      store.abandon(claim.scope, claim.claim);
    });
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'idempotency' },
);
