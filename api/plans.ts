import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ComplianceRegistry, EntityOf } from '../registry/compliance.ts';
import type { Crs } from '../registry/geojson.ts';
import { planFromFeature, planToFeature } from '../registry/plan-geojson.ts';
import type { PlanKind } from '../registry/plan-schemas.ts';
import { bearerSecurity } from './auth.ts';
import { attempt, idMismatch, notFound, versionsOf } from './compliance.ts';
import {
  DeletedSchema,
  EntityParamsSchema,
  FeatureInQuerySchema,
  GeoListQuerySchema,
  VersionQuerySchema,
} from './compliance-schemas.ts';
import { byIdKey, paginate } from './paging.ts';
import { PLAN_API } from './plan-schemas.ts';
import { canSee, listFirm } from './principal.ts';
import { replyCreated } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * The plans of issue 15 (collection points, sweep plans, duty plans, upload stations) in the compliance
 * registry's API style: GeoJSON Features, every change a new version, GCJ-02 accepted when declared.
 * The city writes them (admin keys). Collection points, sweep and duty plans belong to a firm: a firm
 * key reads its own only (another firm's plan is answered like a missing one: 404); admin and monitor
 * keys read all. Upload stations are city data every key reads.
 */

export interface PlanRoutesOptions {
  registry: ComplianceRegistry;
}

const unauthorized = problemResponse('missing or invalid bearer token');
const invalid = problemResponse('invalid body, geometry or query: every field at fault is named');
const unknown = problemResponse('unknown entity or version');
const conflict = problemResponse('id exists or version mismatch');

export const planRoutes: FastifyPluginAsyncZod<PlanRoutesOptions> = async (app, { registry }) => {
  const tags = ['plans'];
  for (const k of PLAN_API) {
    const kind: PlanKind = k.kind;
    const base = `/${k.plural}`;
    const firmOf = (e: EntityOf<PlanKind>): string | undefined =>
      k.owned ? (e as { firm?: string }).firm : undefined;
    const render = (e: EntityOf<PlanKind>) => planToFeature(kind, e, registry.record(kind, e.id)?.createdAt);
    const write = { scope: 'compliance:write' as const, roles: ['admin' as const], audit: { entity: kind } };
    const tenancy = k.owned
      ? " A firm key reads its own firm's only (another firm's is 404, like a missing one)."
      : ' City data: every key reads it.';

    app.post(
      base,
      {
        config: write,
        schema: {
          summary: `Create ${k.label}`,
          description: `GeoJSON Feature; GCJ-02 geometry is converted to WGS-84 when declared (\`?crs=GCJ02\` or \`properties.crs\`). Version 1.${tenancy}`,
          tags,
          security: bearerSecurity,
          querystring: FeatureInQuerySchema,
          body: k.input,
          response: {
            201: jsonResponse('as stored (WGS-84), with its version', k.output),
            400: invalid,
            401: unauthorized,
            409: conflict,
          },
        },
      },
      async (request, reply) => {
        const crs = (request.query as { crs?: Crs }).crs;
        const input = attempt(() => planFromFeature(kind, request.body, crs === undefined ? {} : { crs }));
        const entity = attempt(() =>
          registry.put(kind, input, { actor: request.principal.keyId, ifVersion: 0 }),
        );
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
          description: `The latest version of each, ordered by id, as a FeatureCollection (pages with \`limit\`, \`cursor\`).${tenancy}`,
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
        const firm = listFirm(request.principal, undefined);
        const items = registry.list(kind).filter((e) => !k.owned || firm === undefined || firmOf(e) === firm);
        const page = paginate(items, byIdKey, request.query);
        const body = { type: 'FeatureCollection' as const, features: page.items.map(render) };
        return page.nextCursor === undefined ? body : { ...body, nextCursor: page.nextCursor };
      },
    );

    app.get(
      `${base}/:id`,
      {
        config: { scope: 'compliance:read' },
        schema: {
          summary: `Get ${k.label}`,
          tags,
          security: bearerSecurity,
          params: EntityParamsSchema,
          querystring: VersionQuerySchema,
          response: { 200: jsonResponse('WGS-84', k.output), 400: invalid, 401: unauthorized, 404: unknown },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { version } = request.query;
        const rec = registry.record(kind, id, version);
        if (
          rec?.entity === undefined ||
          !canSee(request.principal, firmOf(rec.entity) ?? request.principal.firm)
        ) {
          notFound(kind, id, version);
        }
        return planToFeature(kind, rec.entity, rec.createdAt);
      },
    );

    app.put(
      `${base}/:id`,
      {
        config: write,
        schema: {
          summary: `Update ${k.label}`,
          description:
            'Writes a new version. With `properties.version`, refused (409) unless it is the current version.',
          tags,
          security: bearerSecurity,
          params: EntityParamsSchema,
          querystring: FeatureInQuerySchema,
          body: k.input,
          response: {
            200: jsonResponse('as stored, with its new version', k.output),
            400: invalid,
            401: unauthorized,
            404: unknown,
            409: conflict,
          },
        },
      },
      async (request) => {
        const { id } = request.params;
        const body = request.body as { id?: string | number; properties: { version?: number } };
        if (body.id !== undefined && String(body.id) !== id) idMismatch(String(body.id), id);
        if (registry.get(kind, id) === undefined) notFound(kind, id);
        const crs = (request.query as { crs?: Crs }).crs;
        const input = attempt(() => planFromFeature(kind, { ...body, id }, crs === undefined ? {} : { crs }));
        const ifVersion = body.properties.version;
        const actor = request.principal.keyId;
        const entity = attempt(() =>
          registry.put(kind, input, ifVersion === undefined ? { actor } : { actor, ifVersion }),
        );
        return render(entity);
      },
    );

    app.delete(
      `${base}/:id`,
      {
        config: write,
        schema: {
          summary: `Delete ${k.label}`,
          description: 'Writes a tombstone version; the history stays.',
          tags,
          security: bearerSecurity,
          params: EntityParamsSchema,
          response: {
            200: jsonResponse('the tombstone version', DeletedSchema),
            400: invalid,
            401: unauthorized,
            404: unknown,
          },
        },
      },
      async (request) => {
        const rec = attempt(() =>
          registry.delete(kind, request.params.id, { actor: request.principal.keyId }),
        );
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
          summary: `Versions of ${k.label}`,
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
        const history = registry.history(kind, id);
        const latest = history.at(-1);
        const owner = history.findLast((r) => r.entity !== undefined)?.entity;
        if (
          latest === undefined ||
          (owner !== undefined && !canSee(request.principal, firmOf(owner) ?? request.principal.firm))
        ) {
          notFound(kind, id);
        }
        return versionsOf(kind, id, history, (e, at) => planToFeature(kind, e, at));
      },
    );
  }
};
