import { z } from 'zod';
import {
  CollectionPointBodySchema,
  DutyPlanBodySchema,
  type PlanKind,
  SweepPlanBodySchema,
  UploadStationBodySchema,
} from '../registry/model/plans.ts';
import {
  AreaGeometrySchema,
  collection,
  crsIn,
  featureIn,
  LineStringGeometrySchema,
  updatedAtIn,
  updatedAtOut,
  versionIn,
  versionListSchema,
  versionOut,
} from './compliance-schemas.ts';

/**
 * The plans of issue 15 as GeoJSON Features in the API. The properties are the registry's own zod
 * schemas (registry/model/plans.ts: defaults and descriptions declared once) less the geometry field,
 * plus the usual version / updatedAt / crs members; the registry validates the geometry and windows and
 * names each vertex at fault.
 */

const Position = z.array(z.number()).describe('[longitude, latitude] in degrees');
const PointGeometrySchema = z
  .object({ type: z.literal('Point'), coordinates: Position })
  .meta({ id: 'PointGeometry' });
const MultiLineStringGeometrySchema = z
  .object({ type: z.literal('MultiLineString'), coordinates: z.array(z.array(Position)) })
  .meta({ id: 'MultiLineStringGeometry' });
const StretchesGeometrySchema = z.discriminatedUnion('type', [
  LineStringGeometrySchema,
  MultiLineStringGeometrySchema,
]);

interface PlanApiSpec {
  kind: PlanKind;
  /** path segment */
  plural: string;
  label: string;
  /** owned by a firm (firm keys see their own only); upload stations are city data */
  owned: boolean;
  input: z.ZodType;
  output: z.ZodType;
  collection: z.ZodType;
  versions: z.ZodType;
}

const inMeta = { crs: crsIn, version: versionIn, updatedAt: updatedAtIn };
const outMeta = { version: versionOut, updatedAt: updatedAtOut };

function spec(
  kind: PlanKind,
  plural: string,
  label: string,
  owned: boolean,
  name: string,
  geometry: z.ZodType,
  body: z.ZodObject,
  geometryField: string,
): PlanApiSpec {
  const props = body.omit({ [geometryField]: true } as never) as z.ZodObject;
  const output = z
    .object({ type: z.literal('Feature'), id: z.string(), geometry, properties: props.extend(outMeta) })
    .meta({ id: `${name}Feature`, description: `${label}, WGS-84` });
  return {
    kind,
    plural,
    label,
    owned,
    input: featureIn(geometry, props.extend(inMeta)).meta({
      id: `${name}FeatureBody`,
      description: `${label} as a GeoJSON Feature`,
    }),
    output,
    collection: collection(output, `${name}Collection`),
    versions: versionListSchema(output, `${name}Versions`),
  };
}

export const PLAN_API: readonly PlanApiSpec[] = [
  spec(
    'collection_point',
    'collection-points',
    'a collection point (收运点) with its windows and vehicles',
    true,
    'CollectionPoint',
    PointGeometrySchema,
    CollectionPointBodySchema,
    'position',
  ),
  spec(
    'sweep_plan',
    'sweep-plans',
    'a sweeping plan: road stretches, shifts, vehicles',
    true,
    'SweepPlan',
    StretchesGeometrySchema,
    SweepPlanBodySchema,
    'lines',
  ),
  spec(
    'duty_plan',
    'duty-plans',
    "an officers' duty plan: the grid (网格), shifts, cameras and officers",
    true,
    'DutyPlan',
    AreaGeometrySchema,
    DutyPlanBodySchema,
    'polygons',
  ),
  spec(
    'upload_station',
    'upload-stations',
    'an upload station (采集站): a point with a radius',
    false,
    'UploadStation',
    PointGeometrySchema,
    UploadStationBodySchema,
    'position',
  ),
];
