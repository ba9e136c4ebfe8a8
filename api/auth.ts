import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_PRINCIPAL, type ApiKeyResolver, type Principal } from './principal.ts';
import { HttpProblem } from './problem.ts';

/** Name of the OpenAPI security scheme (`components.securitySchemes`) the protected routes declare. */
export const BEARER_SCHEME = 'bearerAuth';
/** `schema.security` of a protected route. */
export const bearerSecurity = [{ [BEARER_SCHEME]: [] as string[] }];

const REALM = 'citywatch';

export interface BearerAuthOptions {
  /** the bootstrap admin token (ADMIN_TOKEN); always accepted as the admin principal */
  token: string;
  /** API keys (admin, monitor, firm); when absent only the admin token is accepted */
  keys?: ApiKeyResolver;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * An onRequest hook that refuses, with 401 and `WWW-Authenticate: Bearer` (RFC 6750), every request
 * without `Authorization: Bearer <token>`. Both sides are hashed before the constant-time comparison,
 * so neither the content nor the length of the token leaks through timing.
 */
export function bearerAuthHook(options: BearerAuthOptions) {
  if (options.token.length === 0 || /\s/.test(options.token)) {
    throw new Error('api: the admin token must be a non-empty string without whitespace');
  }
  const expected = digest(options.token);
  return async function bearerAuth(request: FastifyRequest, _reply: FastifyReply) {
    const header = request.headers.authorization;
    if (header === undefined || header.length === 0) {
      throw new HttpProblem({
        status: 401,
        detail: 'This endpoint requires Authorization: Bearer <token>.',
        headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
      });
    }
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    const presented = match?.[1];
    let principal: Principal | undefined;
    if (presented !== undefined) {
      principal = timingSafeEqual(digest(presented), expected)
        ? ADMIN_PRINCIPAL
        : await options.keys?.resolve(presented);
    }
    if (principal === undefined) {
      throw new HttpProblem({
        status: 401,
        detail: 'The bearer token is missing, malformed or not valid.',
        headers: {
          'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="invalid token"`,
        },
      });
    }
    request.principal = principal;
  };
}

/**
 * Auth for a route group, as a plugin that is NOT encapsulated (fastify's `skip-override`, what
 * fastify-plugin sets): registered inside a scope, its hook guards every route of that scope, including
 * the scope's not-found handler, so `/api/v1/anything` without a token is a 401, not a 404.
 */
export const bearerAuth: FastifyPluginAsync<BearerAuthOptions> = Object.assign(
  async (app: Parameters<FastifyPluginAsync<BearerAuthOptions>>[0], options: BearerAuthOptions) => {
    app.addHook('onRequest', bearerAuthHook(options));
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'bearer-auth' },
);
