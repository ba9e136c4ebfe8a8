/**
 * The rest of the tests (their world: test/support/api/evidence.ts).
 */

import { area, length } from '@turf/turf';
import test from 'ava';
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';
import { A, api, B, evidenceUrl, type Json, problem, sha256b64, snapshot } from '../support/api/evidence.ts';
import { openApiProblems } from '../support/openapi.ts';
import { as } from '../support/role-keys.ts';

test('JSON: the sealed package as stored, with Repr-Digest over the bytes sent', async (t) => {
  const { app, pkgA } = await api(t);
  for (const query of ['', '?format=json']) {
    const res = await app.inject({ url: evidenceUrl(A.id, query), headers: as('firmA') });
    t.is(res.statusCode, 200, res.body);
    t.regex(String(res.headers['content-type']), /^application\/json/);
    t.is(res.headers['repr-digest'], `sha-256=:${sha256b64(res.body)}:`);
    t.regex(String(res.headers.vary), /Accept/);
    t.truthy(res.headers.etag, 'a cheap read gets an ETag');
    const body = JSON.parse(res.body) as EvidencePackage;
    t.is(canonicalJson(body), canonicalJson(pkgA), 'served as stored');
    t.true(verifyEvidence(body));
    t.is(body.sha256, pkgA.sha256);
  }
  const notYet = await app.inject({ url: evidenceUrl('veh-1:OFF_ROUTE:1'), headers: as('firmA') });
  t.is(notYet.statusCode, 404);
  t.is(problem(notYet).type, 'urn:citywatch:problem:no-evidence');
});

test('GeoJSON: track, fixes with their sensor values, violation, entities with ids and versions, the hash', async (t) => {
  const { app, pkgA } = await api(t);
  const byAccept = await app.inject({
    url: evidenceUrl(A.id),
    headers: { ...as('firmA'), accept: 'application/json;q=0.5, application/geo+json' },
  });
  const byFormat = await app.inject({ url: evidenceUrl(A.id, '?format=geojson'), headers: as('firmA') });
  t.is(byAccept.statusCode, 200, byAccept.body);
  t.is(byAccept.body, byFormat.body);
  t.regex(String(byAccept.headers['content-type']), /^application\/geo\+json/);
  t.is(byAccept.headers['repr-digest'], `sha-256=:${sha256b64(byAccept.body)}:`);
  t.not(
    byAccept.headers.etag,
    (await app.inject({ url: evidenceUrl(A.id), headers: as('firmA') })).headers.etag,
    'each representation has its own ETag',
  );

  const fc: Json = JSON.parse(byAccept.body);
  t.is(fc.type, 'FeatureCollection');
  t.is(fc.properties.sha256, pkgA.sha256);
  t.is(fc.properties.packageFormat, pkgA.format);
  t.is(fc.properties.violation.id, A.id);
  t.is(fc.properties.violation.startAt, new Date(A.startTs).toISOString());
  t.is(fc.properties.violation.endAt, new Date(A.endTs!).toISOString());
  for (const f of fc.features) {
    t.is(f.type, 'Feature');
    t.true(
      f.geometry === null || ['Point', 'LineString', 'Polygon', 'MultiPolygon'].includes(f.geometry.type),
    );
  }
  const role = (r: string) => fc.features.filter((f: Json) => f.properties.role === r);

  const [track] = role('track');
  t.is(track.geometry.type, 'LineString');
  t.deepEqual(
    track.geometry.coordinates,
    pkgA.fixes.map((f) => [f.lon, f.lat]),
  );
  t.deepEqual(
    track.properties.timestamps,
    pkgA.fixes.map((f) => new Date(f.ts).toISOString()),
  );
  // parsed by a GIS library: the LineString has the length of the fixes' path
  t.true(length(track, { units: 'meters' }) > 100);

  const points = role('fix');
  t.is(points.length, pkgA.fixes.length);
  pkgA.fixes.forEach((f, i) => {
    const p = points[i];
    t.deepEqual(p.geometry.coordinates, [f.lon, f.lat]);
    t.is(p.properties.time, new Date(f.ts).toISOString());
    t.is(p.properties.speed, f.speed);
    t.is(p.properties.load, 'full');
    t.is(p.properties.cover, 'closed');
    t.is(p.properties.weight, 17.5);
    t.is(p.properties.device, f.device);
  });

  t.deepEqual(role('violation-start')[0].geometry.coordinates, A.startPos);
  t.deepEqual(role('violation-last')[0].geometry.coordinates, A.lastPos);

  const entities = role('entity');
  const ref = (kind: string) => entities.find((e: Json) => e.properties.kind === kind);
  t.deepEqual(
    entities.map((e: Json) => [e.properties.kind, e.properties.id, e.properties.version]).sort(),
    A.refs.map((r) => [r.kind, r.id, r.version]).sort(),
  );
  t.is(ref('route').geometry.type, 'LineString');
  t.deepEqual(ref('route').geometry.coordinates, snapshot.routes[0]!.line);
  t.is(ref('route').properties.corridorM, 50);
  t.regex(ref('site').geometry.type, /Polygon$/);
  t.true(area(ref('site')) > 0, 'the site polygon parses and has an area');
  t.is(ref('permit').geometry, null);
  t.deepEqual(ref('permit').properties.routes, ['route-1']);
});

test('negotiation: nothing acceptable is a 406; a bad format is a 400 naming it', async (t) => {
  const { app } = await api(t);
  const csv = await app.inject({ url: evidenceUrl(A.id), headers: { ...as('firmA'), accept: 'text/csv' } });
  t.is(csv.statusCode, 406);
  t.is(problem(csv).status, 406);
  const bad = await app.inject({ url: evidenceUrl(A.id, '?format=kml'), headers: as('firmA') });
  t.is(bad.statusCode, 400);
  t.is(problem(bad).errors?.[0]?.pointer, '/format');
});

test('tenancy: another firm’s evidence is the same 404 as a missing one, in both formats', async (t) => {
  const { app } = await api(t);
  for (const query of ['', '?format=geojson']) {
    const other = await app.inject({ url: evidenceUrl(B.id, query), headers: as('firmA') });
    const none = await app.inject({ url: evidenceUrl('veh-9:OFF_ROUTE:1', query), headers: as('firmA') });
    t.is(other.statusCode, 404);
    t.is(none.statusCode, 404);
    t.is(problem(other).type, problem(none).type);
    t.is(problem(other).title, problem(none).title);
    t.false(other.body.includes('firm-b'));
    const monitor = await app.inject({ url: evidenceUrl(B.id, query), headers: as('monitor') });
    t.is(monitor.statusCode, 200);
  }
});

test('docs: both representations and the verify operation are in a sound OpenAPI document', async (t) => {
  const { app } = await api(t);
  const doc: Json = (await app.inject({ url: '/docs/json' })).json();
  t.deepEqual(openApiProblems(doc), []);
  const get = doc.paths['/api/v1/violations/{id}/evidence'].get;
  t.deepEqual(Object.keys(get.responses['200'].content).sort(), ['application/geo+json', 'application/json']);
  t.truthy(get.responses['406']);
  const post = doc.paths['/api/v1/evidence/verify'].post;
  t.is(post['x-scope'], 'violations:read');
  t.truthy(post.requestBody.content['application/json'].schema);
});
