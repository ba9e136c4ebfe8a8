import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import {
  routeFromFeature,
  routeToFeature,
  siteFromFeature,
  siteToFeature,
  zoneFromFeature,
  zoneToFeature,
} from '../registry/geojson.ts';
import {
  RouteCollectionSchema,
  RouteFeatureInSchema,
  RouteFeatureSchema,
  SiteCollectionSchema,
  SiteFeatureInSchema,
  SiteFeatureSchema,
  versionListSchema,
  ZoneCollectionSchema,
  ZoneFeatureInSchema,
  ZoneFeatureSchema,
} from './compliance-schemas.ts';
import { type FeatureKind, featureRoutes } from './feature-routes.ts';
import { permitRoutes } from './permits.ts';
import { thresholdRoutes } from './thresholds.ts';

// The helpers other route files took from here before they had their own module.
export {
  attempt,
  COMPLIANCE_PROBLEM_TYPES,
  idMismatch,
  notFound,
  toPointer,
  versionsOf,
} from './compliance-problems.ts';

export interface ComplianceRoutesOptions {
  registry: ComplianceRegistry;
  /** recorded as the author of changes to sites, routes, zones and thresholds (permits: the key) */
  actor?: string;
}

type GeoKind = 'site' | 'route' | 'zone';

// Built once: a schema with an id is one entry of the document's components.
const SITE_VERSIONS = versionListSchema(SiteFeatureSchema, 'SiteVersions');
const ROUTE_VERSIONS = versionListSchema(RouteFeatureSchema, 'RouteVersions');
const ZONE_VERSIONS = versionListSchema(ZoneFeatureSchema, 'ZoneVersions');

/** A site, route or zone: the admin token's actor, every key reads all of them. */
function geoKind<K extends GeoKind>(
  actor: string,
  k: Pick<
    FeatureKind<K>,
    'kind' | 'plural' | 'fromFeature' | 'toFeature' | 'input' | 'output' | 'collection' | 'versions'
  > & {
    label: string;
  },
): FeatureKind<K> {
  const { kind, label } = k;
  const conflict = 'id exists, version mismatch, or still used by a permit';
  return {
    kind,
    plural: k.plural,
    tags: ['compliance'],
    fromFeature: k.fromFeature,
    toFeature: k.toFeature,
    input: k.input,
    output: k.output,
    collection: k.collection,
    versions: k.versions,
    actor: () => actor,
    words: {
      create: {
        summary: `Create a ${kind}`,
        description:
          `A ${label} as a GeoJSON Feature. GCJ-02 geometry is converted to WGS-84 when declared ` +
          '(`?crs=GCJ02` or `properties.crs`). Version 1, or the next version after a deletion.',
        created: `the ${kind} as stored (WGS-84), with its version`,
      },
      list: {
        summary: `List ${k.plural}`,
        description:
          `The latest version of every ${kind} not deleted, ordered by id, as a FeatureCollection. ` +
          'With `limit` or `cursor` in pages: `nextCursor` is a member of the collection.',
      },
      get: { summary: `Get a ${kind}`, found: `the ${kind} (WGS-84)` },
      update: {
        summary: `Update a ${kind}`,
        description:
          'Writes a new version. With `properties.version`, refused (409) unless it is the current version.',
        updated: `the ${kind} as stored, with its new version`,
      },
      remove: {
        summary: `Delete a ${kind}`,
        description: `Writes a tombstone version; the history stays. Refused (409) while a permit names the ${kind}.`,
      },
      versions: {
        summary: `Versions of a ${kind}`,
        description: 'Every version, oldest first, deletions included.',
      },
      conflict: { write: conflict, remove: conflict },
    },
  };
}

/**
 * The compliance registry API (issue 3): sites, routes and zones as GeoJSON Features
 * (api/feature-routes.ts), permits (api/permits.ts) and the city thresholds (api/thresholds.ts) as
 * JSON; every change is a new version. Register inside the scope guarded by `bearerAuth` (prefix
 * /api/v1).
 */
export const complianceRoutes: FastifyPluginAsyncZod<ComplianceRoutesOptions> = async (app, options) => {
  const { registry } = options;
  const actor = options.actor ?? 'api:admin';
  featureRoutes(
    app,
    registry,
    geoKind(actor, {
      kind: 'site',
      plural: 'sites',
      label: 'site (origin 工地 or disposal 消纳场)',
      fromFeature: siteFromFeature,
      toFeature: siteToFeature,
      input: SiteFeatureInSchema,
      output: SiteFeatureSchema,
      collection: SiteCollectionSchema,
      versions: SITE_VERSIONS,
    }),
  );
  featureRoutes(
    app,
    registry,
    geoKind(actor, {
      kind: 'route',
      plural: 'routes',
      label: 'route (a polyline with a corridor)',
      fromFeature: routeFromFeature,
      toFeature: routeToFeature,
      input: RouteFeatureInSchema,
      output: RouteFeatureSchema,
      collection: RouteCollectionSchema,
      versions: ROUTE_VERSIONS,
    }),
  );
  featureRoutes(
    app,
    registry,
    geoKind(actor, {
      kind: 'zone',
      plural: 'zones',
      label: 'zone (restricted 禁行区 or speed)',
      fromFeature: zoneFromFeature,
      toFeature: zoneToFeature,
      input: ZoneFeatureInSchema,
      output: ZoneFeatureSchema,
      collection: ZoneCollectionSchema,
      versions: ZONE_VERSIONS,
    }),
  );
  await app.register(permitRoutes, { registry });
  await app.register(thresholdRoutes, { registry, actor });
};
