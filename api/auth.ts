import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { KEY_PREFIX } from '../registry/api-keys.ts';
import type { AuthFailureThrottle, ThrottleDecision } from './auth-throttle.ts';
import type { StreamTicketStore } from './live-tickets.ts';
import {
  type AccessConfig,
  ADMIN_PRINCIPAL,
  type ApiKeyResolver,
  enforceAccess,
  type KeyAuthentication,
  type Principal,
  SCOPES,
} from './principal.ts';
import { HttpProblem } from './problem.ts';
import type { RateLimiter } from './rate-limit.ts';

// The OpenAPI security scheme is declared in security-scheme.ts (the live tickets need it too).
export { BEARER_SCHEME, bearerSecurity } from './security-scheme.ts';

const REALM = 'citywatch';

export interface BearerAuthOptions {
  /** the bootstrap admin token (ADMIN_TOKEN); always accepted as the admin principal */
  token: string;
  /** API keys (admin, monitor, firm); when absent only the admin token is accepted */
  keys?: ApiKeyResolver;
  /** per-key request budget; 429 with Retry-After once a key has spent it */
  rateLimit?: RateLimiter;
  /** failed authentications per source address and token prefix; 429 with Retry-After beyond */
  failureThrottle?: AuthFailureThrottle;
  /** for citywatch_api_auth_failures_total and citywatch_api_auth_throttled_total */
  metrics?: MetricsRegistry;
  /**
   * stream tickets (api/live-tickets.ts): accepted as `?ticket=` instead of the header, and only on the
   * routes that declare `config.streamTicket` (the live streams, which EventSource opens)
   */
  tickets?: StreamTicketStore;
}

export const AUTH_PROBLEM_TYPES = {
  rateLimited: 'urn:citywatch:problem:rate-limited',
  authThrottled: 'urn:citywatch:problem:authentication-throttled',
  keyExpired: 'urn:citywatch:problem:key-expired',
  keyRotated: 'urn:citywatch:problem:key-rotated',
  ticketRefused: 'urn:citywatch:problem:stream-ticket-refused',
} as const;

function counter<L extends string>(
  registry: MetricsRegistry | undefined,
  name: string,
  help: string,
  label: L,
) {
  if (!registry) return undefined;
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames: [label], registers: [registry] })
  );
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * An onRequest hook that refuses, with 401 and `WWW-Authenticate: Bearer` (RFC 6750), every request
 * without `Authorization: Bearer <token>`. Both sides are hashed before the constant-time comparison,
 * so neither the content nor the length of the token leaks through timing. Then, in this order: the
 * key's rate limit (429, so that refused requests are limited too) and the route's declared scope and
 * roles (403), all before the body is parsed and validated.
 */
