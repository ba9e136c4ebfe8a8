import type { Fix } from '../core/fix.ts';
import { iso, withInstants } from '../core/instants.ts';
import type { EvidenceEntity, EvidencePackage } from '../geofence/evidence.ts';
import type { Route, Site, Zone } from '../geofence/model.ts';
import { routeToFeature, siteToFeature, zoneToFeature } from '../registry/geojson.ts';

/**
 * The evidence package as a GeoJSON FeatureCollection (RFC 7946), for GIS tools and map viewers: the
 * track as a LineString and as one Point per fix (time and every sensor value), the violation's onset
 * and last position, and the registry entities it was judged against with their geometry (sites and
 * zones as MultiPolygons, routes as LineStrings) and their ids and versions. Entities without geometry
 * (the permit, the vehicle, the thresholds) are Features with a null geometry, as RFC 7946 allows.
 *
 * The package's sha256 is in the collection's `properties` (a foreign member, RFC 7946 section 6.1):
 * this is a view of the sealed package, not a second seal. To verify, fetch the JSON package and POST it
 * to /evidence/verify. Instants are ISO-8601 UTC. Pure.
 */

export const EVIDENCE_GEOJSON_FORMAT = 'citywatch-evidence-geojson/1';

type Geometry =
  | { type: 'Point'; coordinates: [number, number] }
  | { type: 'LineString'; coordinates: [number, number][] }
  | { type: 'MultiPolygon'; coordinates: unknown[] }
  | { type: 'Polygon'; coordinates: unknown[] };

export interface EvidenceFeature {
  type: 'Feature';
  id: string;
  geometry: Geometry | null;
  properties: Record<string, unknown>;
}

export interface EvidenceFeatureCollection {
  type: 'FeatureCollection';
  properties: {
    format: typeof EVIDENCE_GEOJSON_FORMAT;
    /** the JSON package's format */
    packageFormat: string;
    /** the sealed package's hash (hex sha256 over its canonical JSON without this member) */
    sha256: string;
    violation: Record<string, unknown>;
  };
  features: EvidenceFeature[];
}

const point = (p: readonly number[]): Geometry => ({ type: 'Point', coordinates: [p[0]!, p[1]!] });

/** A fix's sensor values and times as properties: everything but its position, instants as ISO. */
function fixProperties(fix: Fix, seq: number): Record<string, unknown> {
  const { lat: _lat, lon: _lon, ts, received, ...values } = fix;
  return { role: 'fix', seq, time: iso(ts), received: iso(received), ...values };
}

function trackFeature(fixes: readonly Fix[]): EvidenceFeature {
  const coordinates = fixes.map((f): [number, number] => [f.lon, f.lat]);
  const geometry: Geometry | null =
    coordinates.length >= 2
      ? { type: 'LineString', coordinates }
      : coordinates.length === 1
        ? point(coordinates[0]!)
        : null;
  return {
    type: 'Feature',
    id: 'track',
    geometry,
    properties: {
      role: 'track',
      // index for index with the coordinates, as in the track export's GeoJSON
      timestamps: fixes.map((f) => iso(f.ts)),
      speeds: fixes.map((f) => f.speed ?? null),
      valid: fixes.map((f) => f.valid),
    },
  };
}

/** An entity's Feature, through the registry's own GeoJSON output where it has geometry. */
function entityFeature({ ref, entity }: EvidenceEntity): EvidenceFeature {
  const e = entity as Record<string, unknown>;
  const refProps = { role: 'entity', kind: ref.kind, id: ref.id, version: ref.version };
  const id = `${ref.kind}/${ref.id}@${ref.version}`;
  let geo: { geometry: Geometry; properties: object } | undefined;
  if (e.missing !== true) {
    if ((ref.kind === 'site' || ref.kind === 'zone') && Array.isArray(e.polygons)) {
      geo = ref.kind === 'site' ? siteToFeature(entity as Site) : zoneToFeature(entity as Zone);
    } else if (ref.kind === 'route' && Array.isArray(e.line)) {
      geo = routeToFeature(entity as Route);
    }
  }
  if (geo !== undefined) {
    return { type: 'Feature', id, geometry: geo.geometry, properties: { ...geo.properties, ...refProps } };
  }
  return { type: 'Feature', id, geometry: null, properties: { ...e, ...refProps } };
}

export function evidenceToGeoJson(pkg: EvidencePackage): EvidenceFeatureCollection {
  const violation = withInstants(pkg.violation);
  const features: EvidenceFeature[] = [
    trackFeature(pkg.fixes),
    ...pkg.fixes.map(
      (fix, i): EvidenceFeature => ({
        type: 'Feature',
        id: `fix/${i}`,
        geometry: point([fix.lon, fix.lat]),
        properties: fixProperties(fix, i),
      }),
    ),
    {
      type: 'Feature',
      id: 'violation/start',
      geometry: point(violation.startPos),
      properties: { role: 'violation-start', violation: violation.id, time: violation.startAt },
    },
    {
      type: 'Feature',
      id: 'violation/last',
      geometry: point(violation.lastPos),
      properties: {
        role: 'violation-last',
        violation: violation.id,
        ...(violation.endAt === undefined ? {} : { time: violation.endAt }),
      },
    },
    ...pkg.entities.map(entityFeature),
  ];
  return {
    type: 'FeatureCollection',
    properties: {
      format: EVIDENCE_GEOJSON_FORMAT,
      packageFormat: pkg.format,
      sha256: pkg.sha256,
      violation: violation as unknown as Record<string, unknown>,
    },
    features,
  };
}
