/**
 * GeoJSON in and out of the compliance registry (registry/geojson.ts): GCJ-02 input stored in WGS-84,
 * errors pointing into the Feature, route corridors, features out with id and version.
 */
import test from 'ava';
import { wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { Ruler } from '../../geofence/geo/ruler.ts';
import { routeFromFeature, routeToFeature, siteFromFeature, siteToFeature } from '../../registry/geojson.ts';
import { squareFrom } from '../support/geometry.ts';
import { issuesOf, LINE, open } from '../support/registry/compliance.ts';

test('GeoJSON: a GCJ-02 site (Hefei) is stored in WGS-84, hundreds of metres from the input', (t) => {
  const { registry } = open(t);
  const wgs = squareFrom(117.2, 31.8);
  const gcj = wgs.map((ring) => ring.map((p) => wgs84ToGcj02(p)));
  const ruler = new Ruler(31.8);
  const offset = ruler.distanceM(gcj[0]![0]!, wgs[0]![0]!);
  t.true(offset > 300 && offset < 800, `GCJ-02 offset in Hefei ${offset} m`);

  const feature = {
    type: 'Feature',
    id: 'site-gcj',
    geometry: { type: 'Polygon', coordinates: gcj },
    properties: { kind: 'origin', name: '地图上画的工地', crs: 'GCJ02' },
  };
  const site = registry.put('site', siteFromFeature(feature));
  site.polygons[0]![0]!.forEach((p, i) => {
    t.true(ruler.distanceM(p, wgs[0]![i]!) < 0.5, `position ${i} back to WGS-84`);
  });
  // the request flag does the same; without a declaration the input is taken as WGS-84
  const flagged = siteFromFeature(
    { ...feature, properties: { kind: 'origin', name: 'x' } },
    { crs: 'GCJ02' },
  );
  t.deepEqual(flagged.polygons, site.polygons);
  const plain = siteFromFeature({ ...feature, properties: { kind: 'origin', name: 'x' } });
  t.deepEqual(plain.polygons, [gcj]);
  // legacy crs member
  const legacy = siteFromFeature({
    ...feature,
    properties: { kind: 'origin', name: 'x' },
    crs: { type: 'name', properties: { name: 'GCJ02' } },
  });
  t.deepEqual(legacy.polygons, site.polygons);
  t.deepEqual(
    issuesOf(() => siteFromFeature(feature, { crs: 'WGS84' })),
    [['properties.crs', 'GCJ02 conflicts with WGS84 declared by the request']],
  );

  // out: WGS-84 Feature with id and version
  const out = siteToFeature(registry.get('site', 'site-gcj')!);
  t.is(out.id, 'site-gcj');
  t.is(out.properties.version, 1);
  t.is(out.geometry.type, 'Polygon');
  t.deepEqual(out.geometry.coordinates, site.polygons[0]);
});

test('GeoJSON: errors point into the Feature; routes default their corridor; MultiPolygon paths keep the index', (t) => {
  const bowtie = {
    type: 'Feature',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [117.2, 31.8],
          [117.21, 31.81],
          [117.21, 31.8],
          [117.2, 31.81],
          [117.2, 31.8],
        ],
      ],
    },
    properties: { kind: 'origin', name: 'x' },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(bowtie)),
    [['geometry.coordinates', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const multi = {
    ...bowtie,
    geometry: { type: 'MultiPolygon', coordinates: [squareFrom(117.3, 31.8), bowtie.geometry.coordinates] },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(multi)),
    [['geometry.coordinates[1]', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const unclosed = {
    ...bowtie,
    geometry: { type: 'Polygon', coordinates: [squareFrom(117.2, 31.8)[0]!.slice(0, 4)] },
  };
  t.deepEqual(
    issuesOf(() => siteFromFeature(unclosed)).map((i) => i[0]),
    ['geometry.coordinates[0][3]'],
  );
  t.deepEqual(
    issuesOf(() => siteFromFeature({ ...bowtie, geometry: { type: 'LineString', coordinates: LINE } })),
    [['geometry.type', 'must be a Polygon or MultiPolygon geometry']],
  );

  const route = {
    type: 'Feature',
    id: 7,
    geometry: { type: 'LineString', coordinates: LINE.map(([lon, lat]) => [lon, lat, 30]) },
    properties: { name: '繁华大道', limits: [{ from: 0, to: 2, speedLimitKmh: 40 }] },
  };
  const input = routeFromFeature(route);
  t.is(input.id, '7');
  t.is(input.corridorM, 50);
  t.deepEqual(input.line, LINE, 'altitudes dropped');
  t.deepEqual(
    issuesOf(() => routeFromFeature({ ...route, properties: { name: 'x', corridorM: 0 } })),
    [['properties.corridorM', 'corridor width must be greater than 0 m, got 0']],
  );
  t.deepEqual(
    issuesOf(() => routeFromFeature({ ...route, geometry: { type: 'LineString', coordinates: [LINE[0]] } })),
    [['geometry.coordinates', 'a route needs at least 2 positions, got 1']],
  );
  const out = routeToFeature({ ...input, id: '7', version: 3, corridorM: 50, limits: input.limits ?? [] });
  t.deepEqual(out.properties, {
    name: '繁华大道',
    corridorM: 50,
    limits: [{ from: 0, to: 2, speedLimitKmh: 40 }],
    version: 3,
  });
});
