import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parse } from 'csv-parse/sync';
import type { ApiDeps } from '../../api/app.ts';
import { ProblemSchema } from '../../api/schemas.ts';
import { monthOf, monthRange } from '../../api/scorecard/month.ts';
import { VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';
import type { Trip, TripEvent } from '../../geofence/trips.ts';
import type { Violation, ViolationEvent } from '../../geofence/types.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type { ViolationStatus } from '../../store/events-port.ts';
import { fleetRegistry, testApi } from '../support/api-fixtures.ts';
import { openApiProblems } from '../support/openapi.ts';
import { as, KEYS } from '../support/role-keys.ts';

/**
 * The monthly firm scorecard (api/scorecard/compute.ts) from a fixture whose figures are worked out by
 * hand below, through the API (JSON and CSV) on a real embedded event store.
 */

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** November 2026 in China Standard Time: [2026-10-31T16:00Z, 2026-11-30T16:00Z) */
const NOV_START = Date.parse('2026-10-31T16:00:00Z');
const DEC_START = Date.parse('2026-11-30T16:00:00Z');
const nov = (day: number, hourUtc = 2) => Date.UTC(2026, 10, day, hourUtc);

test('months are local (UTC+8): boundaries and the month of an instant', (t) => {
  t.deepEqual(monthRange('2026-11'), { month: '2026-11', fromMs: NOV_START, toMs: DEC_START });
  t.is(monthRange('2026-12')?.toMs, Date.parse('2026-12-31T16:00:00Z'), 'December into the next year');
  t.is(monthRange('2026-13'), undefined);
  t.is(monthRange('2026-1'), undefined);
  t.is(monthOf(NOV_START - 1), '2026-10', '23:59:59.999 local on 31 October');
  t.is(monthOf(NOV_START), '2026-11', '00:00 local on 1 November is 16:00Z on 31 October');
  t.is(monthOf(DEC_START - 1), '2026-11');
  t.is(monthOf(DEC_START), '2026-12');
});

// ---------------------------------------------------------------------------------------------------
// The fixture. Registered muck trucks: veh-1 (firm-a), veh-2 (firm-b), veh-d (firm-d); veh-s1 is
// firm-a's sanitation vehicle and cam-1 dept-1's body camera (both left out of the 考核). veh-c, veh-e
// and veh-f are not registered: their firms are scored because they have trips or violations.

function trip(vehicle: string, firm: string, startTs: number, distanceKm: number, compliant: boolean): Trip {
  return {
    id: `${vehicle}:trip:${startTs}`,
    vehicle,
    firm,
    permit: 'permit-1',
    originSite: 'site-o',
    originVersion: 1,
    startTs,
    startPos: [117.2, 31.8],
    loadTrigger: 'load',
    disposalSite: 'site-d',
    endTs: startTs + 3_600_000,
    durationMs: 3_600_000,
    distanceKm,
    endPos: [117.3, 31.85],
    unloadTrigger: 'lift',
    compliant,
    violationCount: compliant ? 0 : 1,
    violations: [],
  };
}

const TRIPS: Trip[] = [
  // firm-a: 4 trips in November, 12.5 + 10 + 7.5 + 20 = 50 km, 3 compliant
  trip('veh-1', 'firm-a', NOV_START, 12.5, true), // 00:00 local on 1 November: in
  trip('veh-1', 'firm-a', nov(10), 10, true),
  trip('veh-1', 'firm-a', nov(20), 7.5, false),
  trip('veh-1', 'firm-a', DEC_START - 1, 20, true), // 23:59:59.999 local on 30 November: in
  trip('veh-1', 'firm-a', DEC_START, 100, false), // 00:00 local on 1 December: out
  trip('veh-1', 'firm-a', NOV_START - 1, 100, false), // 23:59:59.999 local on 31 October: out
  // firm-b: 2 trips, 40 + 35 = 75 km, 1 compliant
  trip('veh-2', 'firm-b', nov(5), 40, true),
  trip('veh-2', 'firm-b', nov(6), 35, false),
  // firm-c and firm-e: one clean trip each
  trip('veh-c', 'firm-c', nov(7), 25, true),
  trip('veh-e', 'firm-e', nov(8), 30, true),
];
/** started in November, not completed: not counted anywhere */
const STARTED = trip('veh-2', 'firm-b', nov(28), 0, true);

function violation(vehicle: string, firm: string, code: ViolationCode, startTs: number): Violation {
  return {
    id: `${vehicle}:${code}:${startTs}`,
    code,
    vehicle,
    firm,
    startTs,
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.807],
    refs: [],
    thresholds: {},
    ruleVersion: 1,
    details: {},
  };
}