export function bearerAuthHook(options: BearerAuthOptions) {
  if (options.token.length === 0 || /\s/.test(options.token)) {
    throw new Error('api: the admin token must be a non-empty string without whitespace');
  }
  const expected = digest(options.token);
  const throttle = options.failureThrottle;
  const failures = counter(
    options.metrics,
    'citywatch_api_auth_failures_total',
    'API requests whose bearer token was refused, by reason (malformed, invalid, expired, rotated)',
    'reason',
  );
  const throttled = counter(
    options.metrics,
    'citywatch_api_auth_throttled_total',
    'API requests answered 429 because too many authentications failed from their address (by="address") or with their token prefix (by="prefix")',
    'by',
  );
  /** The caller is known: rate limit, then the route's declared scope and roles. */
  const admit = (request: FastifyRequest, reply: FastifyReply, principal: Principal) => {
    request.principal = principal;
    // Every later log line of the request says which key made it (never the secret).
    request.log = request.log.child({ keyId: principal.keyId });
    if (options.rateLimit) {
      const decision = options.rateLimit.take(principal.keyId);
      reply.header('x-ratelimit-limit', String(decision.limit));
      reply.header('x-ratelimit-remaining', String(decision.remaining));
      if (!decision.ok) {
        throw new HttpProblem({
          status: 429,
          type: AUTH_PROBLEM_TYPES.rateLimited,
          title: 'Too many requests',
          detail: `This key may make ${decision.limit} requests per minute; retry in ${decision.retryAfterS} s.`,
          headers: { 'retry-after': String(decision.retryAfterS) },
        });
      }
    }
    enforceAccess(request);
  };

  /** 429: the address (or the token's prefix) has spent its failed authentications for now. */
  const throttledProblem = (blocked: ThrottleDecision): HttpProblem => {
    throttled?.inc({ by: blocked.by });
    return new HttpProblem({
      status: 429,
      type: AUTH_PROBLEM_TYPES.authThrottled,
      title: 'Too many failed authentications',
      detail: `Too many failed authentications ${blocked.by === 'address' ? 'from this address' : 'with this token prefix'}; retry in ${blocked.retryAfterS} s.`,
      headers: { 'retry-after': String(blocked.retryAfterS) },
    });
  };

  /**
   * `?ticket=` on a live stream route, without an Authorization header: the browser's EventSource. Only
   * the ticket store is asked, so an API key or the admin token in a URL is never accepted.
   */
  const ticketAuth = (request: FastifyRequest, reply: FastifyReply, ticket: string) => {
    // without a token only the address is counted: `by` is 'address'
    const blocked = throttle?.check(request.ip, undefined);
    if (blocked) throw throttledProblem(blocked);
    const redeemed = options.tickets!.redeem(ticket);
    if (!redeemed.ok) {
      throttle?.fail(request.ip, undefined);
      failures?.inc({ reason: `ticket_${redeemed.reason}` });
      request.log.info({ authFailure: `ticket_${redeemed.reason}`, ip: request.ip }, 'stream ticket refused');
      throw new HttpProblem({
        status: 401,
        type: AUTH_PROBLEM_TYPES.ticketRefused,
        title: 'Stream ticket refused',
        detail:
          redeemed.reason === 'expired'
            ? 'The stream ticket expired before it was used; request a new one (POST /api/v1/live/tickets).'
            : 'The stream ticket is not valid or was already used (a ticket opens one connection); request a new one (POST /api/v1/live/tickets).',
        headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token"` },
      });
    }
    admit(request, reply, redeemed.principal);
  };

  return async function bearerAuth(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    if (
      (header === undefined || header.length === 0) &&
      options.tickets !== undefined &&
      (request.routeOptions.config as AccessConfig | undefined)?.streamTicket === true
    ) {
      const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
      if (typeof ticket === 'string' && ticket.length > 0) return ticketAuth(request, reply, ticket);
    }
    if (header === undefined || header.length === 0) {
      throw new HttpProblem({
        status: 401,
        detail: 'This endpoint requires Authorization: Bearer <token>.',
        headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
      });
    }
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    const presented = match?.[1];
    // While this address or token prefix has spent its failures, only an API key is still checked: its
    // 256 random bits make guessing hopeless, so serving a valid one leaks nothing, and callers behind
    // the same address keep working. The admin token (chosen by the operator, perhaps weaker) is not
    // even compared, so a flood cannot go on guessing it.
    const blocked = throttle?.check(request.ip, presented);
    const isKey = presented?.startsWith(KEY_PREFIX) === true;
    let auth: KeyAuthentication = { ok: false };
    if (presented !== undefined && (blocked === undefined || isKey)) {
      if (blocked === undefined && timingSafeEqual(digest(presented), expected))
        auth = { ok: true, principal: ADMIN_PRINCIPAL };
      else if (options.keys?.authenticate) auth = await options.keys.authenticate(presented);
      else {
        const principal = await options.keys?.resolve(presented);
        if (principal) auth = { ok: true, principal };
      }
    }
    if (!auth.ok) {
      if (blocked) throw throttledProblem(blocked);
      throttle?.fail(request.ip, presented);
      const refusal = auth.refusal;
      failures?.inc({ reason: presented === undefined ? 'malformed' : (refusal?.reason ?? 'invalid') });
      request.log.info(
        {
          authFailure: presented === undefined ? 'malformed' : (refusal?.reason ?? 'invalid'),
          ip: request.ip,
        },
        'bearer authentication failed',
      );
      if (refusal !== undefined) {
        const expired = refusal.reason === 'expired';
        throw new HttpProblem({
          status: 401,
          type: expired ? AUTH_PROBLEM_TYPES.keyExpired : AUTH_PROBLEM_TYPES.keyRotated,
          title: expired ? 'API key expired' : 'API key secret rotated out',
          detail: expired
            ? `The API key ${refusal.keyId} expired at ${refusal.at}; an administrator can extend it (PATCH /api/v1/keys/${refusal.keyId}) or rotate it.`
            : `This secret of the API key ${refusal.keyId} was replaced by a rotation and stopped working at ${refusal.at}; use the new secret.`,
          headers: {
            'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${expired ? 'the key expired' : 'the secret was rotated out'}"`,
          },
        });
      }
      throw new HttpProblem({
        status: 401,
        detail: 'The bearer token is missing, malformed or not valid.',
        headers: {
          'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="invalid token"`,
        },
      });
    }
    // The previous secret of a rotated key: say until when it works (RFC 8594's Sunset field).
    if (auth.previousValidUntil !== undefined)
      reply.header('sunset', new Date(auth.previousValidUntil).toUTCString());
    admit(request, reply, auth.principal);
  };
}

/**
 * An onRoute hook: a route's declared scope and roles go into its OpenAPI operation (`x-scope`,
 * `x-roles`, and a sentence of the description), so the document says what each key may call.
 */
export function documentAccess(route: RouteOptions): void {
  const config = route.config as AccessConfig | undefined;
  if (config?.scope === undefined && config?.anyScope === undefined && config?.roles === undefined) return;
  const schema = { ...(route.schema ?? {}) } as Record<string, unknown>;
  const notes: string[] = [];
  if (config.scope !== undefined) {
    schema['x-scope'] = config.scope;
    notes.push(`Needs the scope \`${config.scope}\` (${SCOPES[config.scope]}).`);
  }
  if (config.anyScope !== undefined) {
    schema['x-scope'] = config.anyScope.join(' | ');
    notes.push(`Needs one of the scopes ${config.anyScope.map((s) => `\`${s}\``).join(', ')}.`);
  }
  if (config.roles !== undefined) {
    schema['x-roles'] = [...config.roles];
    notes.push(`Only for the role${config.roles.length > 1 ? 's' : ''} ${config.roles.join(', ')}.`);
  }
  const description = typeof schema.description === 'string' ? `${schema.description}\n\n` : '';
  schema.description = `${description}${notes.join(' ')}`;
  route.schema = schema as RouteOptions['schema'];
}

/**
 * Auth for a route group, as a plugin that is NOT encapsulated (fastify's `skip-override`, what
 * fastify-plugin sets): registered inside a scope, its hook guards every route of that scope, including
 * the scope's not-found handler, so `/api/v1/anything` without a token is a 401, not a 404.
 */
export const bearerAuth: FastifyPluginAsync<BearerAuthOptions> = Object.assign(
  async (app: Parameters<FastifyPluginAsync<BearerAuthOptions>>[0], options: BearerAuthOptions) => {
    app.addHook('onRequest', bearerAuthHook(options));
    app.addHook('onRoute', documentAccess);
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'bearer-auth' },
);
