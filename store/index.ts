/**
 * Store factory: `createStore({ kind: 'embedded', dir })` or
 * `createStore({ kind: 'influxdb', version: 1 | 2, url, ... })`. The returned store is not opened yet:
 * call `open()` first.
 */
import { EmbeddedStore, type EmbeddedStoreOptions } from './embedded.ts';
import {
  type InfluxOptions,
  InfluxStore,
  type InfluxV1Options,
  type InfluxV2Options,
} from './influx/adapter.ts';
import type { FixStore } from './port.ts';

export type StoreOptions =
  | ({ kind: 'embedded' } & EmbeddedStoreOptions)
  | ({ kind: 'influxdb' } & InfluxV1Options)
  | ({ kind: 'influxdb' } & InfluxV2Options);

export function createStore(opts: StoreOptions): FixStore {
  switch (opts.kind) {
    case 'embedded':
      return new EmbeddedStore({ dir: opts.dir });
    case 'influxdb': {
      const { kind: _kind, ...influx } = opts;
      return new InfluxStore(influx as InfluxOptions);
    }
    default: {
      const never: never = opts;
      throw new Error(`unknown store kind: ${JSON.stringify((never as { kind?: unknown }).kind)}`);
    }
  }
}

export { EmbeddedStore, type EmbeddedStoreOptions } from './embedded.ts';
export {
  type InfluxOptions,
  InfluxStore,
  type InfluxV1Options,
  type InfluxV2Options,
} from './influx/adapter.ts';
export { InfluxError } from './influx/http.ts';
export { LineProtocolError } from './influx/lineprotocol.ts';
export type { FixStore, LatestFilter, StoreHealth, TrackQuery } from './port.ts';
