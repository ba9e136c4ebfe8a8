import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import ExcelJS from 'exceljs';
import type { Fix } from '../../core/fix.ts';
import { coverageDayRow } from '../../geofence/coverage-report.ts';
import { CST_OFFSET_MS } from '../../geofence/geo/windows.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { CP1, CP2, PLAN_WORLD, runPlans, SP1, stay, uf, walk } from '../support/plans-matrix.ts';
import { reportApi, reportStores, twoPagesOfOne } from '../support/report-api.ts';
import { withNoise } from '../support/rules/matrix/perturb.ts';
import { DAY, type Item, local } from '../support/rules/track-kit.ts';

/*
 * The sanitation coverage report (issue 15, item 4): per vehicle per day, swept length against planned
 * and the collection windows. The plans of plans-matrix.ts: SP1 (0,1000)-(1000,1000) shift 06:00-07:00,
 * CP1 at (500,500) 08:00-08:30, CP2 at (1500,500) 23:50-00:20 (crosses midnight), all of S1 (firm F1);
 * collectionLateGraceMs 1 h. The figures must be the rules' own: the same track run through the engine
 * gives the SWEEP_COVERAGE and LATE/MISSED_COLLECTION the report implies.
 */

const SWEEP: Partial<Fix> = { brush: true, task: 'sweeping' };
const COLLECT: Partial<Fix> = { task: 'collecting' };
const LATER = local(40); // long after every window's grace
const SAN = ['MISSED_COLLECTION', 'LATE_COLLECTION', 'SWEEP_COVERAGE'];

/** S1 sweeps SP1 from x=0 to x=`toX` from 06:05, collects at CP1 at `cp1` and at CP2 at `cp2` */
function day(toX: number, cp1?: number, cp2?: number): Fix[] {
  const out = walk('S1', local(5, 55), [0, 0], [0, 990], 20, 10_000);
  out.push(...walk('S1', local(6, 5), [0, 1000], [toX, 1000], 10, 10_000, SWEEP));
  out.push(uf('S1', local(7, 30), 480, 480));
  if (cp1 !== undefined) out.push(...stay('S1', cp1, [500, 500], 6, 10_000, COLLECT));
  out.push(uf('S1', local(10), 0, 0));
  out.push(uf('S1', local(23, 40), 1400, 400));
  if (cp2 !== undefined) out.push(...stay('S1', cp2, [1500, 500], 6, 10_000, COLLECT));
  out.push(uf('S1', local(26), 0, 0));
  return out.sort((a, b) => a.ts - b.ts);
}

const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

test('a day: 40 % of the plan swept, CP1 on time, CP2 (across midnight) 20 min late; the rules agree', (t) => {
  const fixes = day(390, local(8, 10), local(24, 40));
  const row = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, LATER);
  t.like(row, { date: DAY, firm: 'F1', vehicle: 'S1', onTime: 1, late: 1, missed: 0, pending: 0 });
  t.is(row.fixes, fixes.length);
  t.is(row.sweeps.length, 1);
  const s = row.sweeps[0]!;
  t.like(s, { plan: 'SP1', planVersion: 3, shiftStart: local(6), shiftEnd: local(7), ended: true });
  t.true(Math.abs(s.plannedM - 1000) < 1, String(s.plannedM));
  t.is(s.sweptM, 400, 'pieces 0-19 of 20 m');
  t.is(s.coverage, 0.4);
  t.is(row.coverage, 0.4);
  t.deepEqual(
    row.collections.map((c) => [c.point, c.status, c.visitTs, c.lateByMs]),
    [
      ['CP1', 'on_time', local(8, 10), undefined],
      ['CP2', 'late', local(24, 40), 20 * 60_000],
    ],
  );
  t.like(row.collections[1], {
    windowStart: local(23, 50),
    windowEnd: local(24, 20),
    pointVersion: CP2.version,
  });
  // the engine on the same track: SWEEP_COVERAGE with the same swept length and unswept stretches, CP2 late
  const r = runPlans([...fixes, ...ticks(local(27))]);
  const cov = r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE' && e.phase === 'closed')!.violation;
  t.is(cov.details.sweptM, s.sweptM);
  t.deepEqual(JSON.parse(cov.details.unswept as string), s.unswept);
  t.true(
    Math.abs(s.unswept.coordinates[0]!.at(-1)![0] - SP1.lines[0]![1]![0]) < 1e-6,
    'the unswept stretch runs to the end',
  );
  const late = r.events.filter((e) => e.violation.code === 'LATE_COLLECTION' && e.phase === 'closed');
  t.deepEqual(
    late.map((e) => [e.violation.details.point, e.violation.details.lateByMs]),
    [['CP2', 20 * 60_000]],
  );
});

