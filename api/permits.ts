import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { ComplianceRegistry, InputOf, PermitState, RegistryPermit } from '../registry/compliance.ts';
import { bearerSecurity } from './auth.ts';
import {
  attempt,
  idMismatch,
  notFound,
  REGISTRY_RESPONSES,
  updateResponses,
  versionListOptions,
  versionReadOptions,
  versionsOf,
} from './compliance-problems.ts';
import {
  EntityParamsSchema,
  PermitAuditSchema,
  PermitInputSchema,
  PermitListSchema,
  PermitSchema,
  PermitStatusBodySchema,
  PermitsQuerySchema,
  versionListSchema,
} from './compliance-schemas.ts';
import { byIdKey, paginate } from './paging.ts';
import { canSee, listFirm, type Principal, requireRole, visible } from './principal.ts';
import { HttpProblem } from './problem.ts';
import { fieldProblem, replyCreated } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Permits (建筑垃圾处置核准) as JSON, every change a new version, with their workflow: a firm applies
 * and amends, the city decides (approve, reject, revoke). Register inside the scope guarded by
 * `bearerAuth` (prefix /api/v1).
 */

export interface PermitRoutesOptions {
  registry: ComplianceRegistry;
}

const { unauthorized, invalid, unknown, conflict } = REGISTRY_RESPONSES;

/** A firm key names only its own firm on a permit; another firm is unknown to it (400 naming /firm). */
function ownPermitFirm(principal: Principal, firm: string): void {
  if (!canSee(principal, firm)) throw fieldProblem('/firm', `unknown firm ${JSON.stringify(firm)}`);
}

function permitDto(p: RegistryPermit, updatedAt?: string) {
  return updatedAt === undefined ? { ...p } : { ...p, updatedAt };
}

