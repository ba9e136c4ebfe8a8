/**
 * Scorecards by tenancy, as CSV, and a bad month (their world: test/support/api/scorecard.ts).
 */
import test from 'ava';
import { parse } from 'csv-parse/sync';
import { ProblemSchema } from '../../api/schemas.ts';
import { monthOf, monthRange } from '../../api/scorecard/month.ts';
import { VIOLATION_CODES } from '../../geofence/model.ts';
import { api, EXPECTED, SAN_A } from '../support/api/scorecard.ts';
import { openApiProblems } from '../support/openapi.ts';
import { as } from '../support/role-keys.ts';

test('tenancy: a firm key gets its own card only, with its rank among all firms', async (t) => {
  const app = await api(t);
  const own = await app.inject({ url: '/api/v1/scorecards?month=2026-11', headers: as('firmA') });
  t.is(own.statusCode, 200, own.body);
  t.deepEqual(own.json().items, [EXPECTED[3]]);
  // its own sections only: its sweeper, not the department's cameras
  t.deepEqual(own.json().sanitationTeams, [{ firm: 'firm-a', firmName: '合肥甲运输有限公司', ...SAN_A }]);
  t.deepEqual(own.json().enforcementSquads, []);
  t.deepEqual(
    (await app.inject({ url: '/api/v1/scorecards/firm-a?month=2026-11', headers: as('firmA') })).json(),
    { ...EXPECTED[3], sanitation: SAN_A },
  );
  for (const firm of ['firm-b', 'firm-zzz']) {
    const other = await app.inject({ url: `/api/v1/scorecards/${firm}?month=2026-11`, headers: as('firmA') });
    t.is(other.statusCode, 404, firm);
    t.is(ProblemSchema.parse(other.json()).type, 'urn:citywatch:problem:unknown-firm');
  }
  t.is(
    (await app.inject({ url: '/api/v1/scorecards/firm-zzz?month=2026-11', headers: as('admin') })).statusCode,
    404,
  );
  // a firm with no card of its own this month still gets one (zeros, unranked)
  const b = await app.inject({ url: '/api/v1/scorecards?month=2027-01', headers: as('firmB') });
  t.like(b.json().items, [{ firm: 'firm-b', rank: null, rankedFirms: 0, trips: 0 }]);
  t.is((await app.inject({ url: '/api/v1/scorecards?month=2026-11' })).statusCode, 401);
});

