/**
 * What a cluster API node (PARTS=api with CLUSTER_NATS_URLS, platform/cluster-api-node.ts) tells an
 * operator about the cluster itself, on a real 3-node NATS cluster and a real API node process:
 *  - GET /api/v1/platform/outages lists the cluster's own outages (cluster/outages.ts), those the
 *    edges recorded in the KV bucket and the one under way while no edge writes the heartbeat, so that
 *    a firm or an operator sees why a silence was not charged (before, it answered the API node's own
 *    compliance service's, which judges nothing in the cluster: an empty list), each with the silences
 *    the workers stored as its platform gaps (cluster/gap-store.ts; before, gaps 0), and the `behind`
 *    outage an edge records while its intake lags its devices (before, none);
 *  - GET /metrics counts the registry conflicts the node saw resolved by the registry stream
 *    (citywatch_registry_sync_conflicts_total; cluster/registry-sync.ts counted them only in memory),
 *    and so does a worker process's /metrics on its own port (platform/cluster-metrics.ts).
 * The outages are written by an edge's heartbeat writer with its clock set, so no verdict rests on speed.
 * Only the `behind` outages are compared after the edge's clock is set to the present: a stall longer
 * than the lease time before the request adds a `stopped` one under way there.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { StreamAppender } from '../../cluster/edge.ts';
import { GapStore } from '../../cluster/gap-store.ts';
import { REGISTRY_STREAM } from '../../cluster/jetstream.ts';
import { IntakeHeartbeat } from '../../cluster/outages.ts';
import type { Fix } from '../../core/fix.ts';
import type { PlatformGap } from '../../geofence/platform-gaps.ts';
import { type ClusterPart, spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { metricValue } from '../support/cluster/metrics.ts';
import { REGISTRY_NODE_LEASE_MS, startRegistryNode } from '../support/cluster/registry-node.ts';
import { waitFor } from '../support/cluster/worker.ts';
import { seedDataDir } from '../support/cluster-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-api-node');

const ADMIN_TOKEN = 'cluster-api-node-admin-token';
const LEASE_MS = REGISTRY_NODE_LEASE_MS;
const GRACE_MS = 1_000;
const FIRM = 'firm-api';
const world = {
  firms: [FIRM],
  vehicles: [{ id: 'veh-api1', plate: '皖A·P0001', kind: 'muck_truck' as const, firm: FIRM }],
  devices: [
    {
      id: 'dev-api1',
      secret: 'secret-api1-long-enough',
      kind: 'muck_truck' as const,
      vehicle: 'veh-api1',
      firm: FIRM,
    },
  ],
};

/** device i's fix at `ts`, received (taken by the edge) at `received` */
const laggingFix = (i: number, ts: number, received: number): Fix => ({
  vehicle: `veh-lag${i}`,
  device: `dev-lag${i}`,
  kind: 'muck_truck',
  firm: FIRM,
  ts,
  received,
  lat: 31.8,
  lon: 117.2,
  valid: true,
  crsIn: 'WGS84',
  late: false,
});

interface OutageItem {
  start: number;
  end: number | null;
  startAt: string;
  endAt: string | null;
  cause: string;
  gaps: number;
  gapList: unknown[];
}

