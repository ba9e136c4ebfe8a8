/**
 * A unit track as JSON, GeoJSON, CSV and GPX; downsampling; negotiation; bad ranges (their world: test/support/api/positions-export.ts).
 */
import test from 'ava';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { TrackFeatureSchema, TrackSchema } from '../../api/track-format-schemas.ts';
import {
  get,
  iso,
  problem,
  START,
  setUp,
  TRACK,
  TRICKY_PLATE,
  track,
} from '../support/api/positions-export.ts';
import { ADMIN } from '../support/live-fleet.ts';

setUp();

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
