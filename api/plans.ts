import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ComplianceRegistry, EntityOf } from '../registry/compliance.ts';
import type { PlanKind } from '../registry/model/plans.ts';
import { planFromFeature, planToFeature } from '../registry/plan-geojson.ts';
import { featureRoutes } from './feature-routes.ts';
import { PLAN_API } from './plan-schemas.ts';

/**
 * The plans of issue 15 (collection points, sweep plans, duty plans, upload stations) in the compliance
 * registry's API style (api/feature-routes.ts): GeoJSON Features, every change a new version, GCJ-02
 * accepted when declared. The city writes them (admin keys), each change recorded with the key that
 * made it. Collection points, sweep and duty plans belong to a firm: a firm key reads its own only
 * (another firm's plan is answered like a missing one: 404); admin and monitor keys read all. Upload
 * stations are city data every key reads.
 */

export interface PlanRoutesOptions {
  registry: ComplianceRegistry;
}

export const planRoutes: FastifyPluginAsyncZod<PlanRoutesOptions> = async (app, { registry }) => {
  for (const k of PLAN_API) {
    const kind: PlanKind = k.kind;
    const tenancy = k.owned
      ? " A firm key reads its own firm's only (another firm's is 404, like a missing one)."
      : ' City data: every key reads it.';
    featureRoutes(app, registry, {
      kind,
      plural: k.plural,
      tags: ['plans'],
      fromFeature: (body, opts) => planFromFeature(kind, body, opts),
      toFeature: (entity, updatedAt) => planToFeature(kind, entity, updatedAt),
      input: k.input,
      output: k.output,
      collection: k.collection,
      versions: k.versions,
      actor: (request) => request.principal.keyId,
      ...(k.owned ? { firmOf: (e: EntityOf<PlanKind>) => (e as { firm?: string }).firm } : {}),
      words: {
        create: {
          summary: `Create ${k.label}`,
          description: `GeoJSON Feature; GCJ-02 geometry is converted to WGS-84 when declared (\`?crs=GCJ02\` or \`properties.crs\`). Version 1.${tenancy}`,
          created: 'as stored (WGS-84), with its version',
        },
        list: {
          summary: `List ${k.plural}`,
          description: `The latest version of each, ordered by id, as a FeatureCollection (pages with \`limit\`, \`cursor\`).${tenancy}`,
        },
        get: { summary: `Get ${k.label}`, found: 'WGS-84' },
        update: {
          summary: `Update ${k.label}`,
          description:
            'Writes a new version. With `properties.version`, refused (409) unless it is the current version.',
          updated: 'as stored, with its new version',
        },
        remove: {
          summary: `Delete ${k.label}`,
          description: 'Writes a tombstone version; the history stays.',
        },
        versions: {
          summary: `Versions of ${k.label}`,
          description: 'Every version, oldest first, deletions included.',
        },
        conflict: { write: 'id exists or version mismatch' },
      },
    });
  }
};
