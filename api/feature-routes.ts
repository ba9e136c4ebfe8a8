import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { ComplianceKind, ComplianceRegistry, EntityOf, InputOf } from '../registry/compliance.ts';
import { type Crs, featureCollection } from '../registry/geojson.ts';
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
  DeletedSchema,
  EntityParamsSchema,
  FeatureInQuerySchema,
  GeoListQuerySchema,
} from './compliance-schemas.ts';
import { byIdKey, paginate } from './paging.ts';
import { canSee, listFirm } from './principal.ts';
import { replyCreated } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * The routes of a compliance registry kind kept as GeoJSON Features with every change a new version
 * (sites, routes and zones in api/compliance.ts; the plans of issue 15 in api/plans.ts):
 * POST and GET /{plural}, GET, PUT and DELETE /{plural}/:id, GET /{plural}/:id/versions. GCJ-02
 * geometry is converted to WGS-84 when declared. The kinds differ in their schemas and words, in who
 * is recorded as the author, and in whether a firm key reads only its own firm's entities.
 */

/** A route's words in the document. */
export interface RouteWords {
  summary: string;
  description?: string;
}

export interface FeatureKind<K extends ComplianceKind> {
  kind: K;
  /** the path segment */
  plural: string;
  tags: string[];
  fromFeature(body: unknown, opts: { crs?: Crs }): InputOf<K>;
  toFeature(entity: EntityOf<K>, updatedAt?: string): unknown;
  input: z.ZodType;
  output: z.ZodType;
  collection: z.ZodType;
  versions: z.ZodType;
  /** recorded as the author of a change */
  actor(request: FastifyRequest): string;
  /**
   * The firm an entity belongs to: a firm key reads its own firm's only (another firm's answers 404,
   * like a missing one). Absent: every key reads every entity of the kind.
   */
  firmOf?: (entity: EntityOf<K>) => string | undefined;
  /** the operations' words; `item` describes the 200/201 bodies ("the site", "as stored") */
  words: {
    create: RouteWords & { created: string };
    list: RouteWords;
    get: RouteWords & { found: string };
    update: RouteWords & { updated: string };
    remove: RouteWords;
    versions: RouteWords;
    /** the 409 answers; `remove` only where a delete can be refused */
    conflict: { write: string; remove?: string };
  };
}

const { unauthorized, invalid, unknown } = REGISTRY_RESPONSES;

const words = ({ summary, description }: RouteWords) => ({
  summary,
  ...(description === undefined ? {} : { description }),
});

type App = Parameters<FastifyPluginAsyncZod>[0];

/** Registers the six routes of one kind. Register inside the scope guarded by `bearerAuth`. */
export function featureRoutes<K extends ComplianceKind>(
  app: App,
  registry: ComplianceRegistry,
  k: FeatureKind<K>,
): void {
  const { tags, words: w } = k;
  const base = `/${k.plural}`;
  const write = { scope: 'compliance:write' as const, roles: ['admin' as const], audit: { entity: k.kind } };
  const read = { scope: 'compliance:read' as const };
  const render = (entity: EntityOf<K>) => k.toFeature(entity, registry.record(k.kind, entity.id)?.createdAt);
  const crsOf = (request: FastifyRequest) => {
    const crs = (request.query as { crs?: Crs }).crs;
    return crs === undefined ? {} : { crs };
  };
  /** a firm key may see the entity (always, for a kind without owners) */
  const seen = (request: FastifyRequest, entity: EntityOf<K>) =>
    k.firmOf === undefined || canSee(request.principal, k.firmOf(entity) ?? request.principal.firm);
  const conflict = problemResponse(k.words.conflict.write);

  app.post(
    base,
    {
      config: write,
      schema: {
        ...words(w.create),
        tags,
        security: bearerSecurity,
        querystring: FeatureInQuerySchema,
        body: k.input,
        response: {
          201: jsonResponse(w.create.created, k.output),
          400: invalid,
          401: unauthorized,
          409: conflict,
        },
      },
    },
    async (request, reply) => {
      const input = attempt(() => k.fromFeature(request.body, crsOf(request)));
      const entity = attempt(() => registry.put(k.kind, input, { actor: k.actor(request), ifVersion: 0 }));
      replyCreated(request, reply, entity.id);
      return render(entity);
    },
  );

  app.get(
    base,
    {
      config: read,
      schema: {
        ...words(w.list),
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
      const firm = k.firmOf === undefined ? undefined : listFirm(request.principal, undefined);
      const items = registry
        .list(k.kind)
        .filter((e) => firm === undefined || k.firmOf?.(e) === firm) as EntityOf<K>[];
      const page = paginate(items, byIdKey, request.query);
      const body = featureCollection(page.items.map(render));
      return page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor };
    },
  );

  app.get(
    `${base}/:id`,
    versionReadOptions({ ...words(w.get), tags }, jsonResponse(w.get.found, k.output)),
    async (request) => {
      const { id } = request.params;
      const { version } = request.query;
      const rec = registry.record(k.kind, id, version);
      if (rec?.entity === undefined || !seen(request, rec.entity)) notFound(k.kind, id, version);
      return k.toFeature(rec.entity, rec.createdAt);
    },
  );

  app.put(
    `${base}/:id`,
    {
      config: write,
      schema: {
        ...words(w.update),
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        querystring: FeatureInQuerySchema,
        body: k.input,
        response: { ...updateResponses(jsonResponse(w.update.updated, k.output)), 409: conflict },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body as { id?: string | number; properties: { version?: number } };
      if (body.id !== undefined && String(body.id) !== id) idMismatch(String(body.id), id);
      if (registry.get(k.kind, id) === undefined) notFound(k.kind, id);
      const input = attempt(() => k.fromFeature({ ...body, id }, crsOf(request)));
      const ifVersion = body.properties.version;
      const actor = k.actor(request);
      const entity = attempt(() =>
        registry.put(k.kind, input, ifVersion === undefined ? { actor } : { actor, ifVersion }),
      );
      return render(entity);
    },
  );

  app.delete(
    `${base}/:id`,
    {
      config: write,
      schema: {
        ...words(w.remove),
        tags,
        security: bearerSecurity,
        params: EntityParamsSchema,
        response: {
          200: jsonResponse('the tombstone version', DeletedSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
          ...(w.conflict.remove === undefined ? {} : { 409: problemResponse(w.conflict.remove) }),
        },
      },
    },
    async (request) => {
      const rec = attempt(() => registry.delete(k.kind, request.params.id, { actor: k.actor(request) }));
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
    versionListOptions({ ...words(w.versions), tags }, jsonResponse('the versions', k.versions)),
    async (request) => {
      const { id } = request.params;
      const history = registry.history(k.kind, id);
      const owner = history.findLast((r) => r.entity !== undefined)?.entity;
      if (history.length === 0 || (owner !== undefined && !seen(request, owner))) notFound(k.kind, id);
      return versionsOf(k.kind, id, history, (e, at) => k.toFeature(e, at));
    },
  );
}
