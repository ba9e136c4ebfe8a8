/**
 * The world of the FixStore contract (test/store/contract/*.test.ts): ONE set of cases, run against every
 * adapter that can run here:
 *   - embedded (SQLite in a temporary folder)
 *   - influxdb-v1 against a real influxd 1.x started for each test file (testkit/servers/influxd.ts)
 * Every case gets a fresh, empty store (a new folder, or a new InfluxDB database). A test file registers
 * its cases with `eachFixStore`, which runs them against every adapter.
 */
import type { Fix } from '../../../core/fix.ts';
import type { EmbeddedStore } from '../../../store/embedded.ts';
import { createStore } from '../../../store/index.ts';
import { PRESENCE_BITS } from '../../../store/influx/schema.ts';
import type { FixStore } from '../../../store/port.ts';
import { type ContractCases, embeddedAdapter, forEachAdapter, influxdAdapter } from './harness.ts';

// ---------------------------------------------------------------------------------------------------
// Fixtures

export const T0 = Date.UTC(2024, 4, 20, 1, 30, 0); // 09:30 China Standard Time

export type Base = Pick<Fix, 'vehicle' | 'ts'> & Partial<Fix>;

/** Only the required properties. */
export function minimalFix(b: Base): Fix {
  return {
    device: `dev-${b.vehicle}`,
    kind: 'muck_truck',
    firm: 'firm-a',
    received: b.ts + 1_500,
    lat: 31.820_123_4,
    lon: 117.230_987_6,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ...b,
  };
}

export function muckFix(b: Base): Fix {
  return minimalFix({
    speed: 37.5,
    heading: 271,
    alt: -3.25,
    sats: 14,
    accuracy: 0.1 + 0.2, // a float that does not print short
    ign: true,
    load: 'full',
    weight: 31.7,
    cover: 'open',
    lift: 'down',
    doors: 'closed',
    ...b,
  });
}

export function sanitationFix(b: Base): Fix {
  return minimalFix({
    kind: 'sanitation',
    firm: 'sanitation-co',
    speed: 8,
    heading: 0,
    alt: 12,
    sats: 9,
    accuracy: 4.5,
    ign: false,
    weight: 2.125,
    task: 'sweeping',
    brush: true,
    binLifts: 17,
    crsIn: 'GCJ02',
    late: true,
    ...b,
  });
}

export function cameraFix(b: Base): Fix {
  return minimalFix({
    kind: 'body_camera',
    firm: 'chengguan-bureau',
    valid: false,
    speed: 4.2,
    accuracy: 12,
    recording: true,
    battery: 63.5,
    storageFree: 12_345.678,
    officer: 'officer-007',
    sos: false,
    docked: false,
    ...b,
  });
}

/** Every optional property at once (no real unit reports all of them, the store must not care). */
export function everythingFix(b: Base): Fix {
  return {
    ...muckFix({ ...sanitationFix(b), ...cameraFix(b), ...b }),
    // a vehicle terminal's own readings (JT/T 808 location report)
    alarms: 'emergency,area,route_deviation',
    mileage: 1234.5,
    fuel: 50.5,
    tachoSpeed: 60.2,
    vehicleSignals: 0x11,
    ioStatus: 1,
    analog0: 50,
    analog1: 100,
    rssi: 23,
    ...b,
  } as Fix;
}

/** The optional properties of a Fix: the production list the influx adapter keeps (store/influx/schema.ts). */
export const OPTIONAL_KEYS = PRESENCE_BITS;

export const byVehicle = (a: Fix, b: Fix): number =>
  a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0;
export const sorted = (fixes: readonly Fix[]): Fix[] => [...fixes].sort(byVehicle);

// ---------------------------------------------------------------------------------------------------
// Adapters

const FIX_STORE_ADAPTERS = [
  [
    'embedded',
    () =>
      embeddedAdapter(
        'citywatch-store-embedded-',
        (dir) => createStore({ kind: 'embedded', dir }),
        (store) => (store as EmbeddedStore).file.replace(/\/fixes\.db$/, ''),
      ),
  ],
  [
    'influxdb-v1',
    () =>
      influxdAdapter('contract_', (url, database) =>
        createStore({ kind: 'influxdb', version: 1, url, database, timeoutMs: 5_000 }),
      ),
  ],
] as const;

/** Registers `cases` against every FixStore adapter (embedded, then influxdb-v1). */
export function eachFixStore(cases: (c: ContractCases<FixStore>) => void): void {
  forEachAdapter<FixStore>(FIX_STORE_ADAPTERS, cases);
}