export const permitRoutes: FastifyPluginAsyncZod<PermitRoutesOptions> = async (app, { registry }) => {
  const tags = ['compliance'];
  /** The latest version, with its workflow status today. */
  const renderPermit = (p: RegistryPermit) => ({
    ...permitDto(p, registry.record('permit', p.id)?.createdAt),
    status: registry.permitStatus(p),
  });
  type PermitBody = z.output<typeof PermitInputSchema>;
  /**
   * The permit a POST (no id) or PUT stores for this principal. A firm applies and amends, the city
   * decides: a firm's permit is always `submitted` (amending a rejected one resubmits it). A permit an
   * admin creates is `approved` unless it names a state: the city issuing a permit itself, enforced at
   * once and audited as created approved by that key. An admin's update keeps the state unless it names
   * one, and a named state must be an allowed transition (the registry checks, `workflow: true`).
   */
  const permitInput = (principal: Principal, body: PermitBody, id?: string): InputOf<'permit'> => {
    const { version: _v, updatedAt: _u, status: _s, reason: _r, state, ...rest } = body;
    let next: PermitState;
    if (principal.role === 'firm') {
      if (state !== undefined && state !== 'submitted') {
        throw new HttpProblem({
          status: 403,
          title: 'Forbidden',
          detail: `A firm key submits permits; only the city makes one ${state}.`,
        });
      }
      next = 'submitted';
    } else {
      next = state ?? (id === undefined ? undefined : registry.get('permit', id)?.state) ?? 'approved';
    }
    return { ...rest, ...(id === undefined ? {} : { id }), state: next };
  };
  const writeOptions = (
    principal: Principal,
    body: { reason?: string | undefined; version?: number | undefined },
  ) => ({
    actor: principal.keyId,
    workflow: true,
    ...(body.reason === undefined ? {} : { note: body.reason }),
    ...(body.version === undefined ? {} : { ifVersion: body.version }),
  });

  app.post(
    '/permits',
    {
      config: { scope: 'permits:write', roles: ['admin', 'firm'], audit: { entity: 'permit' } },
      schema: {
        summary: 'Create a permit',
        description:
          '建筑垃圾处置核准. Sites and routes must exist (origins of kind origin, disposals of kind disposal). A firm key applies: the permit is `submitted` and not enforced until the city approves it (POST /permits/{id}/status). An admin key issues it: `approved` unless `state` says otherwise. Only approved permits are enforced, within their dates.',
        tags,
        security: bearerSecurity,
        body: PermitInputSchema,
        response: {
          201: jsonResponse('the permit as stored, with its version', PermitSchema),
          400: invalid,
          401: unauthorized,
          409: conflict,
        },
      },
    },
    async (request, reply) => {
      ownPermitFirm(request.principal, request.body.firm);
      const input = permitInput(request.principal, request.body);
      const permit = attempt(() =>
        registry.put('permit', input, { ...writeOptions(request.principal, request.body), ifVersion: 0 }),
      );
      replyCreated(request, reply, permit.id);
      return renderPermit(permit);
    },
  );

  app.get(
    '/permits',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'List permits',
        description:
          'Latest version of every permit, ordered by id; filters combine with AND. With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: PermitsQuerySchema,
        response: { 200: jsonResponse('permits', PermitListSchema), 400: invalid, 401: unauthorized },
      },
    },
    async (request) => {
      const { state, status } = request.query;
      const firm = listFirm(request.principal, request.query.firm);
      if (firm === null) return { items: [], count: 0 };
      const items = registry
        .list('permit')
        .filter((p) => (state === undefined || p.state === state) && (firm === undefined || p.firm === firm))
        .map(renderPermit)
        .filter((p) => status === undefined || p.status === status);
      return paginate(items, byIdKey, request.query);
    },
  );

  app.get(
    '/permits/:id',
    versionReadOptions({ summary: 'Get a permit', tags }, jsonResponse('the permit', PermitSchema)),
    async (request) => {
      const { id } = request.params;
      const { version } = request.query;
      const rec = registry.record('permit', id, version);
      if (rec?.entity === undefined || !canSee(request.principal, rec.entity.firm))
        notFound('permit', id, version);
      const latest = registry.record('permit', id);
      return latest?.version === rec.version
        ? renderPermit(rec.entity)
        : permitDto(rec.entity, rec.createdAt);
    },
  );

  app.put(
    '/permits/:id',
    {
      config: { scope: 'permits:write', roles: ['admin', 'firm'], audit: { entity: 'permit' } },
      schema: {
        summary: 'Update a permit',
        description:
          'Writes a new version. With `version`, refused (409) unless it is the current version. A firm key amends its own submitted or rejected permit (which resubmits it); an approved one is the city’s to change or revoke. A change of `state` by an admin key is a workflow transition (409 when not allowed; `reason` required to reject or revoke).',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        body: PermitInputSchema,
        response: updateResponses(jsonResponse('the permit as stored, with its new version', PermitSchema)),
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      if (body.id !== undefined && body.id !== id) idMismatch(body.id, id);
      if (visible(request.principal, registry.get('permit', id)) === undefined) notFound('permit', id);
      ownPermitFirm(request.principal, body.firm);
      const input = permitInput(request.principal, body, id);
      return renderPermit(
        attempt(() => registry.put('permit', input, writeOptions(request.principal, body))),
      );
    },
  );

  app.get(
    '/permits/:id/versions',
    versionListOptions(
      { summary: 'Versions of a permit', tags },
      jsonResponse('the versions', versionListSchema(PermitSchema, 'PermitVersions')),
    ),
    async (request) => {
      const { id } = request.params;
      const history = registry.history('permit', id);
      if (history.length === 0 || visible(request.principal, registry.get('permit', id)) === undefined) {
        notFound('permit', id);
      }
      return versionsOf('permit', id, history, permitDto);
    },
  );

  app.post(
    '/permits/:id/status',
    {
      config: {
        scope: 'permits:write',
        roles: ['admin', 'firm'],
        audit: { entity: 'permit', action: 'status' },
      },
      schema: {
        summary: 'Decide on a permit (approve, reject, revoke, resubmit)',
        description:
          'A workflow transition: submitted → approved | rejected, rejected → submitted, approved/active → revoked. ' +
          'Approving, rejecting and revoking are the city’s (admin keys; a reason is required to reject or revoke); ' +
          'a firm key may only resubmit its own rejected permit. Writes a new version of the permit (its author and ' +
          'reason are in GET /permits/{id}/audit); a violation keeps pointing at the version it was judged against. ' +
          'An illegal transition is a 409 problem naming the current and the requested status.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        body: PermitStatusBodySchema,
        response: {
          200: jsonResponse('the permit as stored, with its new version and status', PermitSchema),
          400: invalid,
          401: unauthorized,
          403: problemResponse('the key may not make this decision'),
          404: unknown,
          409: problemResponse('the current status does not allow it, or version mismatch'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { status } = request.body;
      if (visible(request.principal, registry.get('permit', id)) === undefined) notFound('permit', id);
      if (status !== 'submitted') requireRole(request, 'admin');
      const opts = writeOptions(request.principal, request.body);
      return renderPermit(
        attempt(() =>
          registry.transitionPermit(id, status, {
            actor: opts.actor,
            ...(opts.note === undefined ? {} : { reason: opts.note }),
            ...(opts.ifVersion === undefined ? {} : { ifVersion: opts.ifVersion }),
          }),
        ),
      );
    },
  );

  app.get(
    '/permits/:id/audit',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'Audit trail of a permit',
        description:
          'Every change, oldest first: creation, amendments and decisions, each with the version it wrote, the ' +
          'status before and after, the API key that made it, when (ISO-8601 UTC) and why.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the audit trail', PermitAuditSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const items = registry.permitAudit(id);
      if (items.length === 0 || visible(request.principal, registry.get('permit', id)) === undefined) {
        notFound('permit', id);
      }
      return { id, items, count: items.length };
    },
  );
};