/** [violation, its enforcement status] */
const VIOLATIONS: [Violation, ViolationStatus][] = [
  // firm-a: 2 in November (OFF_ROUTE closed, OVERSPEED open); 1 is December's; 1 is its sweeper's
  [violation('veh-1', 'firm-a', 'OFF_ROUTE', nov(20, 3)), 'closed'],
  [violation('veh-1', 'firm-a', 'OVERSPEED', nov(21)), 'open'],
  [violation('veh-1', 'firm-a', 'OFF_ROUTE', DEC_START), 'open'],
  [violation('veh-s1', 'firm-a', 'OVERSPEED', nov(22)), 'open'],
  // firm-b: 1, acknowledged (taken up, not resolved: still counts as open)
  [violation('veh-2', 'firm-b', 'NO_PERMIT', nov(6, 3)), 'acknowledged'],
  // firm-f: 1, and no trip at all
  [violation('veh-f', 'firm-f', 'OVERLOAD', nov(9)), 'confirmed'],
  // dept-1's body camera: not a haulage firm's violation
  [violation('cam-1', 'dept-1', 'OFFLINE', nov(9)), 'open'],
];

/** withdrawn by a re-judging (opened, then withdrawn): in no figure and no rank */
const WITHDRAWN: Violation[] = [
  violation('veh-1', 'firm-a', 'TRACK_GAP', nov(11)),
  violation('veh-e', 'firm-e', 'OFFLINE', nov(11)),
  violation('veh-d', 'firm-d', 'OFF_ROUTE', nov(11)),
];
const WITHDRAWN_TRIP = trip('veh-d', 'firm-d', nov(11), 30, false);

const PATH: Record<ViolationStatus, ViolationStatus[]> = {
  open: [],
  acknowledged: ['acknowledged'],
  disputed: ['acknowledged', 'disputed'],
  confirmed: ['acknowledged', 'confirmed'],
  closed: ['acknowledged', 'confirmed', 'closed'],
};

function registry(): ApiDeps['registry'] {
  const base = fleetRegistry();
  return {
    ...base,
    firm: (id) => (id === 'firm-d' ? { id, name: '丁运输, "东区" 分公司' } : base.firm(id)),
    vehicles: () => [
      ...base.vehicles(),
      { id: 'veh-d', plate: '皖A·40001', kind: 'muck_truck', firm: 'firm-d' },
    ],
  };
}

