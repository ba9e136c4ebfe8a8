import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { dutyShiftRow, shiftsStartingOn } from '../../geofence/duty-report.ts';
import { AUTH } from '../support/api-fixtures.ts';
import { DP1, PLAN_WORLD, uf } from '../support/plans-matrix.ts';
import { reportApi, reportStores, twoPagesOfOne } from '../support/report-api.ts';
import { DAY, local } from '../support/rules/track-kit.ts';

/*
 * The duty report (issue 15, item 4, officers): per camera per shift, time heard, recording and in the
 * grid. DP1: grid a 1000 m square centred on (0,-3000), shift 08:00-12:00, camera C1.
 */

const SHIFT = { start: local(8), end: local(12) };
const H = 3_600_000;
const GAP = 10 * 60_000;

/** C1 every 15 s from t0 for `minutes`, at (x(i), -3000) */
function fixes(t0: number, minutes: number, each: (i: number) => Partial<Fix> & { x?: number } = () => ({})) {
  return Array.from({ length: minutes * 4 }, (_, i) => {
    const { x = 0, ...extra } = each(i);
    return uf('C1', t0 + i * 15_000, x, -3000, { recording: true, ...extra });
  });
}

test('a whole shift recorded in the grid: 4 h heard, recording and in the grid', (t) => {
  const row = dutyShiftRow(PLAN_WORLD, DP1, SHIFT, 'C1', fixes(local(8), 240), GAP);
  t.like(row, { plan: 'DP1', planVersion: 1, camera: 'C1', fixes: 960, heardMs: 4 * H, recordingMs: 4 * H });
  t.is(row.inGridMs, 4 * H);
});

test('30 min not recording, 20 min outside the grid (15 m noise inside the edge allowance counts in), a 40 min silence', (t) => {
  const track = [
    // 08:00-09:00: 30 min not recording from 08:10
    ...fixes(local(8), 60, (i) => ({ recording: !(i >= 40 && i < 160) })),
    // 09:00-10:00: 20 min 700 m east (outside the 500 m half-width), 10 min 510 m (within 15 m of the edge)
    ...fixes(local(9), 60, (i) => ({ x: i < 80 ? 700 : i < 120 ? 510 : 0 })),
    // 10:00-10:05, then silent until 10:45, then to the end
    ...fixes(local(10), 5),
    ...fixes(local(10, 45), 75),
  ];
  // shuffled, with fixes before and after the shift and an invalid one: none changes the figures
  const extra = [
    uf('C1', local(7, 50), 0, -3000, { recording: false }),
    { ...uf('C1', local(10, 20), 5000, -3000, { recording: false }), valid: false },
    uf('C1', local(12, 30), 0, -3000),
  ];
  const all = [...track, ...extra].sort((a, b) => ((a.ts * 7919) % 13) - ((b.ts * 7919) % 13));
  const row = dutyShiftRow(PLAN_WORLD, DP1, SHIFT, 'C1', all, GAP);
  // the last fix before the silence (10:04:45) holds 10 min, then nothing is heard until 10:45
  const unheard = local(10, 45) - (local(10, 4, 45) + GAP);
  t.is(unheard, 30 * 60_000 + 15_000);
  t.is(row.heardMs, 4 * H - unheard);
  t.is(row.recordingMs, row.heardMs - 30 * 60_000);
  t.is(row.inGridMs, row.heardMs - 20 * 60_000);
  t.is(row.fixes, track.length);
});

test('shifts starting on a date, one crossing midnight; the officer named by the fixes', (t) => {
  t.deepEqual(shiftsStartingOn(['22:00-02:00', '08:00-12:00'], DAY), [
    { start: local(8), end: local(12) },
    { start: local(22), end: local(26) },
  ]);
  const night = { start: local(22), end: local(26) };
  const row = dutyShiftRow(
    PLAN_WORLD,
    DP1,
    night,
    'C1',
    fixes(local(22), 240, () => ({ officer: 'off-2' })),
    GAP,
  );
  t.is(row.heardMs, 4 * H);
  t.deepEqual(row.officers, ['off-2']);
});

test('GET /reports/duty from the stored track: JSON and CSV; a bad date is named', async (t) => {
  const stores = await reportStores(t, 'duty-report');
  const { registry, store } = stores;
  const { version: _v, id, ...plan } = DP1;
  registry.put('duty_plan', { id, ...plan, cameras: ['C2', 'C1'] }); // C2 never heard
  await store.writeFixes(fixes(local(8), 240, (i) => ({ recording: i >= 96 }))); // 24 min not recording
  const app = await reportApi(t, stores);
  const json = await app.inject({ url: `/api/v1/reports/duty?date=${DAY}`, headers: AUTH });
  t.is(json.statusCode, 200, json.body);
  t.is(json.json().count, 2);
  t.like(json.json().items[1], { camera: 'C2', fixes: 0, heardMs: 0, recordingShare: 0 });
  t.like(json.json().items[0], {
    plan: 'DP1',
    camera: 'C1',
    heardMs: 4 * H,
    recordingMs: 4 * H - 24 * 60_000,
    inGridShare: 1,
    recordingShare: 0.9,
  });
  const csv = await app.inject({ url: `/api/v1/reports/duty?date=${DAY}&format=csv`, headers: AUTH });
  t.is(csv.statusCode, 200, csv.body);
  t.regex(String(csv.headers['content-type']), /^text\/csv/);
  const lines = csv.body.trimEnd().split('\r\n');
  t.is(
    lines[0],
    'date,plan,planVersion,firm,camera,officers,shiftStart,shiftEnd,fixes,heardMs,recordingMs,inGridMs,recordingShare,inGridShare',
  );
  t.is(
    lines[1],
    `${DAY},DP1,1,F1,C1,,${local(8)},${local(12)},960,${4 * H},${4 * H - 24 * 60_000},${4 * H},0.9,1`,
  );
  t.is(lines.length, 3);
  // pages of one row: C1, then C2
  const pages = await twoPagesOfOne(app, `/api/v1/reports/duty?date=${DAY}`, 'camera');
  t.deepEqual(pages.first, ['C1']);
  t.deepEqual(pages.second, ['C2']);
  t.is(pages.after, undefined);
  const bad = await app.inject({ url: '/api/v1/reports/duty?date=2026-13-01', headers: AUTH });
  t.is(bad.statusCode, 400);
  t.regex(bad.body, /date/);
});
