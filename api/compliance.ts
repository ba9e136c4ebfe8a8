import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import {
  CITY_THRESHOLDS_ID,
  type ComplianceKind,
  type ComplianceRegistry,
  ConflictError,
  type EntityOf,
  type EntityVersion,
  type InputOf,
  NotFoundError,
  type PermitState,
  type RegistryPermit,
  TransitionError,
} from '../registry/compliance.ts';
import {
  type Crs,
  featureCollection,
  routeFromFeature,
  routeToFeature,
  siteFromFeature,
  siteToFeature,
  zoneFromFeature,
  zoneToFeature,
} from '../registry/geojson.ts';
import { ValidationError } from '../registry/geometry.ts';
import { bearerSecurity } from './auth.ts';
import {
  DeletedSchema,
  EntityParamsSchema,
  FeatureInQuerySchema,
  GeoListQuerySchema,
  PermitAuditSchema,
  PermitInputSchema,
  PermitListSchema,
  PermitSchema,
  PermitStatusBodySchema,
  PermitsQuerySchema,
  RouteCollectionSchema,
  RouteFeatureInSchema,
  RouteFeatureSchema,
  SiteCollectionSchema,
  SiteFeatureInSchema,
  SiteFeatureSchema,
  ThresholdsPutSchema,
  ThresholdsSchema,
  VersionQuerySchema,
  versionListSchema,
  ZoneCollectionSchema,
  ZoneFeatureInSchema,
  ZoneFeatureSchema,
} from './compliance-schemas.ts';
import { byIdKey, paginate } from './paging.ts';
import { canSee, listFirm, type Principal, requireRole, visible } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { fieldProblem, replyCreated } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/** Problem types of the compliance registry routes (others: PROBLEM_TYPES in problem.ts). */
export const COMPLIANCE_PROBLEM_TYPES = {
  unknownEntity: 'urn:citywatch:problem:unknown-entity',
  conflict: 'urn:citywatch:problem:conflict',
  /** a workflow transition the current status does not allow (permits here, violations in violations.ts) */
  illegalTransition: 'urn:citywatch:problem:illegal-transition',
} as const;

export interface ComplianceRoutesOptions {
  registry: ComplianceRegistry;
  /** recorded as the author of every change (one admin token for now; per-user tokens come later) */
  actor?: string;
}

/** `geometry.coordinates[0][3]` as the JSON pointer `/geometry/coordinates/0/3`. */
export function toPointer(path: string): string {
  if (path === '') return '';
  const parts = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p.length > 0);
  return parts.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Registry errors as problems: invalid → 400 naming each field, unknown → 404, conflict → 409. */
function problemOf(err: unknown, part = 'body'): unknown {
  if (err instanceof ValidationError) {
    const errors = err.issues.map((i) => ({ in: part, pointer: toPointer(i.path), message: i.message }));
    return new HttpProblem({
      status: 400,
      type: PROBLEM_TYPES.validation,
      title: 'Invalid request',
      detail: errors.map((e) => `${e.in}${e.pointer}: ${e.message}`).join('; '),
      errors,
    });
  }
  if (err instanceof NotFoundError) {
    return new HttpProblem({
      status: 404,
      type: COMPLIANCE_PROBLEM_TYPES.unknownEntity,
      title: 'Unknown entity',
      detail: `${err.message}.`,
    });
  }
  if (err instanceof TransitionError) {
    return new HttpProblem({
      status: 409,
      type: COMPLIANCE_PROBLEM_TYPES.illegalTransition,
      title: 'Illegal transition',
      detail: `${err.message}.`,
    });
  }
  if (err instanceof ConflictError) {
    return new HttpProblem({
      status: 409,
      type: COMPLIANCE_PROBLEM_TYPES.conflict,
      title: 'Conflict',
      detail: `${err.message}.`,
    });
  }
  return err;
}

export function attempt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw problemOf(err);
  }
}

export function notFound(kind: ComplianceKind, id: string, version?: number): never {
  throw problemOf(new NotFoundError(kind, id, version));
}

export function idMismatch(bodyId: string, id: string): never {
  throw problemOf(
    new ValidationError([{ path: 'id', message: `'${bodyId}' does not match the URL id '${id}'` }]),
  );
}

const unauthorized = problemResponse('missing or invalid bearer token');
const invalid = problemResponse('invalid body, geometry or query: every field at fault is named');
const unknown = problemResponse('unknown entity or version');
const conflict = problemResponse('id exists, version mismatch, or still used by a permit');

interface GeoKind<K extends 'site' | 'route' | 'zone'> {
  kind: K;
  plural: string;
  label: string;
  fromFeature(body: unknown, opts: { crs?: Crs }): InputOf<K>;
  toFeature(entity: EntityOf<K>, updatedAt?: string): unknown;
  input: z.ZodType;
  output: z.ZodType;
  collection: z.ZodType;
  versions: z.ZodType;
}