test('CSV (format=csv or Accept: text/csv) parses back to the same figures', async (t) => {
  const app = await api(t);
  const res = await app.inject({
    url: '/api/v1/scorecards?month=2026-11',
    headers: { ...as('admin'), accept: 'text/csv' },
  });
  t.is(res.statusCode, 200, res.body);
  t.regex(String(res.headers['content-type']), /^text\/csv; charset=utf-8/);
  t.is(res.headers['content-disposition'], 'attachment; filename="scorecards-2026-11.csv"');
  t.true(res.body.startsWith('\uFEFF'), 'UTF-8 byte order mark');
  t.true(res.body.includes('\r\n'), 'RFC 4180 line ends');
  const rows = parse(res.body, { bom: true, columns: true }) as Record<string, string>[];
  t.deepEqual(
    rows.map((r) => r.firm),
    EXPECTED.map((c) => c.firm),
  );
  const cell = (v: number | null | string | undefined) => (v === null || v === undefined ? '' : String(v));
  rows.forEach((row, i) => {
    const card = EXPECTED[i]!;
    for (const key of [
      'month',
      'rank',
      'rankedFirms',
      'trips',
      'compliantTrips',
      'compliantShare',
      'km',
      'violations',
      'per100Trips',
      'per1000Km',
      'openViolations',
    ] as const) {
      t.is(row[key], cell(card[key]), `${card.firm} ${key}`);
    }
    for (const code of VIOLATION_CODES)
      t.is(row[code], String(card.violationsByCode[code]), `${card.firm} ${code}`);
  });
  t.is(rows[5]!.firmName, '丁运输, "东区" 分公司', 'quoted field with a comma and quotes survives');
  // the month's bounds, as China Standard Time by default (people open the file), as UTC with tz=UTC
  t.is(rows[0]!.from, '2026-11-01T00:00:00.000+08:00');
  t.is(rows[0]!.to, '2026-12-01T00:00:00.000+08:00');
  const utc = await app.inject({
    url: '/api/v1/scorecards?month=2026-11&format=csv&tz=UTC',
    headers: as('admin'),
  });
  const utcRows = parse(utc.body, { bom: true, columns: true }) as Record<string, string>[];
  t.is(utcRows[0]!.from, '2026-10-31T16:00:00.000Z');
  t.is(utcRows[0]!.to, '2026-11-30T16:00:00.000Z');
  t.is(rows[2]!.firmName, '合肥乙运输有限公司');

  const one = await app.inject({
    url: '/api/v1/scorecards/firm-a?month=2026-11&format=csv',
    headers: as('firmA'),
  });
  const [row] = parse(one.body, { bom: true, columns: true }) as Record<string, string>[];
  t.like(row, {
    firm: 'firm-a',
    rank: '4',
    per100Trips: '50',
    per1000Km: '40',
    OFF_ROUTE: '1',
    OVERSPEED: '1',
  });
  t.is(one.headers['content-disposition'], 'attachment; filename="scorecards-2026-11-firm-a.csv"');

  const preferred = await app.inject({
    url: '/api/v1/scorecards?month=2026-11',
    headers: { ...as('admin'), accept: 'text/csv;q=0.5, application/json' },
  });
  t.regex(String(preferred.headers['content-type']), /^application\/json/);
  const neither = await app.inject({
    url: '/api/v1/scorecards?month=2026-11',
    headers: { ...as('admin'), accept: 'application/xml' },
  });
  t.is(neither.statusCode, 406);
});

test('a month that is not YYYY-MM is a 400 naming month; the routes are in a sound OpenAPI document', async (t) => {
  const app = await api(t);
  for (const month of ['2026-13', '2026-1', 'November']) {
    const res = await app.inject({ url: `/api/v1/scorecards?month=${month}`, headers: as('admin') });
    t.is(res.statusCode, 400, month);
    t.deepEqual(
      ProblemSchema.parse(res.json()).errors?.map((e) => [e.in, e.pointer]),
      [['querystring', '/month']],
    );
  }
  // without month: the current month of China Standard Time (bracketed, so a month's end cannot race it)
  const before = monthOf(Date.now());
  const current = await app.inject({ url: '/api/v1/scorecards', headers: as('admin') });
  const one = await app.inject({ url: '/api/v1/scorecards/firm-a', headers: as('admin') });
  const after = monthOf(Date.now());
  t.is(current.statusCode, 200, current.body);
  t.true([before, after].includes(current.json().month), current.json().month);
  t.is(current.json().from, new Date(monthRange(current.json().month)!.fromMs).toISOString());
  t.is(one.statusCode, 200, one.body);
  t.true([before, after].includes(one.json().month));
  // tz: an IANA zone, named when wrong
  const badTz = await app.inject({
    url: '/api/v1/scorecards?month=2026-11&tz=Mars/Olympus',
    headers: as('admin'),
  });
  t.is(badTz.statusCode, 400);
  t.deepEqual(
    ProblemSchema.parse(badTz.json()).errors?.map((e) => [e.in, e.pointer]),
    [['querystring', '/tz']],
  );
  const doc = (await app.inject({ url: '/docs/json' })).json();
  t.deepEqual(openApiProblems(doc), []);
  for (const path of [
    '/api/v1/scorecards',
    '/api/v1/scorecards/{firm}',
    '/api/v1/violations/{id}/status',
    '/api/v1/violations/{id}/audit',
  ]) {
    t.truthy(doc.paths[path], path);
  }
  t.truthy(doc.paths['/api/v1/scorecards'].get.responses['200'].content['text/csv']);
});
