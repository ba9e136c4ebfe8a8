import { gcj02ToWgs84 } from '../geofence/geo/gcj02.ts';
import type { Position, Route, RouteSegmentLimit, Site, Zone } from '../geofence/model.ts';
import {
  type ComplianceKind,
  normalizeInput,
  type RouteInput,
  type SiteInput,
  type ZoneInput,
} from './compliance.ts';
import { ValidationError, type ValidationIssue } from './geometry.ts';

/**
 * GeoJSON (RFC 7946) in and out of the compliance registry. A site or a zone is a Feature with a Polygon
 * or MultiPolygon geometry, a route a Feature with a LineString; the entity's other fields are the
 * Feature's properties. Output is always WGS-84 with the entity id as the Feature `id` and its `version`
 * among the properties.
 *
 * Input may be GCJ-02 (drawn on a Chinese web map) when declared: `properties.crs: 'GCJ02'`, a legacy
 * GeoJSON `crs` member naming GCJ-02, or the caller's `crs` option (the API's `?crs=GCJ02`). It is then
 * converted to WGS-84 here, once (geofence/geo/gcj02.ts). Errors are ValidationErrors whose paths point
 * into the Feature: `geometry.coordinates[0][3]`, `properties.windows[1]`.
 */

export const CRS_NAMES = ['WGS84', 'GCJ02'] as const;
export type Crs = (typeof CRS_NAMES)[number];

export interface PolygonGeometry {
  type: 'Polygon';
  coordinates: Position[][];
}
export interface MultiPolygonGeometry {
  type: 'MultiPolygon';
  coordinates: Position[][][];
}
export interface LineStringGeometry {
  type: 'LineString';
  coordinates: Position[];
}

interface OutputMeta {
  version: number;
  /** ISO-8601 UTC of this version */
  updatedAt?: string;
}

export interface SiteFeature {
  type: 'Feature';
  id: string;
  geometry: PolygonGeometry | MultiPolygonGeometry;
  properties: { kind: Site['kind']; name: string } & OutputMeta;
}
export interface ZoneFeature {
  type: 'Feature';
  id: string;
  geometry: PolygonGeometry | MultiPolygonGeometry;
  properties: {
    kind: Zone['kind'];
    name: string;
    windows: string[];
    speedLimitKmh?: number;
    appliesTo?: Array<'muck_truck' | 'sanitation'>;
  } & OutputMeta;
}
export interface RouteFeature {
  type: 'Feature';
  id: string;
  geometry: LineStringGeometry;
  properties: { name: string; corridorM: number; limits: RouteSegmentLimit[] } & OutputMeta;
}
export interface FeatureCollection<F> {
  type: 'FeatureCollection';
  features: F[];
}

