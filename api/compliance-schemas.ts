import { z } from 'zod';
import { THRESHOLD_OVERRIDES } from '../geofence/thresholds/index.ts';
import { PERMIT_STATES } from '../registry/compliance.ts';
import { CRS_NAMES } from '../registry/geojson.ts';
import { EntityIdSchema, ID_GRAMMAR } from '../registry/ids.ts';
import { checkPermitDates, PermitFields } from '../registry/model/permit.ts';
import {
  checkZone,
  RouteFields,
  RouteLimitSchema,
  SiteFields,
  ZoneFields,
} from '../registry/model/places.ts';
import { PERMIT_STATUSES, PERMIT_TARGETS } from '../registry/permit-workflow.ts';
import { nextCursorField, pageQueryFields } from './paging.ts';

/**
 * zod schemas of the compliance registry API (api/compliance.ts): sites, routes and zones as GeoJSON
 * Features, permits and the city thresholds as JSON. A request body's fields are the registry's own
 * schemas (registry/model/places.ts, permit.ts: one declaration, the same checks and messages); the
 * registry checks the geometry (closed rings, no self-intersection) and the references, and reports each
 * problem with its path (registry/geometry.ts).
 */

// ---------------------------------------------------------------------------------------------------
// GeoJSON

const PositionSchema = z
  .array(z.number())
  .describe('[longitude, latitude] in degrees (an altitude, if given, is ignored)');

export const PolygonGeometrySchema = z
  .object({
    type: z.literal('Polygon'),
    coordinates: z.array(z.array(PositionSchema)).describe('outer ring, then holes; rings closed'),
  })
  .meta({ id: 'PolygonGeometry' });

export const MultiPolygonGeometrySchema = z
  .object({
    type: z.literal('MultiPolygon'),
    coordinates: z.array(z.array(z.array(PositionSchema))),
  })
  .meta({ id: 'MultiPolygonGeometry' });

export const LineStringGeometrySchema = z
  .object({
    type: z.literal('LineString'),
    coordinates: z.array(PositionSchema).describe('at least 2 positions, none repeating the previous one'),
  })
  .meta({ id: 'LineStringGeometry' });

export const AreaGeometrySchema = z.discriminatedUnion('type', [
  PolygonGeometrySchema,
  MultiPolygonGeometrySchema,
]);

export const CrsSchema = z.enum(CRS_NAMES);

/** The 2008 GeoJSON `crs` member, still written by some tools: `{type: 'name', properties: {name}}`. */
const LegacyCrsSchema = z
  .object({ type: z.string(), properties: z.object({ name: z.string() }) })
  .describe('legacy named CRS: GCJ02, or WGS84 / EPSG:4326 / CRS84');

