/**
 * The two stored formats that number a Fix's properties by their place in core/fix.ts FIX_KEYS: the
 * InfluxDB `present` bitmask (store/influx/schema.ts PRESENCE_BITS) and the backfill history's JSON
 * arrays (compliance/history-fix-codec.ts). Both derive from that one list; these literals are the
 * formats as data already stored holds them, so a property inserted into or moved within FIX_KEYS fails
 * here instead of reading stored data back wrong.
 */
import test from 'ava';
import { decodeHistoryFix, encodeHistoryFix } from '../../compliance/history-fix-codec.ts';
import { FIX_KEYS, type Fix, OPTIONAL_FIX_KEYS, REQUIRED_FIX_KEYS } from '../../core/fix.ts';
import { PRESENCE_BITS, presenceMask } from '../../store/influx/schema.ts';

/** bit positions of `present` in points already written (appended to, never reordered) */
const STORED_PRESENCE_BITS = [
  'speed',
  'heading',
  'alt',
  'sats',
  'accuracy',
  'ign',
  'load',
  'weight',
  'cover',
  'lift',
  'doors',
  'task',
  'brush',
  'binLifts',
  'recording',
  'battery',
  'storageFree',
  'officer',
  'sos',
  'docked',
  'alarms',
  'mileage',
  'fuel',
  'tachoSpeed',
  'vehicleSignals',
  'ioStatus',
  'analog0',
  'analog1',
  'rssi',
];

const everything: Fix = {
  vehicle: 'v-1',
  device: 'd-1',
  kind: 'muck_truck',
  firm: 'f-1',
  ts: 1_700_000_000_000,
  received: 1_700_000_000_250,
  lat: 31.8,
  lon: 117.2,
  speed: 42.5,
  heading: 90,
  alt: 30,
  sats: 9,
  accuracy: 3.5,
  valid: true,
  crsIn: 'GCJ02',
  late: false,
  ign: true,
  load: 'full',
  weight: 12.5,
  cover: 'closed',
  lift: 'down',
  doors: 'closed',
  task: 'sweeping',
  brush: true,
  binLifts: 4,
  recording: true,
  battery: 80,
  storageFree: 1024,
  officer: 'o-1',
  sos: false,
  docked: false,
  alarms: 'overspeed',
  mileage: 1234.5,
  fuel: 50.5,
  tachoSpeed: 60.2,
  vehicleSignals: 17,
  ioStatus: 1,
  analog0: 50,
  analog1: 100,
  rssi: 23,
};

/** the history row of `everything` as the codec wrote it before it derived its order from FIX_KEYS */
const STORED_HISTORY_ROW =
  '["d-1","muck_truck","f-1",1700000000250,31.8,117.2,42.5,90,30,9,3.5,true,"GCJ02",false,true,"full",12.5,"closed","down","closed","sweeping",true,4,true,80,1024,"o-1",false,false,{"alarms":"overspeed","mileage":1234.5,"fuel":50.5,"tachoSpeed":60.2,"vehicleSignals":17,"ioStatus":1,"analog0":50,"analog1":100,"rssi":23}]';

test('the present bitmask keeps the bit of every optional property where stored points have it', (t) => {
  t.deepEqual([...PRESENCE_BITS], STORED_PRESENCE_BITS);
  t.is(presenceMask({ ...everything }), 2 ** STORED_PRESENCE_BITS.length - 1);
  const { speed: _speed, rssi: _rssi, ...without } = everything;
  t.is(presenceMask(without), 2 ** STORED_PRESENCE_BITS.length - 1 - 1 - 2 ** 28);
});

test('a stored backfill history row reads back as the fix, and the fix encodes to that row', (t) => {
  t.deepEqual(decodeHistoryFix('v-1', 1_700_000_000_000, STORED_HISTORY_ROW), everything);
  t.is(encodeHistoryFix(everything), STORED_HISTORY_ROW);
});

test('FIX_KEYS names each property once; required and optional split it', (t) => {
  t.is(new Set(FIX_KEYS).size, FIX_KEYS.length);
  t.deepEqual(Object.keys(everything), [...FIX_KEYS]);
  t.deepEqual(
    FIX_KEYS.filter((k) => REQUIRED_FIX_KEYS.has(k)),
    ['vehicle', 'device', 'kind', 'firm', 'ts', 'received', 'lat', 'lon', 'valid', 'crsIn', 'late'],
  );
  t.is(OPTIONAL_FIX_KEYS.length + REQUIRED_FIX_KEYS.size, FIX_KEYS.length);
});
