/*
 * The caller and its rights, as plain data and pure functions: the API's auth hook resolves a principal,
 * the registry's key store creates and stores them, and every layer above may read them. The HTTP side
 * (the route guards that answer 403) is api/principal.ts.
 */

/**
 * Who is calling the API, as the auth hook (api/auth.ts) resolved it from the bearer key, and what it may
 * do. Every route reads `request.principal`; the tenancy rule is one function (`visibleFirm`) so every
 * route applies it the same way.
 *
 * Roles (issue 4):
 *  - admin:   city administrators; everything
 *  - monitor: read everything, acknowledge violations; never creates or changes registry resources
 *  - firm:    its own vehicles, devices, officers, permits, trips and violations only
 *
 * Scopes narrow a key below its role: a key with an empty scope list has its role's defaults
 * (`ROLE_SCOPES`); a key's explicit scopes must be a subset of them (checked when the key is created), so
 * a scope never widens a role. A route declares the scope it needs in its config
 * (`config: { scope: 'positions:read' }`): the auth hook refuses a key without it (403 naming the scope)
 * before the body is validated, and the OpenAPI document shows it (`x-scope`).
 */
export type Role = 'admin' | 'monitor' | 'firm';
export const ROLES = ['admin', 'monitor', 'firm'] as const satisfies readonly Role[];

/** Every scope, with what it grants (shown in the OpenAPI document and the README). */
export const SCOPES = {
  'positions:read': 'latest positions, tracks and live streams',
  'violations:read': 'violations, trips, evidence and firm scorecards',
  'violations:write': 'acknowledge violations and change their status',
  'registry:read': 'firms, vehicles, officers and devices',
  'registry:write': 'create, change and delete firms, vehicles and officers',
  'devices:write': 'provision devices, rotate their secrets, disable, enable and delete them',
  'compliance:read': 'sites, routes, zones, permits and thresholds',
  'compliance:write': 'sites, routes, zones and thresholds (city data)',
  'permits:write': 'apply for and change disposal permits',
  'webhooks:read': 'webhook subscriptions and deliveries',
  'webhooks:write': 'create, change and delete webhook subscriptions',
  'keys:read': 'API keys (never their secrets)',
  'keys:write': 'create, disable, enable, rotate and revoke API keys',
  'audit:read': 'the audit log of changes and its verification',
} as const;
export type Scope = keyof typeof SCOPES;
export const SCOPE_NAMES = Object.keys(SCOPES) as Scope[];

/**
 * What each role may hold, which is also what a key of that role has when its scope list is empty. The
 * role still limits what a scope allows: a firm's `registry:write` changes only its own vehicles and
 * officers, and creating firms needs the admin role whatever the scopes.
 */
export const ROLE_SCOPES: Readonly<Record<Role, readonly Scope[]>> = Object.freeze({
  admin: SCOPE_NAMES,
  monitor: [
    'positions:read',
    'violations:read',
    'violations:write',
    'registry:read',
    'compliance:read',
    'webhooks:read',
    'webhooks:write',
  ],
  firm: [
    'positions:read',
    'violations:read',
    'registry:read',
    'registry:write',
    'devices:write',
    'compliance:read',
    'permits:write',
    'webhooks:read',
    'webhooks:write',
  ],
});

export interface Principal {
  /** the API key's id (never its secret); 'admin-token' for the bootstrap ADMIN_TOKEN */
  keyId: string;
  role: Role;
  /** the firm a `firm` key belongs to (always set for that role) */
  firm?: string;
  /** per-key scopes, e.g. 'positions:read'; an empty list means the role's defaults */
  scopes: readonly string[];
}

/**
 * Resolves a presented bearer secret to its principal, or undefined when no enabled key has it. The API
 * key store implements it; the auth hook tries it after the bootstrap admin token.
 */
export interface ApiKeyResolver {
  resolve(secret: string): Principal | undefined | Promise<Principal | undefined>;
  /**
   * Like resolve, and says why a secret that matched a key is refused (it expired, or it was rotated
   * out), or that it is a key's previous secret still in its rotation overlap. Used when present.
   */
  authenticate?(secret: string): KeyAuthentication | Promise<KeyAuthentication>;
}

/** Why a presented secret was refused, when the key store can tell (else it is simply not valid). */
export type KeyRefusal =
  | { reason: 'expired'; keyId: string; at: string }
  | { reason: 'rotated'; keyId: string; at: string };

export type KeyAuthentication =
  | { ok: true; principal: Principal; previousValidUntil?: string }
  | { ok: false; refusal?: KeyRefusal };

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

/**
 * The entity when the principal may see it, else undefined: a route answers both cases with the same
 * "unknown X" 404, so another firm's resource is indistinguishable from one that does not exist.
 */
export function visible<T extends { firm?: string }>(
  principal: Principal,
  entity: T | undefined,
): T | undefined {
  return entity !== undefined && canSee(principal, entity.firm) ? entity : undefined;
}

/**
 * The firm filter of a list for this principal: the firm asked for, confined to the principal's own.
 * `null` when the principal asked for another firm's items (the answer is an empty list).
 */
export function listFirm(principal: Principal, asked: string | undefined): string | undefined | null {
  const only = visibleFirm(principal);
  if (only === undefined) return asked;
  return asked === undefined || asked === only ? only : null;
}

/** The scopes a principal holds: its own list, or its role's defaults when the list is empty. */
export function effectiveScopes(principal: Principal): readonly string[] {
  return principal.scopes.length > 0 ? principal.scopes : ROLE_SCOPES[principal.role];
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  // A key's scopes were checked against its role when it was created; checking the role again here
  // keeps a stored key from widening its role should the role's list shrink later.
  return effectiveScopes(principal).includes(scope) && ROLE_SCOPES[principal.role].includes(scope);
}