test('the whole plan swept: coverage 1 and nothing unswept; no SWEEP_COVERAGE either', (t) => {
  const fixes = day(1000, local(8, 10), local(24, 10));
  const row = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, LATER);
  t.is(row.sweeps[0]!.coverage, 1);
  t.deepEqual(row.sweeps[0]!.unswept.coordinates, []);
  t.is(row.onTime, 2);
  const r = runPlans([...fixes, ...ticks(local(27))]);
  t.deepEqual(
    r.events.map((e) => e.violation.code).filter((c) => SAN.includes(c)),
    [],
  );
});

test('a window without a visit is pending until its grace has passed, then missed (as MISSED_COLLECTION decides)', (t) => {
  const fixes = day(1000, undefined, local(24, 10));
  const deadline = local(9, 30);
  const before = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, deadline);
  t.like(before, { onTime: 1, missed: 0, pending: 1 });
  t.like(before.collections[0], { point: 'CP1', status: 'pending' });
  const after = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, deadline + 1);
  t.like(after, { onTime: 1, missed: 1, pending: 0 });
  t.like(after.collections[0], {
    point: 'CP1',
    status: 'missed',
    windowStart: local(8),
    windowEnd: local(8, 30),
  });
  t.is(after.collections[0]!.visitTs, undefined);
  // a shift still on is reported so far
  const during = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, local(6, 30));
  t.false(during.sweeps[0]!.ended);
  const before9 = fixes.filter((f) => f.ts < deadline);
  const r = runPlans([...before9, ...ticks(deadline), ...fixes.slice(before9.length), ...ticks(local(27))]);
  const opened = r.log.filter((l) => l.event.phase === 'opened' && SAN.includes(l.event.violation.code));
  t.deepEqual(
    opened.map((l) => [l.event.violation.code, l.event.violation.details.point, l.at]),
    [['MISSED_COLLECTION', 'CP1', local(10)]],
    'not at the deadline itself: at the first fix after it',
  );
});

test('15 m noise, duplicates, out-of-order and invalid fixes: the same figures as the ordered track, for every seed', (t) => {
  for (let seed = 1; seed <= 10; seed++) {
    const noisy = withNoise(day(390, local(8, 10), local(24, 40)), seed);
    const want = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, noisy, LATER);
    // every fix twice, shuffled, and an invalid fix on the unswept road (never sweeps)
    const shuffled = [...noisy, ...noisy.slice(0, 40)]
      .map((f, i) => ({ f, k: (i * 7919) % 101 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.f);
    shuffled.push({ ...uf('S1', local(6, 40, 1), 800, 1000, SWEEP), valid: false });
    const got = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, shuffled, LATER);
    t.deepEqual(got, want, `seed ${seed}`);
    t.like(want, { onTime: 1, late: 1 }, `seed ${seed}`);
    t.true(Math.abs(want.sweeps[0]!.sweptM - 400) <= 40, `seed ${seed}: ${want.sweeps[0]!.sweptM}`);
    // and the rule on the noisy track swept the same length
    const r = runPlans([...noisy, ...ticks(local(27))]);
    const cov = r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')!.violation;
    t.is(cov.details.sweptM, want.sweeps[0]!.sweptM, `seed ${seed}`);
  }
});

test('another firm’s plans are not in a firm’s row; a vehicle without plans has none', (t) => {
  const row = coverageDayRow(PLAN_WORLD, 'F2', 'S1', DAY, day(390), LATER);
  t.deepEqual([row.sweeps, row.collections, row.coverage], [[], [], null]);
});

