import type { FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.ts';

/**
 * Who is calling the API, as the auth hook (api/auth.ts) resolved it from the bearer key. Every route
 * reads `request.principal`; the tenancy rule is one function (`visibleFirm`) so every route applies
 * it the same way.
 *
 * Roles (issue 4):
 *  - admin:   city administrators; everything
 *  - monitor: read everything, acknowledge violations
 *  - firm:    its own vehicles, devices, permits, trips and violations only
 */
export type Role = 'admin' | 'monitor' | 'firm';

export interface Principal {
  /** the API key's id (never its secret); 'admin-token' for the bootstrap ADMIN_TOKEN */
  keyId: string;
  role: Role;
  /** the firm a `firm` key belongs to (always set for that role) */
  firm?: string;
  /** per-key scopes, e.g. 'positions:read'; an empty list means the role's defaults */
  scopes: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/**
 * Resolves a presented bearer secret to its principal, or undefined when no enabled key has it. The API
 * key store implements it; the auth hook tries it after the bootstrap admin token.
 */
export interface ApiKeyResolver {
  resolve(secret: string): Principal | undefined | Promise<Principal | undefined>;
}

/** The bootstrap administrator (the ADMIN_TOKEN setting). */
export const ADMIN_PRINCIPAL: Principal = Object.freeze({ keyId: 'admin-token', role: 'admin', scopes: [] });

/**
 * The firm a principal is confined to, or undefined when it may see every firm. Routes filter lists by
 * it and answer 404 (not 403) for a single resource of another firm, so a firm key cannot even confirm
 * that another firm's resource exists.
 */
export function visibleFirm(principal: Principal): string | undefined {
  return principal.role === 'firm' ? principal.firm : undefined;
}

/** true when the principal may see a resource owned by `firm`. */
export function canSee(principal: Principal, firm: string | undefined): boolean {
  const only = visibleFirm(principal);
  return only === undefined || only === firm;
}

/** Throws 403 unless the principal has one of the roles. */
export function requireRole(request: FastifyRequest, ...roles: Role[]): void {
  if (!roles.includes(request.principal.role)) {
    throw new HttpProblem({
      status: 403,
      detail: `This operation needs the role ${roles.join(' or ')}; the key has the role ${request.principal.role}.`,
    });
  }
}
