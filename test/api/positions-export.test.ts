/**
 * Positions and tracks over a real socket against the running platform: fixes arrive through MQTT, are
 * stored, and come back as a paged latest-position list and as a track in JSON, GeoJSON, CSV and GPX.
 * The exports are read back with real parsers (csv-parse, fast-xml-parser), not with string matching.
 */
import test from 'ava';
import { PositionListSchema } from '../../api/schemas.ts';
import { TrackSchema } from '../../api/track-format-schemas.ts';
import { firmY, get, monitor, problem, range, setUp, tp } from '../support/api/positions-export.ts';
import { createKey } from '../support/live-fleet.ts';
import { openApiProblems } from '../support/openapi.ts';

setUp();

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