async function coverageApi(t: import('ava').ExecutionContext, now = LATER) {
  const stores = await reportStores(t, 'coverage-report');
  const { registry, store } = stores;
  for (const p of [CP1, CP2]) {
    const { version: _v, ...rest } = p;
    registry.put('collection_point', rest);
  }
  const { version: _v, ...sp } = SP1;
  registry.put('sweep_plan', { ...sp, vehicles: ['S1', 'S2'] }); // S2 never heard
  await store.writeFixes(day(390, local(8, 10), local(24, 40)));
  return reportApi(t, stores, { reportNow: () => now });
}

test('GET /reports/coverage: JSON pages, CSV lines; a bad format is named', async (t) => {
  const app = await coverageApi(t);
  const json = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}`, headers: AUTH });
  t.is(json.statusCode, 200, json.body);
  const body = json.json();
  t.is(body.count, 2);
  t.like(body.items[0], {
    firm: 'F1',
    vehicle: 'S1',
    onTime: 1,
    late: 1,
    missed: 0,
    sweptM: 400,
    coverage: 0.4,
  });
  t.is(body.items[0].sweeps[0].unswept.type, 'MultiLineString');
  // PLAN_WORLD names S1 only: S2 has no plans there, and no fixes
  t.like(body.items[1], { vehicle: 'S2', fixes: 0 });

  const pages = await twoPagesOfOne(app, `/api/v1/reports/coverage?date=${DAY}`, 'vehicle');
  t.deepEqual(pages.first, ['S1']);
  t.deepEqual(pages.second, ['S2']);
  t.is(pages.after, undefined);
  const other = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}&firm=F2`, headers: AUTH });
  t.is(other.json().count, 0);
  const one = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}&vehicle=S1`, headers: AUTH });
  t.is(one.json().count, 1);

  const csv = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}&format=csv`, headers: AUTH });
  t.is(csv.statusCode, 200, csv.body);
  t.regex(String(csv.headers['content-type']), /^text\/csv/);
  const lines = csv.body.trimEnd().split('\r\n');
  t.is(
    lines[0],
    'date,firm,vehicle,kind,plan,version,start,end,status,plannedM,sweptM,unsweptM,coverage,visitTs,lateByMs,unswept',
  );
  t.is(lines.length, 4, 'a sweep shift and two windows of S1; S2 has none in PLAN_WORLD');
  const planned = body.items[0].plannedM;
  t.true(Math.abs(planned - 1000) < 1);
  t.true(
    lines[1]!.startsWith(
      `${DAY},F1,S1,sweep,SP1,3,${local(6)},${local(7)},ended,${planned},400,${planned - 400},0.4,,,`,
    ),
    lines[1],
  );
  t.regex(lines[1]!, /"\{""type"":""MultiLineString""/);
  t.is(lines[2], `${DAY},F1,S1,collection,CP1,2,${local(8)},${local(8, 30)},on_time,,,,,${local(8, 10)},,`);
  t.is(
    lines[3],
    `${DAY},F1,S1,collection,CP2,1,${local(23, 50)},${local(24, 20)},late,,,,,${local(24, 40)},${20 * 60_000},`,
  );
  const bad = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}&format=pdf`, headers: AUTH });
  t.is(bad.statusCode, 400);
  t.regex(bad.body, /format/);
});

/** the wall time an Excel date cell shows, as the China Standard Time instant it stands for */
const cstInstant = (d: unknown) => (d as Date).getTime() - CST_OFFSET_MS;

test('GET /reports/coverage?format=xlsx: a workbook exceljs opens, with the CSV’s cells and a sheet per vehicle', async (t) => {
  const app = await coverageApi(t);
  const res = await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}&format=xlsx`, headers: AUTH });
  t.is(res.statusCode, 200);
  t.is(res.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  t.regex(String(res.headers['content-disposition']), /coverage-2026-11-10\.xlsx/);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(res.rawPayload as unknown as ExcelJS.Buffer);
  t.deepEqual(
    wb.worksheets.map((w) => w.name),
    ['Coverage', 'Vehicles'],
  );
  const cov = wb.getWorksheet('Coverage')!;
  t.is(cov.rowCount, 4);
  t.deepEqual((cov.getRow(1).values as unknown[]).slice(1, 6), ['date', 'firm', 'vehicle', 'kind', 'plan']);
  const sweep = cov.getRow(2);
  t.deepEqual(
    [sweep.getCell(3).value, sweep.getCell(4).value, sweep.getCell(5).value, sweep.getCell(9).value],
    ['S1', 'sweep', 'SP1', 'ended'],
  );
  t.is(cstInstant(sweep.getCell(7).value), local(6), 'the shift start as a China Standard Time date');
  t.is(sweep.getCell(7).numFmt, 'yyyy-mm-dd hh:mm:ss');
  t.is(sweep.getCell(11).value, 400);
  t.is(sweep.getCell(13).value, 0.4);
  t.is(sweep.getCell(13).numFmt, '0.0%');
  t.is(JSON.parse(String(sweep.getCell(16).value)).type, 'MultiLineString');
  const late = cov.getRow(4);
  t.deepEqual(
    [late.getCell(5).value, late.getCell(9).value, late.getCell(15).value],
    ['CP2', 'late', 1_200_000],
  );
  t.is(cstInstant(late.getCell(14).value), local(24, 40));
  const vehicles = wb.getWorksheet('Vehicles')!;
  t.is(vehicles.rowCount, 3);
  const s1 = vehicles.getRow(2);
  // as the JSON says: the fixes of the day's span (not the one at 02:00 the next day), the planned length
  const json = (await app.inject({ url: `/api/v1/reports/coverage?date=${DAY}`, headers: AUTH })).json();
  const { fixes: fixesRead, plannedM: planned } = json.items[0];
  t.is(fixesRead, day(390, local(8, 10), local(24, 40)).length - 1);
  t.deepEqual((s1.values as unknown[]).slice(1), [DAY, 'F1', 'S1', fixesRead, planned, 400, 0.4, 1, 1, 0, 0]);
  t.deepEqual((vehicles.getRow(3).values as unknown[]).slice(1, 5), [DAY, 'F1', 'S2', 0]);
});

