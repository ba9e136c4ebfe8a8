/**
 * Positions and tracks over a real socket against the running platform: fixes arrive through MQTT, are
 * stored, and come back as a paged latest-position list and as a track in JSON, GeoJSON, CSV and GPX.
 * The exports are read back with real parsers (csv-parse, fast-xml-parser), not with string matching.
 */
import test from 'ava';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PositionListSchema, ProblemSchema } from '../../api/schemas.ts';
import { TrackFeatureSchema, TrackSchema } from '../../api/track-format-schemas.ts';
import { ADMIN, createKey, type FleetUnit, registerFleet, TestDevice } from '../support/live-fleet.ts';
import { openApiProblems } from '../support/openapi.ts';
import { eventually, startTestPlatform, type TestPlatform } from '../support/platform.ts';

/** A plate with a quote, a comma and non-ASCII text: CSV quoting and XML escaping must round-trip it. */
const TRICKY_PLATE = '皖A·"Q",01 <&>';

const UNITS: FleetUnit[] = [
  {
    unit: 'veh-x1',
    device: 'dev-x1',
    secret: 'secret-x1',
    kind: 'muck_truck',
    firm: 'firm-x',
    plate: TRICKY_PLATE,
  },
  { unit: 'veh-x2', device: 'dev-x2', secret: 'secret-x2', kind: 'sanitation', firm: 'firm-x' },
  { unit: 'veh-y1', device: 'dev-y1', secret: 'secret-y1', kind: 'muck_truck', firm: 'firm-y' },
  { unit: 'cam-z1', device: 'cam-z1', secret: 'secret-z1', kind: 'body_camera', firm: 'dept-z' },
];

/** 30 fixes, 10 s apart, from a minute boundary an hour ago: 5 whole minutes. */
const START = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
const TRACK = Array.from({ length: 30 }, (_, i) => ({
  ts: START + i * 10_000,
  lat: 31.8 + i * 0.0001,
  lon: 117.2 + i * 0.0002,
  speed: 20 + i,
  heading: (i * 7) % 360,
  ...(i % 2 === 0 ? { alt: 30 + i } : {}),
  sats: 9 + (i % 4),
  // one fix without a valid GNSS position: GPX says <fix>none</fix>, the others say nothing
  valid: i !== 7,
  load: i < 15 ? 'empty' : 'full',
}));

let tp: TestPlatform;
let firmY: { authorization: string };
let monitor: { authorization: string };

test.before(async () => {
  tp = await startTestPlatform();
  await registerFleet(tp, UNITS);
  const [x1, x2, y1, z1] = await Promise.all(UNITS.map((u) => TestDevice.connect(tp, u)));
  await x1!.send(TRACK);
  await x2!.send({ ts: START, lat: 31.85, lon: 117.25, task: 'sweeping' });
  await y1!.send({ ts: START, lat: 31.95, lon: 117.45, speed: 10 });
  await z1!.send({ ts: START, lat: 31.81, lon: 117.21, recording: true });
  await Promise.all([x1, x2, y1, z1].map((d) => d!.close()));
  // The track is read from the store, which the pump fills from the spool shortly after acceptance.
  await eventually(
    async () =>
      (await tp.platform.store.count('veh-x1', START, START + 3_600_000)) === 30 ? true : undefined,
    'the track in the store',
  );
  firmY = await createKey(tp, { role: 'firm', firm: 'firm-y' });
  monitor = await createKey(tp, { role: 'monitor' });
});

test.after.always(async () => {
  // ComplianceService.stop() waits for evidence jobs on unref'd timers: let them finish first.
  if (tp) {
    await eventually(
      () => (tp.platform.complianceService.status().pendingEvidence === 0 ? true : undefined),
      'evidence jobs to finish',
      60_000,
    );
  }
  await tp?.stop();
});

async function get(path: string, headers: Record<string, string> = ADMIN) {
  const res = await fetch(`${tp.httpUrl}${path}`, { headers });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
    text: await res.text(),
  };
}

function problem(res: { status: number; type: string; text: string }) {
  if (!res.type.startsWith('application/problem+json'))
    throw new Error(`not a problem: ${res.type} ${res.text}`);
  const body = ProblemSchema.parse(JSON.parse(res.text));
  if (body.status !== res.status) throw new Error('problem status differs from the HTTP status');
  return body;
}

const range = `from=${new Date(START).toISOString()}&to=${new Date(START + 3_600_000).toISOString()}`;
const track = (query: string, headers?: Record<string, string>) =>
  get(`/api/v1/vehicles/veh-x1/track?${range}${query}`, headers);
