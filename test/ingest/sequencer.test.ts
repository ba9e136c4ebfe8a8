import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { Sequencer } from '../../ingest/sequencer.ts';

const fix = (device: string, ts: number): Fix => ({
  vehicle: `v-${device}`,
  device,
  kind: 'muck_truck',
  firm: 'f',
  ts,
  received: ts,
  lat: 31,
  lon: 117,
  valid: true,
  crsIn: 'WGS84',
  late: false,
});

test('duplicates of a device+ts are dropped, late fixes are kept and marked', (t) => {
  const s = new Sequencer();
  t.is(s.admit(fix('a', 1000)), 'in_order');
  t.is(s.admit(fix('a', 2000)), 'in_order');
  t.is(s.admit(fix('a', 2000)), 'duplicate');
  const late = fix('a', 1500);
  t.is(s.admit(late), 'late');
  t.true(late.late);
  t.is(s.admit(fix('a', 1500)), 'duplicate', 'a redelivered late fix is still a duplicate');
  t.is(s.admit(fix('a', 1000)), 'duplicate');
  t.is(s.admit(fix('b', 1000)), 'in_order', 'devices are independent');
});

test('the duplicate window covers the last 32 timestamps; older repeats are late (the store keeps them single)', (t) => {
  const s = new Sequencer();
  for (let i = 1; i <= 40; i++) s.admit(fix('a', i * 1000));
  t.is(s.admit(fix('a', 40_000)), 'duplicate');
  t.is(s.admit(fix('a', 10_000)), 'duplicate');
  t.is(s.admit(fix('a', 5000)), 'late');
});

test('priming from the store marks an older fix after a restart as late', (t) => {
  const s = new Sequencer();
  s.prime('a', 10_000);
  t.is(s.admit(fix('a', 10_000)), 'duplicate');
  t.is(s.admit(fix('a', 9000)), 'late');
  t.is(s.admit(fix('a', 11_000)), 'in_order');
});

test('sequencer: a fix whose append failed is forgotten, so its resend is not taken for a duplicate', (t) => {
  const s = new Sequencer();
  s.prime('a', 1000);
  t.is(s.admit(fix('a', 2000)), 'in_order');
  s.forget(fix('a', 2000));
  t.is(s.admit(fix('a', 2000)), 'in_order', 'admitted again, in order: the newest went back to 1000');
  t.is(s.admit(fix('a', 2000)), 'duplicate', 'once admitted it is a duplicate as before');
  t.is(s.admit(fix('b', 5)), 'in_order');
  s.forget(fix('b', 5));
  t.is(s.admit(fix('b', 5)), 'in_order', "a device's only fix forgotten: the device starts afresh");
});