test('GET /reports/duty?format=xlsx: the duty report as a workbook exceljs opens', async (t) => {
  const stores = await reportStores(t, 'duty-xlsx');
  const { registry, store } = stores;
  const { DP1 } = await import('../support/plans-matrix.ts');
  const { version: _v, ...plan } = DP1;
  registry.put('duty_plan', plan);
  // C1 recording 08:00-12:00 every 15 s except 24 min
  const fixes = Array.from({ length: 960 }, (_, i) =>
    uf('C1', local(8) + i * 15_000, 0, -3000, { recording: i >= 96 }),
  );
  await store.writeFixes(fixes);
  const app = await reportApi(t, stores);
  const res = await app.inject({ url: `/api/v1/reports/duty?date=${DAY}&format=xlsx`, headers: AUTH });
  t.is(res.statusCode, 200);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(res.rawPayload as unknown as ExcelJS.Buffer);
  const ws = wb.getWorksheet('Duty')!;
  t.is(ws.rowCount, 2);
  t.deepEqual((ws.getRow(1).values as unknown[]).slice(1), [
    'date',
    'plan',
    'planVersion',
    'firm',
    'camera',
    'officers',
    'shiftStart',
    'shiftEnd',
    'fixes',
    'heardMs',
    'recordingMs',
    'inGridMs',
    'recordingShare',
    'inGridShare',
  ]);
  const row = ws.getRow(2);
  t.deepEqual(
    [1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14].map((c) => row.getCell(c).value),
    [DAY, 'DP1', 1, 'F1', 'C1', 960, 4 * 3_600_000, 4 * 3_600_000 - 24 * 60_000, 4 * 3_600_000, 0.9, 1],
  );
  t.is(row.getCell(6).value, null, 'no officer named');
  t.is(cstInstant(row.getCell(7).value), local(8));
  t.is(cstInstant(row.getCell(8).value), local(12));
});

