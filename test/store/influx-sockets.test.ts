/**
 * The InfluxDB adapters' socket pool (store/influx/http.ts, issue 10: an evidence storm held 8,192
 * sockets to influxd): however many calls run at once, the process holds at most `maxSockets` sockets
 * to the server, counted from /proc (testkit/proc-sockets.ts), and calls waiting for a socket keep
 * their deadline. A file of its own: its worker process holds no other store's sockets.
 */
import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { InfluxStore } from '../../store/index.ts';
import { InfluxEventStore } from '../../store/influx/events.ts';
import { InfluxConnection } from '../../store/influx/http.ts';
import { sampleSockets, socketsTo } from '../../testkit/proc-sockets.ts';
import { INFLUXD_BIN, type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import { binaryAvailable } from '../../testkit/servers/process.ts';
import { eventually } from '../support/platform.ts';

const T0 = Date.UTC(2024, 4, 20, 1, 30, 0);
const fix: Fix = {
  vehicle: 'veh-1',
  device: 'dev-1',
  kind: 'muck_truck',
  firm: 'firm-a',
  ts: T0,
  received: T0 + 800,
  lat: 31.5,
  lon: 117.25,
  valid: true,
  crsIn: 'WGS84',
  late: false,
};

let influx: InfluxdServer | undefined;
test.before(async () => {
  if (!binaryAvailable(INFLUXD_BIN)) return;
  const server = await startInfluxd();
  influx = server;
  // the launcher's readiness probe (global fetch) keeps its socket alive a few seconds: count from zero
  await eventually(
    () => (socketsTo(process.pid, server.port) === 0 ? true : undefined),
    'no socket to influxd',
  );
});
test.after.always(async () => {
  await influx?.destroy();
});

test.serial('200 concurrent calls share at most maxSockets sockets', async (t) => {
  if (!influx) return t.pass(`no influxd at ${INFLUXD_BIN}: skipped`);
  const store = new InfluxStore({ version: 1, url: influx.url, database: 'sockets_a', maxSockets: 3 });
  await store.open();
  await store.writeFixes([fix]);
  const sampler = sampleSockets(process.pid, influx.port, 2);
  const counts = await Promise.all(Array.from({ length: 200 }, () => store.count('veh-1', T0, T0)));
  sampler.stop();
  t.deepEqual(new Set(counts), new Set([1]), 'every call answered');
  t.true(sampler.samples > 1);
  t.true(sampler.peak <= 3, `peak ${sampler.peak} sockets to influxd`);
  // kept alive for the next calls, still within the cap
  t.true(socketsTo(process.pid, influx.port) <= 3);
  t.true(store.connection.openSockets <= 3);
  await store.close();
  await eventually(
    () => (socketsTo(process.pid, influx?.port ?? 0) === 0 ? true : undefined),
    'close() to end the pool of the store',
  );
});

test.serial('the fix and event stores share one pool and its cap', async (t) => {
  if (!influx) return t.pass(`no influxd at ${INFLUXD_BIN}: skipped`);
  const connection = new InfluxConnection(influx.url, 2);
  const options = { version: 1 as const, url: influx.url, database: 'sockets_b', connection };
  const store = new InfluxStore(options);
  const events = new InfluxEventStore(options);
  await store.open();
  await events.open();
  const sampler = sampleSockets(process.pid, influx.port, 2);
  await Promise.all([
    ...Array.from({ length: 50 }, () => store.latestOf('veh-1')),
    ...Array.from({ length: 50 }, () => events.violations({ vehicle: 'veh-1' })),
  ]);
  sampler.stop();
  t.true(sampler.peak <= 2, `peak ${sampler.peak} sockets to influxd`);
  await store.close();
  await events.close();
  t.true(socketsTo(process.pid, influx.port) > 0, 'a shared pool is closed by its creator, not by a store');
  connection.close();
  await eventually(() => (socketsTo(process.pid, influx?.port ?? 0) === 0 ? true : undefined), 'pool closed');
});

test.serial('calls waiting for a socket of a hung server give up at their deadline too', async (t) => {
  if (!influx) return t.pass(`no influxd at ${INFLUXD_BIN}: skipped`);
  const server = influx;
  const store = new InfluxStore({
    version: 1,
    url: server.url,
    database: 'sockets_c',
    maxSockets: 2,
    timeoutMs: 500,
  });
  await store.open();
  server.pause();
  try {
    const sampler = sampleSockets(process.pid, server.port, 10);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.latestOf('veh-1')));
    sampler.stop();
    for (const r of results) {
      t.is(r.status, 'rejected');
      if (r.status === 'rejected')
        t.regex((r.reason as Error).message, /^InfluxDB query failed: no answer from .* within 500 ms$/);
    }
    t.true(sampler.peak <= 2, `peak ${sampler.peak} sockets to influxd`);
  } finally {
    server.resume();
  }
  t.is(await store.latestOf('veh-1'), undefined, 'the pool works again once the server answers');
  await store.close();
});