serial(
  "a cluster API node lists the cluster's outages and counts registry conflicts on /metrics, as a worker does",
  async (t) => {
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const dirs = await Promise.all([1, 2, 3].map(() => seedDataDir(world)));
    t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
    const a = await startRegistryNode(nats, dirs[0]!, 'node-a');
    const b = await startRegistryNode(nats, dirs[1]!, 'node-b');
    t.teardown(() => Promise.all([a.close(), b.close()]).then(() => {}));
    const parts: ClusterPart[] = [];
    t.teardown(() => Promise.all(parts.map((p) => p.kill9())).then(() => undefined));
    const env = {
      SIMULATE: '0',
      CLUSTER_NATS_URLS: nats.urls.join(','),
      CLUSTER_PARTITIONS: '4',
      CLUSTER_LEASE_S: String(LEASE_MS / 1000),
    };
    // a worker (no edge: its heartbeat would end the outage under way below) on a registry that fills
    // from the stream
    const workerDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-api-node-worker-'));
    t.teardown(() => fs.rm(workerDir, { recursive: true, force: true }));
    const [apiNode, worker] = await Promise.all([
      spawnClusterPart('api', { ...env, DATA_DIR: dirs[2]!, ADMIN_TOKEN }),
      spawnClusterPart('worker', { ...env, DATA_DIR: workerDir }),
    ]);
    parts.push(apiNode, worker);
    t.teardown(() => {
      if (process.env.CLUSTER_TEST_DUMP) t.log(apiNode.output().slice(-6000));
    });
    const get = async (url: string) => {
      const res = await fetch(`${apiNode.apiUrl}${url}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const text = await res.text();
      t.is(res.status, 200, `${url}: ${text}`);
      return text;
    };
    const outages = async () =>
      (JSON.parse(await get('/api/v1/platform/outages')) as { items: OutageItem[] }).items;

    // an edge's heartbeat writer on its own clock: alive at t0, then again 2 minutes later (nobody wrote
    // in between: the intake was down), which records the outage [t0, t1 + grace]; after t1 nobody writes
    let now = Date.now() - 600_000;
    const heartbeat = new IntakeHeartbeat({
      kv: a.conn.outages,
      leaseMs: LEASE_MS,
      keepMs: 7 * 86_400_000,
      graceMs: GRACE_MS,
      now: () => now,
      logger: pino({ level: 'silent' }),
    });
    await heartbeat.beat();
    const t0 = now;
    now += 120_000;
    await heartbeat.beat();
    const t1 = now;
    t.is(heartbeat.recorded, 1);
    // the silences a worker found voided by it (cluster/gap-store.ts), one of them put again by a replay
    const gapStore = new GapStore(a.conn.gaps);
    const gap = (vehicle: string, fromTs: number): PlatformGap => ({
      id: `${vehicle}:OFFLINE:${fromTs + 10_000}`,
      vehicle,
      firm: FIRM,
      code: 'OFFLINE',
      fromTs,
      toTs: fromTs + 60_000,
      outageStart: t0,
      outageEnd: t1 + GRACE_MS,
    });
    await gapStore.write([], [gap('veh-b', t0 + 2_000), gap('veh-a', t0 + 5_000)]);
    await gapStore.write([], [gap('veh-b', t0 + 2_000)]);
    const listed = await outages();
    t.deepEqual(
      listed.map((o) => [o.start, o.end, o.cause, o.gaps, o.gapList.length]),
      [
        [t0, t1 + GRACE_MS, 'stopped', 2, 2],
        // no edge has written the heartbeat since t1, longer ago than the lease time: under way
        [t1, null, 'stopped', 0, 0],
      ],
      JSON.stringify(listed),
    );
    t.is(listed[0]!.startAt, new Date(t0).toISOString());
    const dto = ({ outageStart: _s, outageEnd: _e, ...g }: PlatformGap) => ({
      ...g,
      fromAt: new Date(g.fromTs).toISOString(),
      toAt: new Date(g.toTs).toISOString(),
    });
    t.deepEqual(
      listed[0]!.gapList,
      [dto(gap('veh-a', t0 + 5_000)), dto(gap('veh-b', t0 + 2_000))],
      'the gaps by vehicle, each once',
    );
    const firstOnly = (JSON.parse(await get('/api/v1/platform/outages?gaps=1')) as { items: OutageItem[] })
      .items[0]!;
    t.deepEqual([firstOnly.gaps, firstOnly.gapList.length], [2, 1], 'gaps=1: the count, and the first');
    t.is(listed[1]!.endAt, null);
    // an edge is up again: the outage under way is recorded, ended at its beat plus the grace
    now = Date.now();
    await heartbeat.beat();
    const t2 = now;
    t.deepEqual(
      (await outages()).map((o) => [o.start, o.end]),
      [
        [t0, t1 + GRACE_MS],
        [t1, t2 + GRACE_MS],
      ],
    );

    // an edge whose intake falls behind its devices: their fixes reach the stream 90 s after their time
    // (on 12 devices; the workers hold their clock back 60 s at most), so its heartbeat records a `behind`
    // outage from the instant its intake has caught up to, ended a lease time past each beat while it
    // lasts, and at the beat after fresh fixes (the same edge classes as PARTS=edge, on the same clock)
    const appender = new StreamAppender(a.conn.js, 4, 10_000, () => now);
    const edgeC = new IntakeHeartbeat({
      kv: a.conn.outages,
      leaseMs: LEASE_MS,
      keepMs: 7 * 86_400_000,
      graceMs: GRACE_MS,
      now: () => now,
      behindSince: () => appender.behindSince(),
      logger: pino({ level: 'silent' }),
    });
    const send = (lagMs: number) =>
      appender.append(Array.from({ length: 12 }, (_, i) => JSON.stringify(laggingFix(i, now - lagMs, now))));
    const behind = async () =>
      (await outages()).filter((o) => o.cause === 'behind').map((o) => [o.start, o.end]);
    now = t2 + 1_000;
    await send(90_000);
    await edgeC.beat();
    const t3 = now;
    t.deepEqual(await behind(), [[t3 - 90_000, t3 + LEASE_MS]], 'behind: recorded while it lasts');
    now += 1_000;
    await send(90_000);
    await edgeC.beat();
    t.deepEqual(await behind(), [[t3 - 90_000, now + LEASE_MS]], 'moved on at each beat');
    // fresh fixes outnumber the lagging ones: the median lag is 0 again
    for (let k = 0; k < 3; k++) {
      now += 300;
      await send(0);
    }
    await edgeC.beat();
    t.deepEqual(await behind(), [[t3 - 90_000, now]], 'ended once the intake caught up');
    t.is(edgeC.recorded, 3);

    // two nodes change the same firm in one turn, before either publishes: the later in the stream stands,
    // and the API node, which reads the stream, counts the conflict on its /metrics
    const metric = async (name: string) => {
      const line = (await get('/metrics')).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    t.is(await metric('citywatch_registry_sync_conflicts_total'), 0);
    t.is(await metric('citywatch_registry_sync_lost_total'), 0);
    t.is(await metricValue(worker.metricsUrl, 'citywatch_registry_sync_conflicts_total'), 0);
    await waitFor('both nodes seeing the firm in the stream', async () => {
      const last = (await a.conn.jsm.streams.info(REGISTRY_STREAM)).state.last_seq;
      return (
        last > 0 &&
        a.sync.stats.seq === last &&
        b.sync.stats.seq === last &&
        a.sync.pendingChanges === 0 &&
        b.sync.pendingChanges === 0
      );
    });
    a.devices.upsertFirm({ id: FIRM, name: 'from a' });
    b.devices.upsertFirm({ id: FIRM, name: 'from b' });
    await waitFor('the API node counting the conflict', async () => {
      const n = await metric('citywatch_registry_sync_conflicts_total');
      return n !== undefined && n >= 1;
    });
    // the worker applies the same stream: it counts the conflict too
    await waitFor('the worker counting the conflict', async () => {
      const n = await metricValue(worker.metricsUrl, 'citywatch_registry_sync_conflicts_total');
      return n !== undefined && n >= 1;
    });
    t.is(await metricValue(worker.metricsUrl, 'citywatch_registry_sync_lost_total'), 0);
    t.true(
      a.sync.stats.conflicts >= 1 && b.sync.stats.conflicts >= 1,
      JSON.stringify([a.sync.stats, b.sync.stats]),
    );
    // the change lost was made on a or b, not on the API node
    t.is(await metric('citywatch_registry_sync_lost_total'), 0);
    t.is(a.sync.stats.lost + b.sync.stats.lost, 1);

    // the same through an edge process (PARTS=edge, platform/cluster.ts): 12 devices whose fixes it takes
    // 90 s after their time (sent again each round, in case a stall made the samples stale), then fresh
    const lagDevices = Array.from({ length: 12 }, (_, i) => `dev-lag${i}`);
    const edgeDir = await seedDataDir({
      firms: [FIRM],
      vehicles: lagDevices.map((_, i) => ({
        id: `veh-lag${i}`,
        plate: `皖A·L${String(i).padStart(4, '0')}`,
        kind: 'muck_truck' as const,
        firm: FIRM,
      })),
      devices: lagDevices.map((id, i) => ({
        id,
        secret: `secret-${id}-long-enough`,
        kind: 'muck_truck' as const,
        vehicle: `veh-lag${i}`,
        firm: FIRM,
      })),
    });
    t.teardown(() => fs.rm(edgeDir, { recursive: true, force: true }));
    const edge = await spawnClusterPart('edge', {
      SIMULATE: '0',
      CLUSTER_NATS_URLS: nats.urls.join(','),
      CLUSTER_PARTITIONS: '4',
      CLUSTER_LEASE_S: String(LEASE_MS / 1000),
      DATA_DIR: edgeDir,
      LOG_LEVEL: 'info',
    });
    parts.push(edge);
    const clients = await Promise.all(
      lagDevices.map((id) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, {
          clientId: id,
          username: id,
          password: `secret-${id}-long-enough`,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
        }),
      ),
    );
    t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined));
    const sendAll = (lagMs: number) => {
      const ts = Date.now() - lagMs;
      return Promise.all(
        clients.map((c, i) =>
          c.publishAsync(
            `devices/${lagDevices[i]}/telemetry`,
            JSON.stringify({ ts, lat: 31.8, lon: 117.2, speed: 0 }),
            { qos: 1 },
          ),
        ),
      );
    };
    const edgeBehind = async () =>
      (await outages()).filter((o) => o.cause === 'behind' && o.start !== t3 - 90_000);
    const firstSent = Date.now() - 90_000;
    await waitFor('the edge recording its intake behind', async () => {
      if ((await edgeBehind()).length > 0) return true;
      await sendAll(90_000);
      return false;
    });
    const seenAt = Date.now();
    const [recorded] = await edgeBehind();
    // from the instant it has caught up to: its fixes' time, plus the wall time since it took them
    t.true(recorded!.start >= firstSent && recorded!.start <= seenAt - 90_000, JSON.stringify(recorded));
    for (let k = 0; k < 3; k++) await sendAll(0);
    await waitFor('the edge caught up', () => edge.output().includes('intake caught up with its devices'));
    const [ended] = await edgeBehind();
    // ended at the beat that found it caught up, which came after the beat that opened it: at least
    // its lag (90 s) after its start, and in the past
    t.true(
      ended!.start === recorded!.start &&
        ended!.end !== null &&
        ended!.end >= ended!.start + 90_000 &&
        ended!.end <= Date.now(),
      JSON.stringify(ended),
    );
  },
);