test('the monthly scorecard: the sanitation team’s and enforcement squad’s sections from the daily reports’ rows', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-scorecard-plans-'));
  // the plans are written on 1 November 00:00, the duty plan on 10 November 00:00 (local)
  let writtenAt = Date.parse('2026-10-31T16:00:00Z');
  const registry = new ComplianceRegistry({ dir, now: () => writtenAt });
  const store = new EmbeddedStore({ dir: join(dir, 'store') });
  const events = new EmbeddedEventStore({ dir: join(dir, 'events') });
  await store.open();
  await events.open();
  t.teardown(async () => {
    await store.close();
    await events.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { DP1 } = await import('../support/plans-matrix.ts');
  for (const [kind, p] of [
    ['collection_point', CP1],
    ['collection_point', CP2],
    ['sweep_plan', SP1],
    ['duty_plan', DP1],
  ] as const) {
    const { version: _v, ...rest } = p;
    if (kind === 'duty_plan') writtenAt = local(0);
    registry.put(kind, rest as never);
  }
  // 10 November: S1 sweeps 400 m of 1,000, CP1 on time, CP2 20 min late; C1 on its 4 h shift, 24 min
  // not recording; no other day has a fix
  await store.writeFixes(day(390, local(8, 10), local(24, 40)));
  await store.writeFixes(
    Array.from({ length: 960 }, (_, i) => uf('C1', local(8) + i * 15_000, 0, -3000, { recording: i >= 96 })),
  );
  const v = (vehicle: string, code: ViolationCode, startTs: number): ViolationEvent => ({
    phase: 'opened',
    violation: {
      id: `${vehicle}:${code}:${startTs}`,
      code,
      vehicle,
      firm: 'F1',
      startTs,
      level: 0,
      startPos: [117.23, 31.82],
      lastPos: [117.23, 31.82],
      refs: [],
      thresholds: {},
      ruleVersion: 1,
      details: {},
    },
  });
  await events.recordViolations([
    v('S1', 'MISSED_COLLECTION', local(8, 0, 0, '2026-11-09')),
    v('S1', 'SWEEP_COVERAGE', local(6)),
    v('C1', 'NOT_RECORDING', local(8, 24)),
  ]);
  const asOf = local(16, 0, 0, '2026-11-11');
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    { compliance: registry, tracks: store, events, reportWorld: () => PLAN_WORLD, reportNow: () => asOf },
  );
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/api/v1/scorecards?month=2026-11', headers: AUTH });
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  const san = body.sanitationTeams.find((s: { firm: string }) => s.firm === 'F1');
  /*
   * 1 to 11 November (the 11th up to 16:00): 11 sweep shifts of 1,000 m (06:00-07:00), 400 m swept on the
   * 10th; CP1's 11 windows (08:00-08:30) all decided, on time on the 10th; CP2's 11 (23:50-00:20), the
   * 11th's still to come (pending, not decided), late on the 10th: 1 on time, 1 late, 10 + 9 missed.
   */
  t.like(san, {
    vehicles: 1,
    violations: 2,
    sweepShifts: 11,
    sweptKm: 0.4,
    collectionWindows: 22,
    onTime: 1,
    late: 1,
    missed: 19,
    onTimeShare: Math.round((1 / 21) * 10_000) / 10_000,
  });
  t.true(Math.abs(san.plannedKm - 11) < 0.01, String(san.plannedKm));
  t.is(san.coverage, Math.round((400 / (san.plannedKm * 1000)) * 10_000) / 10_000);
  t.like(san.violationsByCode, { MISSED_COLLECTION: 1, SWEEP_COVERAGE: 1, NOT_RECORDING: 0 });
  const enf = body.enforcementSquads.find((s: { firm: string }) => s.firm === 'F1');
  // the duty plan counts from the 10th (its first version): 2 shifts of 4 h (08:00-12:00, both over by
  // the 11th at 16:00); heard 4 h, recording 4 h less 24 min
  t.like(enf, {
    cameras: 1,
    violations: 1,
    shifts: 2,
    dutyHours: 8,
    heardShare: 0.5,
    recordingShare: Math.round(((4 * 60 - 24) / (8 * 60)) * 10_000) / 10_000,
    inGridShare: 0.5,
  });
  t.like(enf.violationsByCode, { NOT_RECORDING: 1 });
  // the one-firm card carries both sections
  const one = await app.inject({ url: '/api/v1/scorecards/F1?month=2026-11', headers: AUTH });
  t.is(one.statusCode, 200, one.body);
  const { firm: _f, firmName: _n, ...sanitation } = san;
  t.deepEqual(one.json().sanitation, sanitation);
  t.is(one.json().enforcement.shifts, 2);
});
