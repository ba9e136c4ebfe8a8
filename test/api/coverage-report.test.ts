import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import ExcelJS from 'exceljs';
import { CST_OFFSET_MS } from '../../geofence/geo/windows.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { day, LATER } from '../support/geofence/coverage-day.ts';
import { CP1, CP2, PLAN_WORLD, SP1, uf } from '../support/plans-matrix.ts';
import { reportApi, reportStores, twoPagesOfOne } from '../support/report-api.ts';
import { DAY, local } from '../support/rules/track-kit.ts';

/*
 * The sanitation coverage report through the API (issue 15, item 4): GET /reports/coverage as JSON pages,
 * CSV and xlsx, the duty report as xlsx, and the monthly scorecard's sanitation and enforcement sections
 * built from the daily reports' rows, over real stores, on the day of test/support/geofence/coverage-day.ts.
 * The report's figures against the rules: test/geofence/coverage-report.test.ts.
 */

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
