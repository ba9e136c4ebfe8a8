import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { codes, runPlans, runWithRestarts, stay, uf, walk } from '../../support/plans-matrix.ts';
import {
  type Item,
  lifecycleProblems,
  local,
  redelivered,
  swapped,
  withNoise,
} from '../../support/tracks-matrix.ts';

/*
 * Rule matrix, body cameras (issue 15): SOS, NOT_RECORDING, OUT_OF_GRID, LOW_BATTERY, LOW_STORAGE,
 * NOT_UPLOADED and OFFLINE during duty, through the real engine (ALL_RULES) and the compiled world of
 * test/support/plans-matrix.ts: camera C1 on duty plan DP1 (grid: 1000 m square centred on (0,-3000),
 * shift 08:00-12:00; officer off-2 is on it too), upload station US1 at the grid's centre.
 */

const CAM = ['SOS', 'NOT_RECORDING', 'OUT_OF_GRID', 'LOW_BATTERY', 'LOW_STORAGE', 'NOT_UPLOADED', 'OFFLINE'];
const OK: Partial<Fix> = { recording: true, battery: 80, storageFree: 20_000, sos: false, docked: false };
const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

/** C1 on foot patrol inside the grid: back and forth along y = -3000 from x = -300 to 300, a fix per 15 s */
function patrol(
  t0: number,
  minutes: number,
  each: (i: number) => Partial<Fix> = () => ({}),
  unit = 'C1',
): Fix[] {
  const out: Fix[] = [];
  for (let i = 0; i < minutes * 4; i++) {
    const d = (i * 20) % 1200;
    const x = -300 + (d <= 600 ? d : 1200 - d);
    out.push(uf(unit, t0 + i * 15_000, x, -3000, { speed: 4.8, ...OK, ...each(i) }));
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------ SOS

test('SOS: immediate at the first fix with the button pressed, top priority, on duty or not; ends when released', (t) => {
  const T = local(9);
  const fixes = patrol(T, 5, (i) => ({ sos: i >= 4 && i < 10 }));
  const r = runPlans(fixes);
  t.deepEqual(codes(r.log, ...CAM), [`SOS:opened:${T + 60_000}-`, `SOS:closed:${T + 60_000}-${T + 150_000}`]);
  const v = r.events[0]!.violation;
  t.is(v.level, 2);
  t.is(v.details.priority, 'critical');
  t.is(v.details.onDuty, true);
  t.true(v.refs.some((x) => x.kind === 'duty_plan' && x.id === 'DP1'));
  const off = runPlans(patrol(local(20), 2, (i) => ({ sos: i === 3 })));
  t.is(codes(off.log, 'SOS').length, 2);
  t.is(off.events[0]!.violation.details.onDuty, false);
});

// ------------------------------------------------------------------------------------------- NOT_RECORDING

test('NOT_RECORDING: on duty and not recording for more than 5 min; ends at the first recording fix', (t) => {
  const T = local(9);
  const r = runPlans(patrol(T, 12, (i) => ({ recording: !(i >= 8 && i < 40) })));
  const from = T + 8 * 15_000;
  t.deepEqual(codes(r.log, ...CAM), [
    `NOT_RECORDING:opened:${from}-`,
    `NOT_RECORDING:closed:${from}-${T + 40 * 15_000}`,
  ]);
  t.is(r.log[0]!.at, from + 5 * 60_000);
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('NOT_RECORDING negatives: 4 min without recording, off duty all evening, no recording field', (t) => {
  t.deepEqual(
    codes(runPlans(patrol(local(9), 12, (i) => ({ recording: !(i >= 8 && i < 24) }))).log, ...CAM),
    [],
  );
  t.deepEqual(codes(runPlans(patrol(local(18), 30, () => ({ recording: false }))).log, ...CAM), []);
  const blank = patrol(local(9), 12).map(({ recording: _r, ...f }) => f as Fix);
  t.deepEqual(codes(runPlans(blank).log, ...CAM), []);
});

test('NOT_RECORDING ends at once when the shift ends (12:00)', (t) => {
  const r = runPlans(patrol(local(11, 50), 20, () => ({ recording: false })));
  t.deepEqual(codes(r.log, 'NOT_RECORDING'), [
    `NOT_RECORDING:opened:${local(11, 50)}-`,
    `NOT_RECORDING:closed:${local(11, 50)}-${local(12)}`,
  ]);
});

// --------------------------------------------------------------------------------------------- OUT_OF_GRID

test('OUT_OF_GRID: 300 m outside the grid on duty for 4 min; ends 30 s after coming back', (t) => {
  const T = local(9);
  const fixes = [...walk('C1', T, [0, -3000], [0, -2300], 5, 15_000, OK)];
  const outAt = fixes.find((f) => f.lat > 0 && f.ts > 0 && (f.lat - fixes[0]!.lat) * 111_000 > 500 + 15)!.ts;
  const end = fixes[fixes.length - 1]!.ts;
  fixes.push(...stay('C1', end + 15_000, [0, -2300], 16, 15_000, OK));
  const t2 = end + 17 * 15_000;
  const back = walk('C1', t2, [0, -2300], [0, -3000], 5, 15_000, OK);
  fixes.push(...back);
  const r = runPlans(fixes);
  const log = r.log.filter((l) => l.event.violation.code === 'OUT_OF_GRID');
  t.is(log.length, 2);
  t.true(
    Math.abs(log[0]!.event.violation.startTs - outAt) <= 15_000,
    'starts at the first fix clearly outside',
  );
  const inside = back.find((f) => (f.lat - fixes[0]!.lat) * 111_000 <= 500)!.ts;
  t.true(Math.abs(log[1]!.event.violation.endTs! - inside) <= 15_000, 'ends at the first fix back');
  t.true(log[1]!.at >= log[1]!.event.violation.endTs! + 30_000);
  t.true((log[1]!.event.violation.details.maxOutsideM as number) > 150);
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('OUT_OF_GRID negatives: patrolling 10 m inside the edge with 15 m noise; outside but off duty', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const edge = withNoise(walk('C1', local(9), [-490, -3490], [-490, -2510], 4, 15_000, OK), seed);
    t.deepEqual(codes(runPlans(edge).log, ...CAM), [], `seed ${seed}`);
  }
  const evening = walk('C1', local(19), [0, -2300], [0, -1000], 5, 15_000, OK);
  t.deepEqual(codes(runPlans(evening).log, ...CAM), []);
});

test('the duty of the officer wearing the camera counts: C2 worn by off-2 is judged on DP1', (t) => {
  const fixes = walk('C2', local(9), [0, -2000], [0, -1000], 5, 15_000, { ...OK, officer: 'off-2' });
  t.deepEqual(codes(runPlans(fixes).log, 'OUT_OF_GRID').length, 1);
  const other = walk('C2', local(9), [0, -2000], [0, -1000], 5, 15_000, { ...OK, officer: 'off-9' });
  t.deepEqual(codes(runPlans(other).log, 'OUT_OF_GRID'), []);
});

// ------------------------------------------------------------------------------------- LOW_BATTERY / STORAGE

test('LOW_BATTERY: under 20 % on duty for a minute over two fixes; a single low reading is a glitch', (t) => {
  const T = local(9);
  const r = runPlans(patrol(T, 10, (i) => ({ battery: i >= 10 && i < 30 ? 15 - (i % 3) : 60 })));
  t.deepEqual(codes(r.log, ...CAM), [
    `LOW_BATTERY:opened:${T + 10 * 15_000}-`,
    `LOW_BATTERY:closed:${T + 10 * 15_000}-${T + 30 * 15_000}`,
  ]);
  t.is(r.events[1]!.violation.details.min_battery, 13);
  const glitch = runPlans(patrol(T, 10, (i) => ({ battery: i === 10 ? 5 : 60 })));
  t.deepEqual(codes(glitch.log, ...CAM), []);
});

test('LOW_STORAGE: under 1 GB free on duty; ends when docked', (t) => {
  const T = local(9);
  const fixes = patrol(T, 6, (i) => ({ storageFree: i >= 4 ? 500 : 4000 }));
  fixes.push(uf('C1', T + 6 * 60_000, 0, -3000, { ...OK, storageFree: 500, docked: true }));
  const r = runPlans(fixes);
  t.deepEqual(codes(r.log, ...CAM), [
    `LOW_STORAGE:opened:${T + 60_000}-`,
    `LOW_STORAGE:closed:${T + 60_000}-${T + 6 * 60_000}`,
  ]);
});

// ------------------------------------------------------------------------------------------------ NOT_UPLOADED

test('NOT_UPLOADED: footage not docked within 24 h of the first recording (the tick decides it); docking ends it', (t) => {
  const T = local(9);
  const day = patrol(T, 10);
  const dockAt = T + 26 * 3_600_000;
  const items: Item[] = [
    ...day,
    ...ticks(T + 24 * 3_600_000, T + 24 * 3_600_000 + 5_000),
    uf('C1', dockAt, 10, -3010, { ...OK, recording: false, docked: true }),
  ];
  const r = runPlans(items);
  const due = T + 24 * 3_600_000;
  t.deepEqual(codes(r.log, 'NOT_UPLOADED'), [
    `NOT_UPLOADED:opened:${due}-`,
    `NOT_UPLOADED:closed:${due}-${dockAt}`,
  ]);
  const closed = r.events.find((e) => e.phase === 'closed' && e.violation.code === 'NOT_UPLOADED')!.violation;
  t.is(closed.details.station, 'US1');
  t.true(closed.refs.some((x) => x.kind === 'upload_station' && x.id === 'US1'));
  // docked the same evening: nothing
  const docked: Item[] = [
    ...day,
    uf('C1', T + 8 * 3_600_000, 0, -3000, { ...OK, docked: true }),
    ...ticks(T + 30 * 3_600_000),
  ];
  t.deepEqual(codes(runPlans(docked).log, 'NOT_UPLOADED'), []);
});

// ---------------------------------------------------------------------------------------- OFFLINE during duty

test('OFFLINE during duty: silent past max(3 x 15 s, 10 min) in the shift; the next fix closes it; silence off duty is not', (t) => {
  const T = local(9);
  const day = patrol(T, 5);
  const last = day[day.length - 1]!.ts;
  const r = runPlans([
    ...day,
    ...ticks(last + 600_000, last + 600_001),
    uf('C1', last + 900_000, 0, -3000, OK),
  ]);
  t.deepEqual(codes(r.log, 'OFFLINE'), [
    `OFFLINE:opened:${last + 600_000}-`,
    `OFFLINE:closed:${last + 600_000}-${last + 900_000}`,
  ]);
  t.is(r.events[0]!.violation.details.reason, 'on_duty');
  const evening = patrol(local(18), 5);
  const e = evening[evening.length - 1]!.ts;
  t.deepEqual(codes(runPlans([...evening, ...ticks(e + 3_600_000)]).log, 'OFFLINE'), []);
  // switched off overnight, the shift starts at 08:00: the allowance counts from the start of the shift
  const night = runPlans([uf('C1', local(-2), 0, -3000, OK), ...ticks(local(8, 5), local(8, 10, 1))]);
  t.deepEqual(codes(night.log, 'OFFLINE'), [`OFFLINE:opened:${local(8, 10)}-`]);
});

// --------------------------------------------------------------------------------------------- robustness

test('cameras: duplicates, late copies, swapped pairs and restarts give the same violations', (t) => {
  const T = local(9);
  const items: Item[] = [
    ...patrol(T, 30, (i) => ({
      recording: !(i >= 8 && i < 40),
      battery: i >= 50 && i < 70 ? 12 : 70,
      sos: i >= 90 && i < 95,
    })),
    ...walk('C1', T + 30 * 60_000, [0, -3000], [0, -2000], 5, 15_000, OK),
    ...ticks(T + 25 * 3_600_000),
  ];
  const want = codes(runPlans(items).log, ...CAM);
  // NOT_RECORDING, LOW_BATTERY, SOS, OUT_OF_GRID; then silent: NOT_UPLOADED, and OFFLINE in the next shift
  t.is(want.filter((x) => x.includes(':opened:')).length, 6, want.join('\n'));
  t.deepEqual(codes(runPlans(redelivered(items, 9)).log, ...CAM), want);
  const { delivery, judged } = swapped(items, 11);
  t.deepEqual(codes(runPlans(delivery).log, ...CAM), codes(runPlans(judged).log, ...CAM));
  t.deepEqual(codes(runWithRestarts(items, 13), ...CAM), want);
});
