/**
 * The adapters of the EventStore contract (store/events-port.ts), against which every case of
 * test/store/events-contract/*.test.ts runs:
 *   - embedded (SQLite in a temporary folder)
 *   - influxdb-v1 against a real influxd 1.x started for each test file (testkit/servers/influxd.ts)
 *   - influxdb-v2: the same adapter with v2 settings (`/api/v2/write`, `Authorization: Token`, db =
 *     bucket) against a real influxd 1.6 behind a small proxy that checks the token and maps
 *     `/api/v2/write?bucket=` onto `/write?db=` (influxd 1.6 has no v2 endpoint; the proxy changes nothing
 *     else, so the bytes written and the InfluxQL read are the real ones)
 * Every case gets a fresh, empty store. Cases that restart the backend are serial (ava runs serial cases
 * before the concurrent ones, so they never overlap with other cases of the same server).
 */
import type { Server } from 'node:http';
import { EmbeddedEventStore } from '../../../store/events-embedded.ts';
import type { EventStore } from '../../../store/events-port.ts';
import { InfluxEventStore } from '../../../store/influx/events.ts';
import { type InfluxdServer, startInfluxd } from '../../../testkit/servers/influxd.ts';
import { startV2Front } from '../influx-v2-front.ts';
import {
  type ContractCases,
  embeddedAdapter,
  forEachAdapter,
  influxdAdapter,
  perDatabaseHarness,
  type StoreAdapter,
} from './harness.ts';

function influxV2Adapter(): StoreAdapter<EventStore> {
  let server: InfluxdServer | undefined;
  let front: Server | undefined;
  return {
    async setup() {
      const srv = await startInfluxd();
      server = srv;
      const token = 'token-for-tests';
      const f = await startV2Front(() => srv.url, token);
      front = f.server;
      const make = async (bucket: string): Promise<EventStore> => {
        const store = new InfluxEventStore({
          version: 2,
          url: f.url,
          token,
          org: 'city',
          bucket,
          timeoutMs: 10_000,
        });
        await store.open();
        return store;
      };
      // the bucket is provisioned outside the adapter (as with a real 2.x)
      const provision = async (bucket: string): Promise<void> => {
        const res = await fetch(`${srv.url}/query`, {
          method: 'POST',
          body: new URLSearchParams({ q: `CREATE DATABASE "${bucket}"` }),
        });
        // influxd flushes its 200 before it runs the statement: only the body says it ran (without
        // waiting for it, the case's first query could find no database: "database not found")
        const body = await res.text();
        if (res.status !== 200 || body.includes('"error"'))
          throw new Error(`CREATE DATABASE: HTTP ${res.status} ${body}`);
      };
      return perDatabaseHarness(srv, 'bucket_', make, provision);
    },
    async teardown() {
      await new Promise((resolve) => (front ? front.close(resolve) : resolve(undefined)));
      await server?.destroy();
    },
  };
}

const EVENT_STORE_ADAPTERS = [
  [
    'embedded',
    () =>
      embeddedAdapter(
        'citywatch-events-embedded-',
        (dir) => new EmbeddedEventStore({ dir }),
        (store) => (store as EmbeddedEventStore).file.replace(/\/events\.db$/, ''),
      ),
  ],
  [
    'influxdb-v1',
    () =>
      influxdAdapter(
        'events_',
        (url, database) => new InfluxEventStore({ version: 1, url, database, timeoutMs: 10_000 }),
      ),
  ],
  ['influxdb-v2', influxV2Adapter],
] as const;

/** Registers `cases` against every EventStore adapter (embedded, influxdb-v1, influxdb-v2, in that order). */
export function eachEventStore(cases: (c: ContractCases<EventStore>) => void): void {
  forEachAdapter<EventStore>(EVENT_STORE_ADAPTERS, cases);
}
