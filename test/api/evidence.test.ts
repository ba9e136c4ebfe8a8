import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { area, length } from '@turf/turf';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../api/schemas.ts';
import type { Fix } from '../../core/fix.ts';
import { compileWorld } from '../../geofence/compile.ts';
import {
  buildEvidence,
  canonicalJson,
  type EvidencePackage,
  verifyEvidence,
} from '../../geofence/evidence.ts';
import type { Position, RegistrySnapshot } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import type { Violation } from '../../geofence/types.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import { testApi } from '../support/api-fixtures.ts';
import { openApiProblems } from '../support/openapi.ts';
import { as, KEYS } from '../support/role-keys.ts';

/**
 * Evidence packages through the API (api/evidence.ts): the sealed JSON package and its GeoJSON form with
 * Repr-Digest (RFC 9530), content negotiation, POST /evidence/verify (a genuine package, a tampered one,
 * a tampered and re-sealed one, malformed ones), and tenancy, on a real embedded event store holding
 * packages built by the engine's own buildEvidence.
 */

const T0 = Date.UTC(2026, 10, 20, 14, 0, 0);
const ring = (lon: number, lat: number, d = 0.01): Position[] => [
  [lon, lat],
  [lon + d, lat],
  [lon + d, lat + d],
  [lon, lat + d],
  [lon, lat],
];

const snapshot: RegistrySnapshot = {
  sites: [{ id: 'site-o', version: 2, kind: 'origin', name: '工地', polygons: [[ring(117.2, 31.8)]] }],
  routes: [
    {
      id: 'route-1',
      version: 3,
      name: '线路一',
      line: [
        [117.21, 31.805],
        [117.25, 31.805],
      ],
      corridorM: 50,
      limits: [],
    },
  ],
  zones: [],
  permits: [
    {
      id: 'permit-1',
      version: 1,
      firm: 'firm-a',
      vehicles: ['veh-1'],
      origins: ['site-o'],
      disposals: [],
      routes: ['route-1'],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      windows: ['22:00-06:00'],
      cargo: '建筑垃圾',
    },
  ],
  vehicles: [
    { id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
    { id: 'veh-2', version: 1, firm: 'firm-b', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
  ],
  thresholds: { id: 'city', version: 5, values: DEFAULT_THRESHOLDS },
};

const fix = (vehicle: string, firm: string, i: number): Fix => ({
  vehicle,
  device: `dev-${vehicle}`,
  kind: 'muck_truck',
  firm,
  ts: T0 + i * 10_000,
  received: T0 + i * 10_000 + 500,
  lat: 31.806 + i * 0.0001,
  lon: 117.22 + i * 0.0002,
  speed: 20 + i,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  load: 'full',
  cover: 'closed',
  weight: 17.5,
});

const violationOf = (vehicle: string, firm: string): Violation => ({
  id: `${vehicle}:OFF_ROUTE:${T0 + 100_000}`,
  code: 'OFF_ROUTE',
  vehicle,
  firm,
  permit: 'permit-1',
  startTs: T0 + 100_000,
  endTs: T0 + 200_000,
  durationMs: 100_000,
  level: 0,
  startPos: [117.222, 31.807],
  lastPos: [117.224, 31.808],
  refs: [
    { kind: 'thresholds', id: 'city', version: 5 },
    { kind: 'permit', id: 'permit-1', version: 1 },
    { kind: 'route', id: 'route-1', version: 3 },
    { kind: 'site', id: 'site-o', version: 2 },
  ],
  thresholds: { offRouteMinMs: 60_000 },
  ruleVersion: 1,
  details: { maxDeviationM: 180.5 },
});

const A = violationOf('veh-1', 'firm-a');
const B = violationOf('veh-2', 'firm-b');

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
type Json = any;

async function api(
  t: ExecutionContext,
): Promise<{ app: FastifyInstance; pkgA: EvidencePackage; pkgB: EvidencePackage }> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-evidence-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const world = compileWorld(snapshot);
  const packages: EvidencePackage[] = [];
  for (const v of [A, B]) {
    const { endTs: _e, durationMs: _d, ...opened } = v;
    await events.recordViolations([
      { phase: 'opened', violation: opened },
      { phase: 'closed', violation: v },
    ]);
    const track = Array.from({ length: 40 }, (_, i) => fix(v.vehicle, v.firm, i));
    const pkg = buildEvidence(v, track, world);
    await events.putEvidence(pkg);
    packages.push(pkg);
  }
  // an ongoing violation of firm-a: no package yet
  await events.recordViolations([
    {
      phase: 'opened',
      violation: { ...violationOf('veh-1', 'firm-a'), id: 'veh-1:OFF_ROUTE:1', startTs: 1, endTs: undefined },
    },
  ]);
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    { events, keys: KEYS },
  );
  t.teardown(async () => {
    await app.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, pkgA: packages[0]!, pkgB: packages[1]! };
}

const evidenceUrl = (id: string, query = '') =>
  `/api/v1/violations/${encodeURIComponent(id)}/evidence${query}`;
const sha256b64 = (body: string) => createHash('sha256').update(body, 'utf8').digest('base64');

function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  return ProblemSchema.parse(JSON.parse(res.body));
}

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