const featureIdIn = z
  .union([EntityIdSchema, z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .describe(`entity id (${ID_GRAMMAR}; a GeoJSON number id is its decimal string); generated when absent`);
export const versionIn = z
  .number()
  .int()
  .positive()
  .optional()
  .describe('the version this body was based on: when given and not the current version, 409 Conflict');
export const updatedAtIn = z.string().optional().describe('output field; ignored on input');
export const crsIn = CrsSchema.optional().describe(
  'coordinate system of the geometry: WGS84 (default) or GCJ02',
);
const windowsSchema = z
  .array(z.string())
  .describe('daily windows "HH:MM-HH:MM" in China Standard Time; may cross midnight');
const appliesToSchema = z.array(z.enum(['muck_truck', 'sanitation']));

export const featureIn = <G extends z.ZodType, P extends z.ZodType>(geometry: G, properties: P) =>
  z.object({
    type: z.literal('Feature'),
    id: featureIdIn.optional(),
    geometry,
    properties,
    crs: LegacyCrsSchema.optional(),
    bbox: z.array(z.number()).optional(),
  });

export const SiteFeatureInSchema = featureIn(
  AreaGeometrySchema,
  z.strictObject({
    kind: SiteFields.kind,
    name: SiteFields.name,
    crs: crsIn,
    version: versionIn,
    updatedAt: updatedAtIn,
  }),
).meta({ id: 'SiteFeatureBody', description: 'a site as a GeoJSON Feature' });

export const ZoneFeatureInSchema = featureIn(
  AreaGeometrySchema,
  z
    .strictObject({
      kind: ZoneFields.kind,
      name: ZoneFields.name,
      windows: ZoneFields.windows,
      speedLimitKmh: ZoneFields.speedLimitKmh,
      appliesTo: ZoneFields.appliesTo,
      crs: crsIn,
      version: versionIn,
      updatedAt: updatedAtIn,
    })
    .superRefine(checkZone),
).meta({ id: 'ZoneFeatureBody', description: 'a restricted or speed zone as a GeoJSON Feature' });

export const RouteFeatureInSchema = featureIn(
  LineStringGeometrySchema,
  z.strictObject({
    name: RouteFields.name,
    corridorM: RouteFields.corridorM,
    limits: RouteFields.limits,
    crs: crsIn,
    version: versionIn,
    updatedAt: updatedAtIn,
  }),
).meta({ id: 'RouteFeatureBody', description: 'a permitted route as a GeoJSON LineString Feature' });

export const versionOut = z.number().int().positive().describe('increases by one on every change');
export const updatedAtOut = z.string().optional().describe('when this version was written, ISO-8601 UTC');

export const SiteFeatureSchema = z
  .object({
    type: z.literal('Feature'),
    id: z.string(),
    geometry: AreaGeometrySchema,
    properties: z.object({
      kind: z.enum(['origin', 'disposal']),
      name: z.string(),
      version: versionOut,
      updatedAt: updatedAtOut,
    }),
  })
  .meta({ id: 'SiteFeature', description: 'a site, WGS-84' });

export const ZoneFeatureSchema = z
  .object({
    type: z.literal('Feature'),
    id: z.string(),
    geometry: AreaGeometrySchema,
    properties: z.object({
      kind: z.enum(['restricted', 'speed']),
      name: z.string(),
      windows: windowsSchema,
      speedLimitKmh: z.number().optional(),
      appliesTo: appliesToSchema.optional(),
      version: versionOut,
      updatedAt: updatedAtOut,
    }),
  })
  .meta({ id: 'ZoneFeature', description: 'a zone, WGS-84' });

export const RouteFeatureSchema = z
  .object({
    type: z.literal('Feature'),
    id: z.string(),
    geometry: LineStringGeometrySchema,
    properties: z.object({
      name: z.string(),
      corridorM: z.number(),
      limits: z.array(RouteLimitSchema),
      version: versionOut,
      updatedAt: updatedAtOut,
    }),
  })
  .meta({ id: 'RouteFeature', description: 'a permitted route, WGS-84' });

/** `nextCursor` is a foreign member (RFC 7946 section 6.1): GeoJSON readers ignore it. */
export const collection = <F extends z.ZodType>(feature: F, id: string) =>
  z
    .object({ type: z.literal('FeatureCollection'), features: z.array(feature), nextCursor: nextCursorField })
    .meta({ id });

/** The query of the site, route and zone lists: pages only. */
export const GeoListQuerySchema = z.strictObject(pageQueryFields);

export const SiteCollectionSchema = collection(SiteFeatureSchema, 'SiteCollection');
export const ZoneCollectionSchema = collection(ZoneFeatureSchema, 'ZoneCollection');
export const RouteCollectionSchema = collection(RouteFeatureSchema, 'RouteCollection');

// ---------------------------------------------------------------------------------------------------
// Thresholds

/**
 * Every threshold, all optional (overrides, or a PUT that keeps the defaults for the rest): the rules' own
 * schemas (geofence/thresholds/), so the OpenAPI document lists each with its rule's description.
 */
export const ThresholdValuesSchema = THRESHOLD_OVERRIDES.meta({
  id: 'ThresholdValues',
  description: 'thresholds: durations ms, distances m, speeds km/h, weights t',
});

export const ThresholdsPutSchema = z
  .strictObject({
    values: ThresholdValuesSchema.describe('the new set; thresholds left out take the built-in defaults'),
    version: versionIn,
  })
  .meta({ id: 'ThresholdsBody' });

export const ThresholdsSchema = z
  .object({
    id: z.string(),
    version: versionOut,
    values: ThresholdValuesSchema,
    updatedAt: updatedAtOut,
  })
  .meta({ id: 'CityThresholds', description: 'the city-wide thresholds in force' });

// ---------------------------------------------------------------------------------------------------
// Permits

export const PermitStateSchema = z
  .enum(PERMIT_STATES)
  .describe(
    "the last decision stored on the permit: submitted, approved, rejected or revoked ('active' and 'expired' are accepted for permits written before the workflow; 'active' means approved)",
  );
export const PermitStatusSchema = z
  .enum(PERMIT_STATUSES)
  .describe(
    'the workflow status today: the state, except that an approved permit is approved before validFrom, active from validFrom to validTo, expired after (local dates, Asia/Shanghai)',
  );
const reasonIn = z
  .string()
  .trim()
  .min(1)
  .max(2000)
  .describe('why: recorded in the audit trail; required to reject or revoke');

const permitFields = {
  firm: z.string().describe('transport firm id'),
  vehicles: z.array(z.string()).describe('vehicle ids'),
  origins: z.array(z.string()).describe('origin site ids (工地)'),
  disposals: z.array(z.string()).describe('disposal site ids (消纳场)'),
  routes: z.array(z.string()).describe('route ids'),
  validFrom: z.string().describe('first local date, YYYY-MM-DD (Asia/Shanghai)'),
  validTo: z.string().describe('last local date, inclusive'),
  windows: windowsSchema.describe('permitted hours'),
  cargo: z.string(),
  thresholds: ThresholdValuesSchema.optional().describe('overrides of the city thresholds for this permit'),
};

export const PermitInputSchema = z
  .strictObject({
    id: EntityIdSchema.optional().describe(`permit id (${ID_GRAMMAR}); generated when absent`),
    ...PermitFields,
    thresholds: permitFields.thresholds,
    state: PermitStateSchema.optional().describe(
      "admin keys: the state to store (a new permit defaults to 'approved', an update keeps its state; a change must be an allowed transition). Firm keys: absent or 'submitted' (a firm's permit is always submitted, and an amended rejected permit is resubmitted)",
    ),
    reason: reasonIn.optional(),
    status: PermitStatusSchema.optional().describe('output field; ignored on input'),
    version: versionIn,
    updatedAt: updatedAtIn,
  })
  .superRefine(checkPermitDates)
  .meta({ id: 'PermitBody', description: '建筑垃圾处置核准: a disposal permit' });

export const PermitSchema = z
  .object({
    id: z.string(),
    version: versionOut,
    ...permitFields,
    state: PermitStateSchema,
    status: PermitStatusSchema.optional().describe(
      'the workflow status today (absent on past versions: their status is in the audit trail)',
    ),
    updatedAt: updatedAtOut,
  })
  .meta({ id: 'Permit' });

export const PermitListSchema = z
  .object({
    items: z.array(PermitSchema),
    count: z.number().int().nonnegative().describe('items on this page'),
    nextCursor: nextCursorField,
  })
  .meta({ id: 'PermitList' });

export const PermitsQuerySchema = z.strictObject({
  state: PermitStateSchema.optional().describe('only permits in this stored state'),
  status: PermitStatusSchema.optional().describe('only permits with this workflow status today'),
  firm: z.string().min(1).max(128).optional().describe('only permits of this firm'),
  ...pageQueryFields,
});

export const PermitStatusBodySchema = z
  .strictObject({
    status: z
      .enum(PERMIT_TARGETS)
      .describe(
        'approved / rejected (from submitted) and revoked (from approved or active): admin keys; submitted (resubmit a rejected permit): its firm, or an admin',
      ),
    reason: reasonIn.optional(),
    version: versionIn,
  })
  .meta({ id: 'PermitStatusChange', description: 'a workflow decision on a permit' });

export const PermitAuditSchema = z
  .object({
    id: z.string(),
    items: z.array(
      z.object({
        version: versionOut.describe('the permit version this change wrote'),
        action: z.enum(['create', 'amend', 'submit', 'approve', 'reject', 'revoke', 'expire', 'delete']),
        from: PermitStatusSchema.optional().describe('status just before (absent on creation)'),
        to: PermitStatusSchema.optional().describe('status just after (absent on deletion)'),
        state: PermitStateSchema.optional().describe('the stored state this version records'),
        actor: z.string().optional().describe('the API key id that made the change'),
        at: z.string().describe('ISO-8601 UTC'),
        reason: z.string().optional(),
      }),
    ),
    count: z.number().int().nonnegative(),
  })
  .meta({ id: 'PermitAudit', description: 'every change of a permit, oldest first' });

// ---------------------------------------------------------------------------------------------------
// Common

export const EntityParamsSchema = z.object({
  id: z.string().min(1).max(128).describe('entity id'),
});

export const FeatureInQuerySchema = z.strictObject({
  crs: CrsSchema.optional().describe('coordinate system of the body geometry (GCJ02 is converted to WGS-84)'),
});

export const VersionQuerySchema = z.strictObject({
  version: z.coerce.number().int().positive().optional().describe('a past version (default: the latest)'),
});

/** The versions of one entity, oldest first; `body` is absent on a deletion (tombstone). */
export function versionListSchema<B extends z.ZodType>(body: B, id: string) {
  return z
    .object({
      kind: z.string(),
      id: z.string(),
      items: z.array(
        z.object({
          version: versionOut,
          deleted: z.boolean().describe('this version deleted the entity'),
          createdAt: z.string().describe('ISO-8601 UTC'),
          actor: z.string().optional(),
          body: body.optional(),
        }),
      ),
      count: z.number().int().nonnegative(),
    })
    .meta({ id });
}

export const DeletedSchema = z
  .object({
    kind: z.string(),
    id: z.string(),
    version: versionOut.describe('the tombstone version'),
    deleted: z.literal(true),
    updatedAt: z.string(),
  })
  .meta({ id: 'Deleted' });
