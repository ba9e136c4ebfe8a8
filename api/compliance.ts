import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import {
  type ComplianceKind,
  type ComplianceRegistry,
  ConflictError,
  type EntityOf,
  type EntityVersion,
  type InputOf,
  NotFoundError,
  type RegistryPermit,
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
  PermitInputSchema,
  PermitListSchema,
  PermitSchema,
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
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/** Problem types of the compliance registry routes (others: PROBLEM_TYPES in problem.ts). */
export const COMPLIANCE_PROBLEM_TYPES = {
  unknownEntity: 'urn:citywatch:problem:unknown-entity',
  conflict: 'urn:citywatch:problem:conflict',
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

function attempt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw problemOf(err);
  }
}

function notFound(kind: ComplianceKind, id: string, version?: number): never {
  throw problemOf(new NotFoundError(kind, id, version));
}

function idMismatch(bodyId: string, id: string): never {
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

function versionsOf<K extends ComplianceKind, B>(
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
      reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(entity.id)}`);
      return render(entity);
    },
  );

  app.get(
    base,
    {
      schema: {
        summary: `List ${k.plural}`,
        description: `The latest version of every ${k.kind} not deleted, ordered by id, as a FeatureCollection.`,
        tags,
        security: bearerSecurity,
        response: { 200: jsonResponse(`${k.plural} (WGS-84)`, k.collection), 401: unauthorized },
      },
    },
    async () => featureCollection(registry.list(k.kind).map(render)),
  );

  app.get(
    `${base}/:id`,
    {
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
  const renderPermit = (p: RegistryPermit) => permitDto(p, registry.record('permit', p.id)?.createdAt);
  type PermitBody = z.output<typeof PermitInputSchema>;
  /** Without a state, a new permit is 'submitted' and an update keeps the current state. */
  const permitInput = (body: PermitBody, id?: string): InputOf<'permit'> => {
    const { version: _v, updatedAt: _u, state, ...rest } = body;
    const current = id === undefined ? undefined : registry.get('permit', id)?.state;
    return { ...rest, ...(id === undefined ? {} : { id }), state: state ?? current ?? 'submitted' };
  };

  app.post(
    '/permits',
    {
      schema: {
        summary: 'Create a permit',
        description:
          "建筑垃圾处置核准. Sites and routes must exist (origins of kind origin, disposals of kind disposal). State defaults to 'submitted'; only 'active' permits are enforced.",
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
      const permit = attempt(() =>
        registry.put('permit', permitInput(request.body), { actor, ifVersion: 0 }),
      );
      reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(permit.id)}`);
      return renderPermit(permit);
    },
  );

  app.get(
    '/permits',
    {
      schema: {
        summary: 'List permits',
        description: 'Latest version of every permit, ordered by id; filters combine with AND.',
        tags,
        security: bearerSecurity,
        querystring: PermitsQuerySchema,
        response: { 200: jsonResponse('permits', PermitListSchema), 400: invalid, 401: unauthorized },
      },
    },
    async (request) => {
      const { state, firm } = request.query;
      const items = registry
        .list('permit')
        .filter((p) => (state === undefined || p.state === state) && (firm === undefined || p.firm === firm))
        .map(renderPermit);
      return { items, count: items.length };
    },
  );

  app.get(
    '/permits/:id',
    {
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
      if (rec?.entity === undefined) notFound('permit', id, version);
      return permitDto(rec.entity, rec.createdAt);
    },
  );

  app.put(
    '/permits/:id',
    {
      schema: {
        summary: 'Update a permit',
        description: 'Writes a new version. With `version`, refused (409) unless it is the current version.',
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
      if (registry.get('permit', id) === undefined) notFound('permit', id);
      const opts = body.version === undefined ? { actor } : { actor, ifVersion: body.version };
      return renderPermit(attempt(() => registry.put('permit', permitInput(body, id), opts)));
    },
  );

  app.get(
    '/permits/:id/versions',
    {
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
      if (history.length === 0) notFound('permit', id);
      return versionsOf('permit', id, history, permitDto);
    },
  );

  const thresholdsDto = () => {
    const rec = registry.record('thresholds', 'city')!;
    return { ...rec.entity!, updatedAt: rec.createdAt };
  };

  app.get(
    '/thresholds',
    {
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