const SITES: GeoKind<'site'> = {
  kind: 'site',
  plural: 'sites',
  label: 'site (origin 工地 or disposal 消纳场)',
  fromFeature: siteFromFeature,
  toFeature: siteToFeature,
  input: SiteFeatureInSchema,
  output: SiteFeatureSchema,
  collection: SiteCollectionSchema,
  versions: versionListSchema(SiteFeatureSchema, 'SiteVersions'),
};
const ROUTES: GeoKind<'route'> = {
  kind: 'route',
  plural: 'routes',
  label: 'route (a polyline with a corridor)',
  fromFeature: routeFromFeature,
  toFeature: routeToFeature,
  input: RouteFeatureInSchema,
  output: RouteFeatureSchema,
  collection: RouteCollectionSchema,
  versions: versionListSchema(RouteFeatureSchema, 'RouteVersions'),
};
const ZONES: GeoKind<'zone'> = {
  kind: 'zone',
  plural: 'zones',
  label: 'zone (restricted 禁行区 or speed)',
  fromFeature: zoneFromFeature,
  toFeature: zoneToFeature,
  input: ZoneFeatureInSchema,
  output: ZoneFeatureSchema,
  collection: ZoneCollectionSchema,
  versions: versionListSchema(ZoneFeatureSchema, 'ZoneVersions'),
};

type App = Parameters<FastifyPluginAsyncZod>[0];

export function versionsOf<K extends ComplianceKind, B>(
  kind: K,
  id: string,
  records: EntityVersion<K>[],
  render: (entity: EntityOf<K>, updatedAt: string) => B,
) {
  const items = records.map((r) => ({
    version: r.version,
    deleted: r.deleted,
    createdAt: r.createdAt,
    ...(r.actor === undefined ? {} : { actor: r.actor }),
    ...(r.entity === undefined ? {} : { body: render(r.entity, r.createdAt) }),
  }));
  return { kind, id, items, count: items.length };
}

/** POST/GET /{plural}, GET/PUT/DELETE /{plural}/:id, GET /{plural}/:id/versions for a GeoJSON kind. */
function geoRoutes<K extends 'site' | 'route' | 'zone'>(
  app: App,
  registry: ComplianceRegistry,
  actor: string,
  k: GeoKind<K>,
) {
  const tags = ['compliance'];
  const render = (entity: EntityOf<K>) => k.toFeature(entity, registry.record(k.kind, entity.id)?.createdAt);
  const base = `/${k.plural}`;
  type Body = { id?: string | number; properties: { version?: number } };

  app.post(
    base,
    {
      config: { scope: 'compliance:write', roles: ['admin'], audit: { entity: k.kind } },
      schema: {
        summary: `Create a ${k.kind}`,
        description:
          `A ${k.label} as a GeoJSON Feature. GCJ-02 geometry is converted to WGS-84 when declared ` +
          '(`?crs=GCJ02` or `properties.crs`). Version 1, or the next version after a deletion.',
        tags,
        security: bearerSecurity,
        querystring: FeatureInQuerySchema,
        body: k.input,
        response: {
          201: jsonResponse(`the ${k.kind} as stored (WGS-84), with its version`, k.output),
          400: invalid,
          401: unauthorized,
          409: conflict,
        },
      },
    },
    async (request, reply) => {
      const crs = (request.query as { crs?: Crs }).crs;
      const input = attempt(() => k.fromFeature(request.body, crs === undefined ? {} : { crs }));
      const entity = attempt(() => registry.put(k.kind, input, { actor, ifVersion: 0 }));
      replyCreated(request, reply, entity.id);
      return render(entity);
    },
  );

  app.get(
    base,
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: `List ${k.plural}`,
        description:
          `The latest version of every ${k.kind} not deleted, ordered by id, as a FeatureCollection. ` +
          'With `limit` or `cursor` in pages: `nextCursor` is a member of the collection.',
        tags,
        security: bearerSecurity,
        querystring: GeoListQuerySchema,
        response: {
          200: jsonResponse(`${k.plural} (WGS-84)`, k.collection),
          400: invalid,
          401: unauthorized,
        },
      },
    },
    async (request) => {
      const page = paginate(registry.list(k.kind), byIdKey, request.query);
      const body = featureCollection(page.items.map(render));
      return page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor };
    },
  );

  app.get(
    `${base}/:id`,
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: `Get a ${k.kind}`,
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        querystring: VersionQuerySchema,
        response: {
          200: jsonResponse(`the ${k.kind} (WGS-84)`, k.output),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { version } = request.query;
      const rec = registry.record(k.kind, id, version);
      if (rec?.entity === undefined) notFound(k.kind, id, version);
      return k.toFeature(rec.entity, rec.createdAt);
    },
  );

  app.put(
    `${base}/:id`,
    {
      config: { scope: 'compliance:write', roles: ['admin'], audit: { entity: k.kind } },
      schema: {
        summary: `Update a ${k.kind}`,
        description:
          'Writes a new version. With `properties.version`, refused (409) unless it is the current version.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        querystring: FeatureInQuerySchema,
        body: k.input,
        response: {
          200: jsonResponse(`the ${k.kind} as stored, with its new version`, k.output),
          400: invalid,
          401: unauthorized,
          404: unknown,
          409: conflict,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body as Body;
      if (body.id !== undefined && String(body.id) !== id) idMismatch(String(body.id), id);
      if (registry.get(k.kind, id) === undefined) notFound(k.kind, id);
      const crs = (request.query as { crs?: Crs }).crs;
      const input = attempt(() => k.fromFeature({ ...body, id }, crs === undefined ? {} : { crs }));
      const ifVersion = body.properties.version;
      const entity = attempt(() =>
        registry.put(k.kind, input, ifVersion === undefined ? { actor } : { actor, ifVersion }),
      );
      return render(entity);
    },
  );

  app.delete(
    `${base}/:id`,
    {
      config: { scope: 'compliance:write', roles: ['admin'], audit: { entity: k.kind } },
      schema: {
        summary: `Delete a ${k.kind}`,
        description: `Writes a tombstone version; the history stays. Refused (409) while a permit names the ${k.kind}.`,
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the tombstone version', DeletedSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
          409: conflict,
        },
      },
    },
    async (request) => {
      const rec = attempt(() => registry.delete(k.kind, request.params.id, { actor }));
      return {
        kind: rec.kind,
        id: rec.id,
        version: rec.version,
        deleted: true as const,
        updatedAt: rec.createdAt,
      };
    },
  );

  app.get(
    `${base}/:id/versions`,
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: `Versions of a ${k.kind}`,
        description: 'Every version, oldest first, deletions included.',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the versions', k.versions),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const history = registry.history(k.kind, id);
      if (history.length === 0) notFound(k.kind, id);
      return versionsOf(k.kind, id, history, k.toFeature);
    },
  );
}