async function api(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-scorecard-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const tripEvents: TripEvent[] = [
    ...TRIPS.map((trip): TripEvent => ({ kind: 'completed', trip })),
    { kind: 'started', trip: STARTED },
  ];
  await events.recordTrips(tripEvents);
  await events.recordViolations(VIOLATIONS.map(([v]): ViolationEvent => ({ phase: 'opened', violation: v })));
  // withdrawn by a re-judging with late fixes (issue 17): kept, never counted
  const rejudged = { reason: 'backfill' as const, lateTs: nov(12) };
  await events.recordViolations(
    WITHDRAWN.flatMap((v): ViolationEvent[] => [
      { phase: 'opened', violation: v },
      {
        phase: 'withdrawn',
        violation: { ...v, withdrawal: { reason: 'backfill', lateTs: nov(12) } },
        rejudged,
      },
    ]),
  );
  await events.recordTrips([
    { kind: 'completed', trip: WITHDRAWN_TRIP },
    { kind: 'withdrawn', trip: WITHDRAWN_TRIP, rejudged },
  ]);
  for (const [v, status] of VIOLATIONS) {
    for (const to of PATH[status])
      await events.setViolationStatus({ id: v.id, to, actor: 'key-monitor', at: nov(29) });
  }
  const { app } = await testApi(NO_POSITIONS, { events, keys: KEYS, registry: registry() });
  t.teardown(async () => {
    await app.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return app;
}

const codes = (some: Partial<Record<ViolationCode, number>>) => ({
  ...Object.fromEntries(VIOLATION_CODES.map((c) => [c, 0])),
  ...some,
});

/**
 * Worked out by hand. Rank: violations per 100 trips, then per 1,000 km, then open violations (lower is
 * better); a rate without trips/km is 0 with no violations and +infinity with some.
 *   firm-c  1 trip, 25 km, 0 violations:  0 per 100 trips, 0 per 1,000 km       -> rank 1
 *   firm-e  1 trip, 30 km, 0 violations:  the same three keys as firm-c         -> rank 1 (tie)
 *   firm-b  2 trips, 40+35 = 75 km, 1 violation:  1/2×100 = 50;  1/75×1000 = 13.333… -> rank 3
 *   firm-a  4 trips, 12.5+10+7.5+20 = 50 km, 2 violations:  2/4×100 = 50;  2/50×1000 = 40
 *           (ties firm-b on 50 per 100 trips, loses on per 1,000 km: 40 > 13.33)   -> rank 4
 *   firm-f  0 trips, 1 violation: rate +infinity                                   -> rank 5
 *   firm-d  registered muck truck, nothing this month: not ranked (null), listed last
 * Compliant share: firm-a 3/4 = 0.75, firm-b 1/2 = 0.5, firm-c and firm-e 1/1 = 1.
 * Open (status not closed): firm-a 1 (OVERSPEED open; OFF_ROUTE closed), firm-b 1 (acknowledged),
 * firm-f 1 (confirmed).
 */
const EXPECTED = [
  {
    firm: 'firm-c',
    rank: 1,
    trips: 1,
    compliantTrips: 1,
    compliantShare: 1,
    km: 25,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: 0,
    per1000Km: 0,
    openViolations: 0,
  },
  {
    firm: 'firm-e',
    rank: 1,
    trips: 1,
    compliantTrips: 1,
    compliantShare: 1,
    km: 30,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: 0,
    per1000Km: 0,
    openViolations: 0,
  },
  {
    firm: 'firm-b',
    firmName: '合肥乙运输有限公司',
    rank: 3,
    trips: 2,
    compliantTrips: 1,
    compliantShare: 0.5,
    km: 75,
    violations: 1,
    violationsByCode: codes({ NO_PERMIT: 1 }),
    per100Trips: 50,
    per1000Km: 13.33,
    openViolations: 1,
  },
  {
    firm: 'firm-a',
    firmName: '合肥甲运输有限公司',
    rank: 4,
    trips: 4,
    compliantTrips: 3,
    compliantShare: 0.75,
    km: 50,
    violations: 2,
    violationsByCode: codes({ OFF_ROUTE: 1, OVERSPEED: 1 }),
    per100Trips: 50,
    per1000Km: 40,
    openViolations: 1,
  },
  {
    firm: 'firm-f',
    rank: 5,
    trips: 0,
    compliantTrips: 0,
    compliantShare: null,
    km: 0,
    violations: 1,
    violationsByCode: codes({ OVERLOAD: 1 }),
    per100Trips: null,
    per1000Km: null,
    openViolations: 1,
  },
  {
    firm: 'firm-d',
    firmName: '丁运输, "东区" 分公司',
    rank: null,
    trips: 0,
    compliantTrips: 0,
    compliantShare: null,
    km: 0,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: null,
    per1000Km: null,
    openViolations: 0,
  },
].map((card) => ({ month: '2026-11', rankedFirms: 5, ...card }));

const SAN_A = {
  vehicles: 1,
  violations: 1,
  violationsByCode: codes({ OVERSPEED: 1 }),
  sweepShifts: 0,
  plannedKm: 0,
  sweptKm: 0,
  coverage: null,
  collectionWindows: 0,
  onTime: 0,
  late: 0,
  missed: 0,
  onTimeShare: null,
};
const ENF_DEPT1 = {
  cameras: 1,
  violations: 1,
  violationsByCode: codes({ OFFLINE: 1 }),
  shifts: 0,
  dutyHours: 0,
  heardShare: null,
  recordingShare: null,
  inGridShare: null,
};

test('the November scorecards of the fixture, as worked out by hand', async (t) => {
  const app = await api(t);
  const res = await app.inject({ url: '/api/v1/scorecards?month=2026-11', headers: as('monitor') });
  t.is(res.statusCode, 200, res.body);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.deepEqual(res.json(), {
    month: '2026-11',
    from: '2026-10-31T16:00:00.000Z',
    to: '2026-11-30T16:00:00.000Z',
    items: EXPECTED,
    // veh-s1 (a sanitation vehicle of firm-a) and cam-1 (a camera of dept-1): not in the 考核 cards, in
    // the sections (no plans nor tracks in this fixture: their violations only)
    sanitationTeams: [{ firm: 'firm-a', firmName: '合肥甲运输有限公司', ...SAN_A }],
    enforcementSquads: [{ firm: 'dept-1', firmName: '蜀山区城管局', ...ENF_DEPT1 }],
  });

  const one = await app.inject({ url: '/api/v1/scorecards/firm-b?month=2026-11', headers: as('admin') });
  t.deepEqual(one.json(), EXPECTED[2]);
  const december = await app.inject({ url: '/api/v1/scorecards/firm-a?month=2026-12', headers: as('admin') });
  t.like(december.json(), {
    month: '2026-12',
    rank: 1,
    rankedFirms: 1,
    trips: 1, // the trip loaded at 00:00 local on 1 December
    km: 100,
    violations: 1,
    per100Trips: 100,
    per1000Km: 10,
  });
});

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