const iso = (ms: number) => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------------
// latest positions: filters, bbox, pages

test('positions: bbox keeps the units whose latest fix is inside, edges included', async (t) => {
  const ids = async (query: string) => {
    const res = await get(`/api/v1/positions${query}`);
    t.is(res.status, 200, res.text);
    return PositionListSchema.parse(JSON.parse(res.text)).items.map((p) => p.vehicle);
  };
  t.deepEqual(await ids(''), ['cam-z1', 'veh-x1', 'veh-x2', 'veh-y1']);
  // veh-x1's latest fix is the last of TRACK: 31.8029, 117.2058
  t.deepEqual(await ids('?bbox=117.2,31.8,117.3,31.9'), ['cam-z1', 'veh-x1', 'veh-x2']);
  t.deepEqual(await ids('?bbox=117.4,31.9,117.5,32'), ['veh-y1']);
  t.deepEqual(await ids('?bbox=117.45,31.95,117.45,31.95'), ['veh-y1'], 'a point box holds a fix on it');
  t.deepEqual(await ids('?bbox=117.2,31.8,117.3,31.9&kind=sanitation'), ['veh-x2']);
  t.deepEqual(await ids('?bbox=0,0,1,1'), []);
});

test('positions: pages of `limit` walk every unit once, in order, with an opaque cursor', async (t) => {
  const all = PositionListSchema.parse(JSON.parse((await get('/api/v1/positions')).text));
  t.is(all.nextCursor, undefined, 'no limit, no pages: the whole list as before');
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const res = await get(`/api/v1/positions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    t.is(res.status, 200, res.text);
    const page = PositionListSchema.parse(JSON.parse(res.text));
    t.is(page.count, page.items.length);
    t.true(page.count <= 3);
    seen.push(...page.items.map((p) => p.vehicle));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== undefined && pages < 10);
  t.is(pages, 2);
  t.deepEqual(
    seen,
    all.items.map((p) => p.vehicle),
  );
  const one = PositionListSchema.parse(JSON.parse((await get('/api/v1/positions?limit=4')).text));
  t.is(one.nextCursor, undefined, 'a page that ends the list has no cursor');
});

test('positions: a bad cursor, bbox or limit is a 400 problem naming the parameter', async (t) => {
  for (const [query, pointer] of [
    ['cursor=not-a-cursor', '/cursor'],
    [`cursor=${Buffer.from('{"x":1}').toString('base64url')}`, '/cursor'],
    ['bbox=1,2,3', '/bbox'],
    ['bbox=117,32,118,31', '/bbox'],
    ['bbox=a,b,c,d', '/bbox'],
    ['bbox=190,0,191,1', '/bbox'],
    ['limit=0', '/limit'],
    ['limit=10001', '/limit'],
  ] as const) {
    const res = await get(`/api/v1/positions?${query}`);
    t.is(res.status, 400, query);
    t.deepEqual(
      problem(res).errors?.map((e) => [e.in, e.pointer]),
      [['querystring', pointer]],
      query,
    );
  }
});

// ---------------------------------------------------------------------------------------------------
// track: JSON and downsampling

test('track: JSON, oldest first, ISO-8601 UTC instants, every fix of the range', async (t) => {
  const res = await track('');
  t.is(res.status, 200, res.text);
  t.regex(res.type, /^application\/json/);
  const body = TrackSchema.parse(JSON.parse(res.text));
  t.is(body.vehicle, 'veh-x1');
  t.is(body.plate, TRICKY_PLATE);
  t.is(body.kind, 'muck_truck');
  t.is(body.firm, 'firm-x');
  t.is(body.from, iso(START));
  t.is(body.to, iso(START + 3_600_000));
  t.is(body.total, 30);
  t.is(body.count, 30);
  t.deepEqual(
    body.items.map((p) => p.ts),
    TRACK.map((f) => iso(f.ts)),
  );
  t.deepEqual(
    body.items.map((p) => [p.lon, p.lat, p.speed]),
    TRACK.map((f) => [f.lon, f.lat, f.speed]),
  );
  t.true(body.items.every((p) => p.ts.endsWith('Z') && p.received.endsWith('Z')));

  // from and to are inclusive; epoch ms works as well as ISO 8601 with an offset
  const sub = await get(
    `/api/v1/vehicles/veh-x1/track?from=${START + 10_000}&to=${encodeURIComponent(new Date(START + 30_000).toISOString().replace('Z', '+00:00'))}`,
  );
  t.deepEqual(
    TrackSchema.parse(JSON.parse(sub.text)).items.map((p) => p.ts),
    [1, 2, 3].map((i) => iso(START + i * 10_000)),
  );
});

test('track: interval keeps the first fix of every interval, maxPoints spreads evenly', async (t) => {
  const minutes = TrackSchema.parse(JSON.parse((await track('&interval=60s')).text));
  t.is(minutes.total, 30);
  t.deepEqual(
    minutes.items.map((p) => p.ts),
    [0, 1, 2, 3, 4].map((m) => iso(START + m * 60_000)),
  );
  t.deepEqual(TrackSchema.parse(JSON.parse((await track('&interval=1m')).text)).items, minutes.items);

  const four = TrackSchema.parse(JSON.parse((await track('&maxPoints=4')).text));
  // indices round(i * 29 / 3): 0, 10, 19, 29 (first and last kept)
  t.deepEqual(
    four.items.map((p) => p.ts),
    [0, 10, 19, 29].map((i) => iso(START + i * 10_000)),
  );
  const both = TrackSchema.parse(JSON.parse((await track('&interval=60s&maxPoints=2')).text));
  t.deepEqual(
    both.items.map((p) => p.ts),
    [iso(START), iso(START + 4 * 60_000)],
  );
  t.is(both.count, 2);
});

// ---------------------------------------------------------------------------------------------------
// track: exports read back with real parsers

test('track: GeoJSON LineString Feature with the instants in its properties', async (t) => {
  const res = await track('&format=geojson');
  t.is(res.status, 200);
  t.regex(res.type, /^application\/geo\+json/);
  const feature = TrackFeatureSchema.parse(JSON.parse(res.text));
  t.is(feature.geometry?.type, 'LineString');
  t.deepEqual(
    feature.geometry?.coordinates,
    TRACK.map((f) => [f.lon, f.lat]),
  );
  t.deepEqual(
    feature.properties.timestamps,
    TRACK.map((f) => iso(f.ts)),
  );
  t.deepEqual(
    feature.properties.speeds,
    TRACK.map((f) => f.speed),
  );
  t.is(feature.properties.valid.filter((v) => !v).length, 1);
  t.is(feature.properties.plate, TRICKY_PLATE);

  const single = TrackFeatureSchema.parse(JSON.parse((await track('&format=geojson&maxPoints=1')).text));
  t.deepEqual(single.geometry, { type: 'Point', coordinates: [TRACK[0]!.lon, TRACK[0]!.lat] });
  const none = await get(`/api/v1/vehicles/veh-x1/track?from=0&to=1000&format=geojson`);
  t.is(TrackFeatureSchema.parse(JSON.parse(none.text)).geometry, null);
});

test('track: CSV is RFC 4180 and parses back to the fixes', async (t) => {
  const res = await track('&format=csv');
  t.is(res.status, 200);
  t.regex(res.type, /^text\/csv; charset=utf-8/);
  t.regex(
    res.headers.get('content-disposition') ?? '',
    /^attachment; filename="track_veh-x1_\d{8}T\d{6}Z_\d{8}T\d{6}Z\.csv"$/,
  );
  t.true(res.text.endsWith('\r\n'));
  t.is(res.text.split('\r\n').length, 32, 'a header, 30 rows and the final CRLF, all CRLF-separated');
  // strict parsing: no relaxed quotes, every row the header's width
  const rows = parseCsv(res.text, {
    columns: true,
    relax_quotes: false,
    relax_column_count: false,
  }) as Record<string, string>[];
  t.is(rows.length, 30);
  const header = res.text.slice(0, res.text.indexOf('\r\n')).split(',');
  t.deepEqual(header.slice(0, 3), ['ts', 'vehicle', 'plate']);
  t.is(header.at(-1), 'received');
  for (const [i, row] of rows.entries()) {
    const f = TRACK[i]!;
    // China Standard Time by default (a file people open), the same instant
    t.regex(row.ts ?? '', /\+08:00$/);
    t.is(Date.parse(row.ts ?? ''), f.ts);
    t.is(row.ts, `${new Date(f.ts + 8 * 3_600_000).toISOString().slice(0, 23)}+08:00`);
    t.is(row.vehicle, 'veh-x1');
    t.is(row.plate, TRICKY_PLATE);
    t.is(Number(row.lat), f.lat);
    t.is(Number(row.lon), f.lon);
    t.is(Number(row.speed), f.speed);
    t.is(row.alt, f.alt === undefined ? '' : String(f.alt));
    t.is(row.valid, String(f.valid));
    t.is(row.load, f.load);
    t.is(row.task, '', 'a field a muck truck does not report is empty');
    t.regex(row.received ?? '', /\+08:00$/);
  }
  // tz=UTC: Z times; another zone: its offset; a zone that does not exist: 400 naming tz
  const utc = parseCsv((await track('&format=csv&tz=UTC')).text, { columns: true }) as Record<
    string,
    string
  >[];
  t.deepEqual(
    utc.map((r) => r.ts),
    TRACK.map((f) => iso(f.ts)),
  );
  const berlin = parseCsv((await track('&format=csv&tz=Europe/Berlin')).text, { columns: true }) as Record<
    string,
    string
  >[];
  t.regex(berlin[0]!.ts ?? '', /\+0[12]:00$/);
  t.is(Date.parse(berlin[0]!.ts ?? ''), TRACK[0]!.ts);
  const bad = await track('&format=csv&tz=Nowhere/Town');
  t.is(bad.status, 400);
  t.regex(bad.text, /\/tz/);
});

test('track: GPX 1.1 is well-formed and parses back to the fixes', async (t) => {
  const res = await track('&format=gpx');
  t.is(res.status, 200);
  t.regex(res.type, /^application\/gpx\+xml/);
  t.is(XMLValidator.validate(res.text), true);
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseAttributeValue: false,
    parseTagValue: false,
    isArray: (name) => name === 'trkpt',
  }).parse(res.text);
  const gpx = doc.gpx;
  t.is(gpx['@version'], '1.1');
  t.is(gpx['@xmlns'], 'http://www.topografix.com/GPX/1/1');
  t.is(gpx['@creator'], 'CityWatch');
  t.is(gpx.metadata.name, TRICKY_PLATE, 'escaped markup characters come back as they were');
  t.is(gpx.metadata.bounds['@minlat'], String(TRACK[0]!.lat));
  t.is(gpx.trk.name, TRICKY_PLATE);
  t.is(gpx.trk.type, 'muck_truck');
  const points = gpx.trk.trkseg.trkpt as Record<string, unknown>[];
  t.is(points.length, 30);
  for (const [i, p] of points.entries()) {
    const f = TRACK[i]!;
    t.is(Number(p['@lat']), f.lat);
    t.is(Number(p['@lon']), f.lon);
    t.is(p.time, iso(f.ts));
    t.is(p.ele, f.alt === undefined ? undefined : String(f.alt));
    t.is(p.sat, String(f.sats));
    t.is(p.fix, f.valid ? undefined : 'none');
    const ext = p.extensions as Record<string, string>;
    t.is(Number(ext['cw:speed']), f.speed);
    t.is(ext['cw:load'], f.load);
  }
  // Child order is the schema's (ele, time, fix, sat, extensions): check one point's raw markup.
  t.regex(
    res.text,
    /<trkpt lat="[\d.]+" lon="[\d.]+"><ele>\d+<\/ele><time>[^<]+<\/time><sat>\d+<\/sat><extensions>/,
  );
});

test('track: the format comes from `format`, else from Accept; nothing acceptable is a 406', async (t) => {
  const typeFor = async (headers: Record<string, string>, query = '') =>
    (await track(query, { ...ADMIN, ...headers })).type;
  t.regex(await typeFor({}), /^application\/json/);
  t.regex(await typeFor({ accept: '*/*' }), /^application\/json/);
  t.regex(await typeFor({ accept: 'text/csv' }), /^text\/csv/);
  t.regex(await typeFor({ accept: 'application/gpx+xml' }), /^application\/gpx\+xml/);
  t.regex(await typeFor({ accept: 'text/csv;q=0.5, application/geo+json;q=0.9' }), /^application\/geo\+json/);
  t.regex(await typeFor({ accept: 'text/*' }), /^text\/csv/);
  t.regex(await typeFor({ accept: 'application/json;q=0, */*;q=0.1' }), /^application\/geo\+json/);
  t.regex(await typeFor({ accept: 'text/csv' }, '&format=gpx'), /^application\/gpx\+xml/, 'format wins');

  const refused = await track('', { ...ADMIN, accept: 'text/html' });
  t.is(refused.status, 406);
  t.regex(problem(refused).detail ?? '', /text\/csv/);
  const bad = await track('&format=xml');
  t.is(bad.status, 400);
  t.deepEqual(
    problem(bad).errors?.map((e) => e.pointer),
    ['/format'],
  );
});

test('track: bad ranges and downsampling parameters are 400 problems naming the field', async (t) => {
  for (const [query, pointer] of [
    [`from=${START + 1000}&to=${START}`, '/from'],
    ['from=2026-01-01T00:00:00', '/from'],
    ['to=yesterday', '/to'],
    [`from=0&to=${40 * 86_400_000}`, '/from'],
    ['interval=0s', '/interval'],
    ['interval=2d', '/interval'],
    ['maxPoints=0', '/maxPoints'],
    ['limit=5', '/limit'],
  ] as const) {
    const res = await get(`/api/v1/vehicles/veh-x1/track?${query}`);
    t.is(res.status, 400, query);
    t.deepEqual(
      problem(res).errors?.map((e) => e.pointer),
      [pointer],
      query,
    );
  }
  const unknown = await get('/api/v1/vehicles/veh-nope/track');
  t.is(unknown.status, 404);
  t.is(problem(unknown).type, 'urn:citywatch:problem:unknown-unit');
});

// ---------------------------------------------------------------------------------------------------
// tenancy

test('tenancy: a firm key sees its own units only; another firm’s unit is a 404 like an unknown one', async (t) => {
  const list = PositionListSchema.parse(JSON.parse((await get('/api/v1/positions', firmY)).text));
  t.deepEqual(
    list.items.map((p) => p.vehicle),
    ['veh-y1'],
  );
  const asked = PositionListSchema.parse(
    JSON.parse((await get('/api/v1/positions?firm=firm-x', firmY)).text),
  );
  t.deepEqual(asked.items, [], 'asking for another firm gives nothing, not that firm');

  const own = await get(`/api/v1/vehicles/veh-y1/track?${range}`, firmY);
  t.is(own.status, 200);
  t.is(TrackSchema.parse(JSON.parse(own.text)).count, 1);
  t.is((await get('/api/v1/vehicles/veh-y1/position', firmY)).status, 200);

  for (const path of [
    `/api/v1/vehicles/veh-x1/track?${range}&format=csv`,
    '/api/v1/vehicles/veh-x1/position',
  ]) {
    const other = await get(path, firmY);
    const unknown = await get(path.replace('veh-x1', 'veh-nope'), firmY);
    t.is(other.status, 404, path);
    t.is(problem(other).type, problem(unknown).type);
    t.false(other.text.includes('firm-x'));
  }

  const all = PositionListSchema.parse(JSON.parse((await get('/api/v1/positions', monitor)).text));
  t.is(all.count, 4, 'a monitor key sees every firm');
  t.is((await get(`/api/v1/vehicles/veh-x1/track?${range}&format=gpx`, monitor)).status, 200);

  // a key narrowed to other scopes reads no positions at all
  const narrow = await createKey(tp, { role: 'monitor', scopes: ['violations:read'] });
  for (const path of [
    '/api/v1/positions',
    '/api/v1/vehicles/veh-x1/position',
    `/api/v1/vehicles/veh-x1/track?${range}`,
  ]) {
    const res = await get(path, narrow);
    t.is(res.status, 403, path);
    t.regex(problem(res).detail ?? '', /positions:read/);
  }
});

test('docs: the track and live routes are in the OpenAPI document, with their media types and scope', async (t) => {
  const res = await get('/docs/json', {});
  t.is(res.status, 200);
  const doc = JSON.parse(res.text);
  const mine = ['/api/v1/vehicles/{id}/track', '/api/v1/live/positions', '/api/v1/live/violations'];
  t.deepEqual(
    openApiProblems(doc).filter((p) => mine.some((path) => p.includes(path))),
    [],
  );
  const trackOp = doc.paths['/api/v1/vehicles/{id}/track'].get;
  t.deepEqual(Object.keys(trackOp.responses['200'].content).sort(), [
    'application/geo+json',
    'application/gpx+xml',
    'application/json',
    'text/csv',
  ]);
  t.deepEqual(trackOp.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`).sort(), [
    'path:id',
    'query:format',
    'query:from',
    'query:interval',
    'query:maxPoints',
    'query:to',
    'query:tz',
  ]);
  for (const path of mine.slice(1)) {
    const op = doc.paths[path].get;
    t.truthy(op.responses['200'].content['text/event-stream'], path);
    t.true(
      op.parameters.some(
        (p: { in: string; name: string }) => p.in === 'header' && p.name === 'last-event-id',
      ),
      path,
    );
  }
  t.is(doc.paths['/api/v1/live/violations'].get['x-scope'], 'violations:read');
  t.is(trackOp['x-scope'], 'positions:read');
});