/** A firm key names only its own firm on a permit; another firm is unknown to it (400 naming /firm). */
function ownPermitFirm(principal: Principal, firm: string): void {
  if (!canSee(principal, firm)) throw fieldProblem('/firm', `unknown firm ${JSON.stringify(firm)}`);
}

function permitDto(p: RegistryPermit, updatedAt?: string) {
  return updatedAt === undefined ? { ...p } : { ...p, updatedAt };
}

/**
 * The compliance registry API (issue 3): sites, routes and zones as GeoJSON Features, permits and the
 * city thresholds as JSON; every change is a new version. Register inside the scope guarded by
 * `bearerAuth` (prefix /api/v1).
 */
export const complianceRoutes: FastifyPluginAsyncZod<ComplianceRoutesOptions> = async (app, options) => {
  const { registry } = options;
  const actor = options.actor ?? 'api:admin';
  geoRoutes(app, registry, actor, SITES);
  geoRoutes(app, registry, actor, ROUTES);
  geoRoutes(app, registry, actor, ZONES);

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
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'Get a permit',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        querystring: VersionQuerySchema,
        response: {
          200: jsonResponse('the permit', PermitSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
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
        response: {
          200: jsonResponse('the permit as stored, with its new version', PermitSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
          409: conflict,
        },
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
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'Versions of a permit',
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the versions', versionListSchema(PermitSchema, 'PermitVersions')),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
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

  const thresholdsDto = () => {
    const rec = registry.record('thresholds', 'city')!;
    return { ...rec.entity!, updatedAt: rec.createdAt };
  };

  app.get(
    '/thresholds',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'City thresholds in force',
        tags,
        security: bearerSecurity,
        response: { 200: jsonResponse('the thresholds', ThresholdsSchema), 401: unauthorized },
      },
    },
    async () => thresholdsDto(),
  );

  app.put(
    '/thresholds',
    {
      config: {
        scope: 'compliance:write',
        roles: ['admin'],
        audit: { entity: 'thresholds', id: CITY_THRESHOLDS_ID },
      },
      schema: {
        summary: 'Replace the city thresholds',
        description:
          'Writes a new version; thresholds left out take the built-in defaults. With `version`, refused (409) unless it is the current version.',
        tags,
        security: bearerSecurity,
        body: ThresholdsPutSchema,
        response: {
          200: jsonResponse('the thresholds, with the new version', ThresholdsSchema),
          400: invalid,
          401: unauthorized,
          409: conflict,
        },
      },
    },
    async (request) => {
      const { values, version } = request.body;
      const opts = version === undefined ? { actor } : { actor, ifVersion: version };
      attempt(() => registry.put('thresholds', { values }, opts));
      return thresholdsDto();
    },
  );

  app.get(
    '/thresholds/versions',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'Versions of the city thresholds',
        tags,
        security: bearerSecurity,
        response: {
          200: jsonResponse('the versions', versionListSchema(ThresholdsSchema, 'ThresholdsVersions')),
          401: unauthorized,
        },
      },
    },
    async () =>
      versionsOf('thresholds', 'city', registry.history('thresholds', 'city'), (e, updatedAt) => ({
        ...e,
        updatedAt,
      })),
  );
};