const verify = (app: FastifyInstance, body: unknown, who: Parameters<typeof as>[0] = 'firmA') =>
  app.inject({ method: 'POST', url: '/api/v1/evidence/verify', headers: as(who), payload: body as object });

test('verify: a genuine package verifies and matches the record', async (t) => {
  const { app, pkgA } = await api(t);
  // exactly as downloaded
  const downloaded = (await app.inject({ url: evidenceUrl(A.id), headers: as('firmA') })).body;
  const res = await verify(app, JSON.parse(downloaded));
  t.is(res.statusCode, 200, res.body);
  const v: Json = res.json();
  t.true(v.verified);
  t.true(v.hashValid);
  t.is(v.record, 'matches');
  t.is(v.claimed, pkgA.sha256);
  t.is(v.recomputed, pkgA.sha256);
  t.is(v.recordSha256, pkgA.sha256);
  t.deepEqual(v.differences, []);
});

test('verify: a tampered package names the member changed, with the claimed and recomputed hashes', async (t) => {
  const { app, pkgA } = await api(t);
  const tampered = structuredClone(pkgA);
  tampered.fixes[3]!.lat += 0.001;
  const expected = createHash('sha256')
    .update(canonicalJson({ ...tampered, sha256: undefined }), 'utf8')
    .digest('hex');
  const res = await verify(app, tampered);
  t.is(res.statusCode, 200, res.body);
  const v: Json = res.json();
  t.false(v.verified);
  t.false(v.hashValid);
  t.is(v.claimed, pkgA.sha256);
  t.is(v.recomputed, expected);
  t.not(v.recomputed, v.claimed);
  t.is(v.record, 'differs');
  t.deepEqual(
    v.differences.map((d: Json) => d.pointer),
    ['/fixes/3/lat'],
  );
  t.regex(v.reason, /changed after sealing/);
});

test('verify: a package changed and sealed again has a valid hash but does not match the record', async (t) => {
  const { app, pkgA } = await api(t);
  const forged = structuredClone(pkgA) as EvidencePackage;
  forged.violation.details = { maxDeviationM: 20 };
  forged.fixes.splice(5, 1);
  const { sha256: _old, ...body } = forged;
  forged.sha256 = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
  t.true(verifyEvidence(forged), 'self-consistent: the hash alone cannot tell');
  const v: Json = (await verify(app, forged)).json();
  t.true(v.hashValid);
  t.false(v.verified);
  t.is(v.record, 'differs');
  const pointers = v.differences.map((d: Json) => d.pointer);
  t.true(pointers.includes('/violation/details/maxDeviationM'), pointers.join(' '));
  t.true(pointers.includes('/fixes'), 'the missing fix shows as a length difference');
  t.true(pointers.includes('/fixes/5'), 'and as the one fix missing, not as every later fix differing');
  t.false(pointers.includes('/fixes/6/ts'), pointers.join(' '));
  t.true(pointers.includes('/sha256'));
});

test('verify: another firm’s package is checked by its hash alone; nothing about its record is told', async (t) => {
  const { app, pkgB } = await api(t);
  const tampered = structuredClone(pkgB);
  tampered.fixes[0]!.speed = 99;
  const v: Json = (await verify(app, tampered)).json();
  t.false(v.hashValid);
  t.is(v.record, 'unknown');
  t.deepEqual(v.differences, []);
  t.is(v.recordSha256, undefined);
  const genuine: Json = (await verify(app, pkgB)).json();
  t.true(genuine.verified);
  t.is(genuine.record, 'unknown');
  // the monitor may see firm-b's violation: it gets the comparison
  const monitor: Json = (await verify(app, tampered, 'monitor')).json();
  t.is(monitor.record, 'differs');
  t.deepEqual(
    monitor.differences.map((d: Json) => d.pointer),
    ['/fixes/0/speed'],
  );
});

test('verify: what is not an evidence package is a 400 naming the member at fault', async (t) => {
  const { app, pkgA } = await api(t);
  const cases: Array<[unknown, string]> = [
    [{ ...pkgA, sha256: undefined }, '/sha256'],
    [{ ...pkgA, sha256: 'ABC' }, '/sha256'],
    [{ ...pkgA, format: 'other/1' }, '/format'],
    [{ ...pkgA, fixes: 'none' }, '/fixes'],
    [{ ...pkgA, violation: { ...pkgA.violation, id: undefined } }, '/violation/id'],
  ];
  for (const [body, pointer] of cases) {
    const res = await verify(app, body);
    t.is(res.statusCode, 400, `${pointer}: ${res.body}`);
    const p = problem(res);
    t.true(
      p.errors?.some((e) => e.in === 'body' && e.pointer === pointer),
      `${pointer}: ${res.body}`,
    );
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
