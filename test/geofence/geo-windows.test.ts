/**
 * Time windows in China Standard Time (geofence/geo/windows.ts) (their world: test/support/geofence/geo.ts).
 */
import test from 'ava';
import {
  dateOfDayNumber,
  dayNumberOf,
  inDateRange,
  inWindows,
  inWindowsOnDates,
  localDate,
  parseDateRange,
  parseWindow,
  parseWindows,
  windowStartDay,
} from '../../geofence/geo/windows.ts';
import { at, prng } from '../support/geofence/geo.ts';

test('windows: parsing', (t) => {
  t.deepEqual(parseWindow('22:00-06:00'), { startMin: 1320, endMin: 360 });
  t.deepEqual(parseWindow('07:30-09:00'), { startMin: 450, endMin: 540 });
  t.deepEqual(parseWindow('00:00-24:00'), { startMin: 0, endMin: 1440 });
  t.deepEqual(parseWindow('22:00-00:00'), { startMin: 1320, endMin: 1440 });
  t.deepEqual(parseWindow(' 7:05 - 8:00 '), { startMin: 425, endMin: 480 });
  for (const bad of ['', '7-8', '24:00-06:00', '06:60-07:00', '06:00-24:30', '06:00-06:00', '00:00-00:00']) {
    t.throws(() => parseWindow(bad), undefined, bad);
  }
});

test('windows: boundaries, crossing midnight, whole day, empty list', (t) => {
  const night = parseWindows(['22:00-06:00']);
  const rush = parseWindows(['07:30-09:00']);
  const day = '2026-11-10';
  t.true(inWindows(night, at(day, '22:00'))); // exactly at start: inside
  t.true(inWindows(night, at(day, '23:59', 59)));
  t.true(inWindows(night, at(day, '00:00')));
  t.true(inWindows(night, at(day, '05:59', 59)));
  t.false(inWindows(night, at(day, '06:00'))); // exactly at end: outside
  t.false(inWindows(night, at(day, '21:59', 59)));
  t.false(inWindows(night, at(day, '12:00')));
  t.true(inWindows(rush, at(day, '07:30')));
  t.false(inWindows(rush, at(day, '09:00')));
  t.false(inWindows(rush, at(day, '07:29', 59)));
  const all = parseWindows(['00:00-24:00']);
  for (const hm of ['00:00', '12:00', '23:59']) t.true(inWindows(all, at(day, hm)));
  t.true(inWindows(all, at(day, '23:59', 59) + 999));
  for (const hm of ['00:00', '12:00', '23:59']) t.false(inWindows([], at(day, hm)));
  t.true(inWindows([...night, ...rush], at(day, '08:00')));
  // UTC+8 arithmetic: 22:00 local is 14:00 UTC
  t.true(inWindows(night, Date.UTC(2026, 10, 10, 14, 0)));
  t.false(inWindows(night, Date.UTC(2026, 10, 10, 13, 59)));
});

test('windows: a window belongs to the local date it starts on (validity dates)', (t) => {
  const night = parseWindows(['22:00-06:00']);
  const nov = parseDateRange('2026-11-01', '2026-11-30');
  // the night of 31 October runs into 1 November: not covered, the window started before the validity
  t.false(inWindowsOnDates(night, nov, at('2026-11-01', '03:00')));
  t.true(inDateRange(nov, at('2026-11-01', '03:00'))); // though the instant's own date is in range
  t.true(inWindowsOnDates(night, nov, at('2026-11-01', '22:00')));
  // the night of 30 November runs into 1 December: covered until 06:00
  t.true(inWindowsOnDates(night, nov, at('2026-12-01', '03:00')));
  t.false(inWindowsOnDates(night, nov, at('2026-12-01', '06:00')));
  t.false(inDateRange(nov, at('2026-12-01', '03:00')));
  t.true(inDateRange(nov, at('2026-11-30', '23:59', 59)));
  t.false(inDateRange(nov, at('2026-10-31', '23:59', 59)));
  t.is(windowStartDay(night, at('2026-12-01', '03:00')), dayNumberOf('2026-11-30'));
  t.is(windowStartDay(night, at('2026-11-30', '23:00')), dayNumberOf('2026-11-30'));
  t.is(windowStartDay(night, at('2026-11-30', '12:00')), undefined);
  const rush = parseWindows(['07:30-09:00']);
  t.true(inWindowsOnDates(rush, nov, at('2026-11-30', '08:00')));
  t.false(inWindowsOnDates(rush, nov, at('2026-12-01', '08:00')));
  t.false(inWindowsOnDates([], nov, at('2026-11-15', '08:00')));
  t.throws(() => parseDateRange('2026-11-30', '2026-11-01'));
  t.throws(() => parseDateRange('2026-02-29', '2026-03-01'));
});

test('windows: localDate matches Date in UTC+8 across years, leap days and negative days', (t) => {
  t.is(localDate(Date.UTC(2026, 10, 30, 15, 59, 59)), '2026-11-30');
  t.is(localDate(Date.UTC(2026, 10, 30, 16, 0, 0)), '2026-12-01'); // local midnight
  t.is(localDate(Date.UTC(2024, 1, 28, 16, 0, 0)), '2024-02-29');
  const rnd = prng(31);
  for (let i = 0; i < 5000; i++) {
    const ms = Math.floor((rnd() * 2 - 0.5) * 4e12);
    t.is(localDate(ms), new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10));
  }
  for (let n = -700_000; n < 2_900_000; n += 997) t.is(dayNumberOf(dateOfDayNumber(n)), n);
});