export interface FromFeatureOptions {
  /** the caller's declaration (e.g. `?crs=GCJ02`); must agree with one in the Feature */
  crs?: Crs;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Input paths (`polygons[0][0][3]`, `line[2]`, `windows[1]`) as paths into the Feature. */
function toFeaturePaths(issues: readonly ValidationIssue[], geometryType: string): ValidationIssue[] {
  return issues.map(({ path, message }) => {
    let out: string;
    if (/^polygons(?=$|\[)/.test(path)) {
      let rest = path.slice('polygons'.length);
      if (geometryType === 'Polygon') rest = rest.replace(/^\[0\]/, '');
      out = `geometry.coordinates${rest}`;
    } else if (/^line(?=$|\[)/.test(path)) {
      out = `geometry.coordinates${path.slice('line'.length)}`;
    } else if (/^lines(?=$|\[)/.test(path)) {
      let rest = path.slice('lines'.length);
      if (geometryType === 'LineString') rest = rest.replace(/^\[0\]/, '');
      out = `geometry.coordinates${rest}`;
    } else if (/^position(?=$|\[)/.test(path)) {
      out = `geometry.coordinates${path.slice('position'.length)}`;
    } else if (path === 'id' || path === '') {
      out = path;
    } else {
      out = `properties.${path}`;
    }
    return { path: out, message };
  });
}

/** The coordinate system declared by a legacy (2008) GeoJSON `crs` member. */
function legacyCrs(crs: unknown, issues: ValidationIssue[]): Crs | undefined {
  if (crs === undefined || crs === null) return undefined;
  const name = isObject(crs) && isObject(crs.properties) ? crs.properties.name : undefined;
  if (typeof name === 'string') {
    if (/gcj-?02/i.test(name)) return 'GCJ02';
    if (/crs84|epsg::?4326|wgs-?84/i.test(name)) return 'WGS84';
  }
  issues.push({ path: 'crs', message: 'unsupported crs: name WGS84 (EPSG:4326, CRS84) or GCJ02' });
  return undefined;
}

function resolveCrs(
  feature: Record<string, unknown>,
  opts: FromFeatureOptions,
  issues: ValidationIssue[],
): Crs {
  const props = isObject(feature.properties) ? feature.properties : {};
  const declared: Array<[Crs, string]> = [];
  if (opts.crs !== undefined) declared.push([opts.crs, 'the request']);
  if (props.crs !== undefined) {
    if ((CRS_NAMES as readonly unknown[]).includes(props.crs))
      declared.push([props.crs as Crs, 'properties.crs']);
    else issues.push({ path: 'properties.crs', message: "must be 'WGS84' or 'GCJ02'" });
  }
  const legacy = legacyCrs(feature.crs, issues);
  if (legacy !== undefined) declared.push([legacy, 'crs']);
  const first = declared[0];
  for (const [crs, where] of declared.slice(1)) {
    if (crs !== first![0]) {
      issues.push({
        path: where === 'crs' ? 'crs' : 'properties.crs',
        message: `${crs} conflicts with ${first![0]} declared by ${first![1]}`,
      });
    }
  }
  return first?.[0] ?? 'WGS84';
}

/** GeoJSON positions may carry an altitude: keep [lon, lat]. Anything else is left for the validators. */
function stripAltitude(coords: unknown, depth: number): unknown {
  if (!Array.isArray(coords)) return coords;
  if (depth === 0)
    return coords.length === 3 && coords.every((x) => typeof x === 'number') ? coords.slice(0, 2) : coords;
  return coords.map((c) => stripAltitude(c, depth - 1));
}

/** GCJ-02 to WGS-84 for valid positions, rounded to 1e-8 degrees (about a millimetre). */
function convert(coords: unknown, depth: number): unknown {
  if (depth === 0) {
    const [lon, lat] = gcj02ToWgs84(coords as Position);
    return [Math.round(lon * 1e8) / 1e8, Math.round(lat * 1e8) / 1e8];
  }
  return (coords as unknown[]).map((c) => convert(c, depth - 1));
}

export interface Spec<K extends ComplianceKind> {
  kind: K;
  geometryTypes: readonly string[];
  /** the entity's fields from the geometry (already in WGS-84) and the properties */
  build(geometryType: string, coordinates: unknown, props: Record<string, unknown>): Record<string, unknown>;
}

export function fromFeature<K extends ComplianceKind>(
  spec: Spec<K>,
  feature: unknown,
  opts: FromFeatureOptions,
): ReturnType<typeof normalizeInput<K>>['value'] {
  const what = `invalid ${spec.kind} feature`;
  if (!isObject(feature) || feature.type !== 'Feature') {
    throw new ValidationError([{ path: 'type', message: "must be a GeoJSON 'Feature'" }], what);
  }
  const issues: ValidationIssue[] = [];
  const geometry = feature.geometry;
  if (!isObject(geometry) || !spec.geometryTypes.includes(geometry.type as string)) {
    issues.push({
      path: isObject(geometry) ? 'geometry.type' : 'geometry',
      message: `must be a ${spec.geometryTypes.join(' or ')} geometry`,
    });
  }
  if (!isObject(feature.properties)) issues.push({ path: 'properties', message: 'must be an object' });
  if (feature.id !== undefined && typeof feature.id !== 'string' && typeof feature.id !== 'number') {
    issues.push({ path: 'id', message: 'must be a string' });
  }
  const crs = resolveCrs(feature, opts, issues);
  if (issues.length > 0) throw new ValidationError(issues, what);

  const type = (geometry as Record<string, unknown>).type as string;
  const depth =
    type === 'MultiPolygon'
      ? 3
      : type === 'Polygon' || type === 'MultiLineString'
        ? 2
        : type === 'Point'
          ? 0
          : 1;
  const props = feature.properties as Record<string, unknown>;
  const input = (coords: unknown) => {
    const body = spec.build(type, coords, props);
    if (feature.id !== undefined) body.id = String(feature.id);
    // the id is judged by the registry's put (the grammar, or an entity that exists), not here
    return normalizeInput(spec.kind, body, () => true);
  };
  let coords = stripAltitude((geometry as Record<string, unknown>).coordinates, depth);
  let result = input(coords);
  if (result.issues.length === 0 && crs === 'GCJ02') {
    coords = convert(coords, depth);
    result = input(coords);
  }
  if (result.issues.length > 0) throw new ValidationError(toFeaturePaths(result.issues, type), what);
  return result.value;
}

export const polygonsOf = (type: string, coords: unknown) => (type === 'Polygon' ? [coords] : coords);

export function pick(props: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (props[k] !== undefined) out[k] = props[k];
  return out;
}

const SITE: Spec<'site'> = {
  kind: 'site',
  geometryTypes: ['Polygon', 'MultiPolygon'],
  build: (type, coords, props) => ({ ...pick(props, ['kind', 'name']), polygons: polygonsOf(type, coords) }),
};
const ZONE: Spec<'zone'> = {
  kind: 'zone',
  geometryTypes: ['Polygon', 'MultiPolygon'],
  build: (type, coords, props) => ({
    ...pick(props, ['kind', 'name', 'windows', 'speedLimitKmh', 'appliesTo']),
    polygons: polygonsOf(type, coords),
  }),
};
const ROUTE: Spec<'route'> = {
  kind: 'route',
  geometryTypes: ['LineString'],
  build: (_type, coords, props) => ({ ...pick(props, ['name', 'corridorM', 'limits']), line: coords }),
};

/** A site (origin or disposal) from a Polygon / MultiPolygon Feature. Throws ValidationError. */
export function siteFromFeature(feature: unknown, opts: FromFeatureOptions = {}): SiteInput {
  return fromFeature(SITE, feature, opts) as SiteInput;
}

/** A zone (restricted or speed) from a Polygon / MultiPolygon Feature. Throws ValidationError. */
export function zoneFromFeature(feature: unknown, opts: FromFeatureOptions = {}): ZoneInput {
  return fromFeature(ZONE, feature, opts) as ZoneInput;
}

/** A route from a LineString Feature (corridorM defaults to 50 m). Throws ValidationError. */
export function routeFromFeature(feature: unknown, opts: FromFeatureOptions = {}): RouteInput {
  return fromFeature(ROUTE, feature, opts) as RouteInput;
}

// ---- out ----

export function polygonGeometry(polygons: Site['polygons']): PolygonGeometry | MultiPolygonGeometry {
  return polygons.length === 1
    ? { type: 'Polygon', coordinates: structuredClone(polygons[0]!) }
    : { type: 'MultiPolygon', coordinates: structuredClone(polygons) };
}

export const meta = (version: number, updatedAt: string | undefined): OutputMeta =>
  updatedAt === undefined ? { version } : { version, updatedAt };

/** A site as a WGS-84 Feature (Polygon for one polygon, MultiPolygon otherwise). */
export function siteToFeature(site: Site, updatedAt?: string): SiteFeature {
  return {
    type: 'Feature',
    id: site.id,
    geometry: polygonGeometry(site.polygons),
    properties: { kind: site.kind, name: site.name, ...meta(site.version, updatedAt) },
  };
}

export function zoneToFeature(zone: Zone, updatedAt?: string): ZoneFeature {
  const properties: ZoneFeature['properties'] = {
    kind: zone.kind,
    name: zone.name,
    windows: [...zone.windows],
    ...meta(zone.version, updatedAt),
  };
  if (zone.speedLimitKmh !== undefined) properties.speedLimitKmh = zone.speedLimitKmh;
  if (zone.appliesTo !== undefined) properties.appliesTo = [...zone.appliesTo];
  return { type: 'Feature', id: zone.id, geometry: polygonGeometry(zone.polygons), properties };
}

export function routeToFeature(route: Route, updatedAt?: string): RouteFeature {
  return {
    type: 'Feature',
    id: route.id,
    geometry: { type: 'LineString', coordinates: structuredClone(route.line) },
    properties: {
      name: route.name,
      corridorM: route.corridorM,
      limits: route.limits.map((l) => ({ ...l })),
      ...meta(route.version, updatedAt),
    },
  };
}

export function featureCollection<F>(features: F[]): FeatureCollection<F> {
  return { type: 'FeatureCollection', features };
}
