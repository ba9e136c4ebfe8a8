import type { FastifyRequest } from 'fastify';
import { hasScope, type Principal, type Role, type Scope, visible } from '../core/principal.ts';
import { HttpProblem } from './problem.ts';

// The principal, roles and scopes are the domain's (core/principal.ts); re-exported for the routes.
export * from '../core/principal.ts';

/** What a route declares about who may call it; enforced by the auth hook before validation. */
export interface AccessConfig {
  /** the scope the key must hold */
  scope?: Scope;
  /** or: the key must hold at least one of these scopes (a route that serves what the key may read) */
  anyScope?: readonly Scope[];
  /** the roles that may call the route at all (use only where no other firm's resource is named) */
  roles?: readonly Role[];
  /**
   * the route also accepts a stream ticket as `?ticket=` instead of the Authorization header: only the
   * live streams, which a browser opens with EventSource (api/live-tickets.ts)
   */
  streamTicket?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig extends AccessConfig {}
}

/** Throws 403 naming the scope unless the principal holds it. */
export function requireScope(request: FastifyRequest, scope: Scope): void {
  if (!hasScope(request.principal, scope)) {
    throw new HttpProblem({
      status: 403,
      type: ACCESS_PROBLEM_TYPES.missingScope,
      title: 'Missing scope',
      detail: `This operation needs the scope ${scope}; the key does not have it.`,
    });
  }
}

/** Throws 403 naming the scopes unless the key has at least one of them. */
export function requireAnyScope(request: FastifyRequest, scopes: readonly Scope[]): void {
  if (!scopes.some((scope) => hasScope(request.principal, scope))) {
    throw new HttpProblem({
      status: 403,
      type: ACCESS_PROBLEM_TYPES.missingScope,
      title: 'Missing scope',
      detail: `This operation needs one of the scopes ${scopes.join(', ')}; the key has none of them.`,
    });
  }
}

export const ACCESS_PROBLEM_TYPES = {
  missingScope: 'urn:citywatch:problem:missing-scope',
  forbiddenRole: 'urn:citywatch:problem:forbidden-role',
} as const;

/** Throws 403 unless the principal has one of the roles. */
export function requireRole(request: FastifyRequest, ...roles: Role[]): void {
  if (!roles.includes(request.principal.role)) {
    throw new HttpProblem({
      status: 403,
      type: ACCESS_PROBLEM_TYPES.forbiddenRole,
      title: 'Forbidden',
      detail: `This operation needs the role ${roles.join(' or ')}; the key has the role ${request.principal.role}.`,
    });
  }
}

/** The route's declared access (config.scope, config.roles); called by the auth hook. */
export function enforceAccess(request: FastifyRequest): void {
  const config = request.routeOptions.config as AccessConfig | undefined;
  if (config?.scope !== undefined) requireScope(request, config.scope);
  if (config?.anyScope !== undefined) requireAnyScope(request, config.anyScope);
  if (config?.roles !== undefined) requireRole(request, ...config.roles);
}

/**
 * For the endpoints that acknowledge a violation or change its status: the violation must be visible to
 * the key (else `unknown()`, the route's own 404, as if it did not exist), the key must hold
 * `violations:write` (403 naming it), and the role must be admin or monitor (403). Call it after loading
 * the violation.
 */
export function authorizeViolationChange<T extends { firm?: string }>(
  request: FastifyRequest,
  violation: T | undefined,
  unknown: () => Error,
): T {
  const seen = visible(request.principal, violation);
  if (seen === undefined) throw unknown();
  requireScope(request, 'violations:write');
  requireRole(request, 'admin', 'monitor');
  return seen;
}
