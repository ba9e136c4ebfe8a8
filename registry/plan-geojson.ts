import type { CollectionPoint, DutyPlan, SweepPlan, UploadStation } from '../geofence/plans.ts';
import type { InputOf } from './compliance.ts';
import {
  type FromFeatureOptions,
  fromFeature,
  meta,
  pick,
  polygonGeometry,
  polygonsOf,
  type Spec,
} from './geojson.ts';
import type { PlanKind } from './model/plans.ts';

/**
 * The plans (issue 15) as GeoJSON Features, like sites and routes (registry/geojson.ts, whose CRS
 * handling, GCJ-02 conversion and error paths they share): a collection point or an upload station is a
 * Point (its radius in the properties), a sweep plan a LineString or MultiLineString, a duty plan's grid
 * a Polygon or MultiPolygon. Output is WGS-84 with the id as the Feature `id` and the version among the
 * properties.
 */

const POINT: Spec<'collection_point'> = {
  kind: 'collection_point',
  geometryTypes: ['Point'],
  build: (_t, coords, props) => ({
    ...pick(props, ['firm', 'name', 'radiusM', 'windows', 'vehicles', 'binsExpected']),
    position: coords,
  }),
};
const SWEEP: Spec<'sweep_plan'> = {
  kind: 'sweep_plan',
  geometryTypes: ['LineString', 'MultiLineString'],
  build: (type, coords, props) => ({
    ...pick(props, ['firm', 'name', 'corridorM', 'windows', 'vehicles']),
    lines: type === 'LineString' ? [coords] : coords,
  }),
};
const DUTY: Spec<'duty_plan'> = {
  kind: 'duty_plan',
  geometryTypes: ['Polygon', 'MultiPolygon'],
  build: (type, coords, props) => ({
    ...pick(props, ['firm', 'name', 'windows', 'cameras', 'officers']),
    polygons: polygonsOf(type, coords),
  }),
};
const STATION: Spec<'upload_station'> = {
  kind: 'upload_station',
  geometryTypes: ['Point'],
  build: (_t, coords, props) => ({ ...pick(props, ['name', 'radiusM']), position: coords }),
};

const SPECS = { collection_point: POINT, sweep_plan: SWEEP, duty_plan: DUTY, upload_station: STATION };

/** A plan from its Feature (GCJ-02 converted when declared). Throws ValidationError naming each field. */
export function planFromFeature<K extends PlanKind>(
  kind: K,
  feature: unknown,
  opts: FromFeatureOptions = {},
): InputOf<K> {
  return fromFeature(SPECS[kind] as unknown as Spec<K>, feature, opts) as InputOf<K>;
}

type AnyPlan = CollectionPoint | SweepPlan | DutyPlan | UploadStation;

/** A plan as a WGS-84 Feature. */
export function planToFeature(kind: PlanKind, plan: AnyPlan, updatedAt?: string) {
  const { id, version, ...rest } = plan as AnyPlan & Record<string, unknown>;
  let geometry: unknown;
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k !== 'position' && k !== 'lines' && k !== 'polygons') properties[k] = structuredClone(v);
  }
  if (kind === 'collection_point' || kind === 'upload_station') {
    geometry = { type: 'Point', coordinates: [...(plan as CollectionPoint).position] };
  } else if (kind === 'sweep_plan') {
    const lines = (plan as SweepPlan).lines;
    geometry =
      lines.length === 1
        ? { type: 'LineString', coordinates: structuredClone(lines[0]!) }
        : { type: 'MultiLineString', coordinates: structuredClone(lines) };
  } else {
    geometry = polygonGeometry((plan as DutyPlan).polygons);
  }
  return {
    type: 'Feature' as const,
    id,
    geometry,
    properties: { ...properties, ...meta(version, updatedAt) },
  };
}
