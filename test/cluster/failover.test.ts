/**
 * Issue 16's failover run on real processes: a 3-node NATS cluster (JetStream), real influxd, 2 edges and
 * 2 workers (PARTS=edge / PARTS=worker, separate processes) and the demo's 13 scenario trucks publishing
 * 90 minutes of fixes over MQTT. Under load, one at a time: kill -9 an edge (its devices reconnect to
 * the other and send their unacknowledged fix again), kill -9 a worker (its partitions move to the
 * other, which restores their checkpoints and replays the stream from there), kill -9 a NATS node.
 * Then: every PUBACKed fix is in the stream once and in InfluxDB once, and the violations and trips in
 * InfluxDB are those of the single-process compliance service (compliance/service.ts) judging the same
 * fixes, same ids, same phases.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { openCluster } from '../../cluster/jetstream.ts';
import { partitionOf } from '../../cluster/partitions.ts';
import { ComplianceService } from '../../compliance/service.ts';
import type { Fix } from '../../core/fix.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { demoComplianceSeed } from '../../simulators/demo/compliance.ts';
import { demoScenarioFleet, generateScenarioFixes } from '../../simulators/demo/scenario-trucks.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type { EventStore } from '../../store/events-port.ts';
import { InfluxStore } from '../../store/influx/adapter.ts';
import { InfluxEventStore } from '../../store/influx/events.ts';
import { type ClusterPart, spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { INFLUXD_BIN, startInfluxd } from '../../testkit/servers/influxd.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { readFixStream, seedDataDir } from '../support/cluster-world.ts';

const nats = testsNeeding(NATS_SERVER_BIN, 'cluster-failover');
const { serial } = nats.skipped ? nats : testsNeeding(INFLUXD_BIN, 'cluster-failover');

const PARTITIONS = 16;
const DATABASE = 'cw_cluster';
const FIRMS = ['firm-hf-jianyun', 'firm-hf-xinglong'];

const waitFor = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  // a probe that fails (a JetStream request timing out while a node is down) is asked again
  while (
    !(await Promise.resolve()
      .then(ok)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

async function allViolations(events: EventStore) {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await events.violations({ limit: 10_000, ...(cursor ? { cursor } : {}) });
    for (const v of page.items)
      out.push(`${v.id} ${v.code} ${v.vehicle} ${v.phase} ${v.startTs} ${v.endTs ?? '-'}`);
    cursor = page.nextCursor;
  } while (cursor);
  return out.sort();
}

async function allTrips(events: EventStore) {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await events.trips({ limit: 10_000, ...(cursor ? { cursor } : {}) });
    for (const tr of page.items) out.push(`${tr.id} ${tr.status}`);
    cursor = page.nextCursor;
  } while (cursor);
  return out.sort();
}

serial(
  'kill -9 an edge, a worker and a NATS node under load: no acknowledged fix lost or doubled, the same violations',
  async (t) => {
    // generous: minutes on a loaded machine (3 NATS nodes, influxd, 6 tsx processes over the run)
    t.timeout(1_200_000);
    const cluster = await startNatsCluster();
    t.teardown(() => cluster.destroy());
    const influx = await startInfluxd();
    t.teardown(() => influx.destroy());

    const start = Date.now() - 3 * 3_600_000;
    const durationMs = 90 * 60_000;
    const fleet = demoScenarioFleet();
    const dataDir = await seedDataDir({
      firms: FIRMS,
      vehicles: fleet.vehicles,
      devices: fleet.devices,
      compliance: demoComplianceSeed(start),
    });
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      SIMULATE: '0',
      CLUSTER_NATS_URLS: cluster.urls.join(','),
      CLUSTER_PARTITIONS: String(PARTITIONS),
      CLUSTER_LEASE_S: '3',
      CLUSTER_CHECKPOINT_S: '1',
      // its fleet replays fixes of three hours ago: judged at the wall clock every truck is silent; the
      // reference below judges silence at the fix that ends it, as the workers do without ticks
      CLUSTER_TICK_S: '0',
      // a replay (fixes three hours old): on the wall clock the edges would record a behind outage
      COMPLIANCE_CLOCK: 'fleet',
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: DATABASE,
    };
    const parts: ClusterPart[] = [];
    t.teardown(() => Promise.all(parts.map((p) => p.kill9())).then(() => undefined));
    const spawn = async (part: 'edge' | 'worker') => {
      const p = await spawnClusterPart(part, env);
      parts.push(p);
      return p;
    };
    const [edgeA, edgeB, worker1, worker2] = await Promise.all([
      spawn('edge'),
      spawn('edge'),
      spawn('worker'),
      spawn('worker'),
    ]);
    const conn = await openCluster({
      urls: cluster.urls,
      partitions: PARTITIONS,
      replicas: 3,
      leaseMs: 3000,
      dedupeWindowMs: 600_000,
      streamMaxAgeMs: 72 * 3_600_000,
      name: 'cluster-failover-test',
    });
    t.teardown(() => conn.close());
    // the lease of every partition, read key by key (a KV get is one request to the stream's leader)
    const owners = async () => {
      const byPartition = new Map<number, string>();
      for (let p = 0; p < PARTITIONS; p++) {
        const e = await conn.leases.get(`p.${p}`);
        if (e?.operation === 'PUT') byPartition.set(p, e.string());
      }
      return byPartition;
    };
    // both workers share the partitions
    await waitFor(
      'both workers holding partitions',
      async () => {
        const o = await owners();
        const held = new Set(o.values());
        return o.size === PARTITIONS && held.has(worker1!.workerId) && held.has(worker2!.workerId);
      },
      180_000,
    );

    // the devices: each one's fixes in order, the next after the PUBACK of the last; both edges known
    const messages = generateScenarioFixes({
      seed: 7,
      startTs: start,
      durationMs,
      devices: fleet.devices,
    }).filter((m) => !m.silent);
    // phase 1: the first 70 minutes, with the failures; phase 2 (after the whole cluster restarted): the rest
    const cut = start + 70 * 60_000;
    const byDevice = new Map<string, typeof messages>();
    const later = new Map<string, typeof messages>();
    for (const m of messages) {
      const into = m.ts < cut ? byDevice : later;
      into.set(m.device, [...(into.get(m.device) ?? []), m]);
    }
    const acked: { device: string; ts: number }[] = [];
    const total = messages.filter((m) => m.ts < cut).length;
    // the failures, each started (not awaited) by the publish that crosses its share of the fixes
    const milestones: { share: number; action: () => Promise<void>; done?: Promise<void> }[] = [
      {
        share: 0.2,
        action: async () => {
          await edgeA!.kill9();
          t.log(`edge A killed at ${acked.length}/${total} acknowledged`);
        },
      },
      {
        share: 0.45,
        action: async () => {
          const killedAt = Date.now();
          await worker1!.kill9();
          t.log(`worker 1 killed at ${acked.length}/${total}`);
          await waitFor(
            'worker 2 holding every partition',
            async () => {
              const o = await owners();
              return o.size === PARTITIONS && [...o.values()].every((w) => w === worker2!.workerId);
            },
            // the takeover itself: the lease time (3 s here) and a lease round; the bound is one a
            // stalled machine cannot reach by slowness alone. How long it takes is a figure of the
            // benchmark (failover_s, goal under 30 s), not a verdict of this test.
            180_000,
          ).catch(async (err: Error) => {
            t.log(JSON.stringify([...(await owners().catch(() => new Map()))]));
            t.log(worker2!.output().slice(-6000));
            throw err;
          });
          const movedS = (Date.now() - killedAt) / 1000;
          t.log(`worker 1's partitions moved in ${movedS.toFixed(1)} s (at ${acked.length}/${total})`);
        },
      },
      {
        share: 0.7,
        action: async () => {
          await cluster.nodes[2]!.kill9();
          t.log(`NATS node n3 killed at ${acked.length}/${total}`);
        },
      },
    ];
    const clients: MqttClient[] = [];
    t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined));
    const edges = [edgeA!, edgeB!];
    const devices = fleet.devices.map(async (d, i) => {
      const ports = [edges[i % 2]!.mqttPort, edges[(i + 1) % 2]!.mqttPort];
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports[0]}`, {
        servers: ports.map((port) => ({ host: '127.0.0.1', port })),
        clientId: d.id,
        username: d.id,
        password: d.secret,
        clean: false,
        reconnectPeriod: 250,
        connectTimeout: 10_000,
      });
      clients.push(client);
      for (const m of byDevice.get(d.id) ?? []) {
        await client.publishAsync(m.topic, JSON.stringify(m.payload), { qos: 1 });
        acked.push({ device: m.device, ts: m.ts });
        for (const milestone of milestones)
          if (milestone.done === undefined && acked.length >= total * milestone.share)
            milestone.done = milestone.action();
      }
    });
    await Promise.all(devices);
    t.is(acked.length, total);
    for (const milestone of milestones) await milestone.done;
    await cluster.nodes[2]!.restart();

    // phase 2: the whole cluster restarts (kill -9 every process and every NATS node); a new edge and
    // worker resume from the checkpoints, and the devices send the rest of their fixes
    await Promise.all([...clients.map((c) => c.endAsync(true)), edgeB!.kill9(), worker2!.kill9()]);
    await Promise.all(cluster.nodes.map((n) => n.kill9()));
    await Promise.all(cluster.nodes.map((n) => n.restart()));
    const [edgeC, worker3] = await Promise.all([
      spawnClusterPart('edge', env),
      spawnClusterPart('worker', { ...env, LOG_LEVEL: 'info' }),
    ]);
    parts.push(edgeC!, worker3!);
    await Promise.all(
      fleet.devices.map(async (d) => {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edgeC!.mqttPort}`, {
          clientId: d.id,
          username: d.id,
          password: d.secret,
          reconnectPeriod: 250,
          connectTimeout: 10_000,
        });
        clients.push(client);
        for (const m of later.get(d.id) ?? []) {
          await client.publishAsync(m.topic, JSON.stringify(m.payload), { qos: 1 });
          acked.push({ device: m.device, ts: m.ts });
        }
      }),
    );
    t.is(acked.length, messages.length);
    // every partition that has units has a checkpoint (the empty ones have none)
    const used = new Set(fleet.vehicles.map((v) => partitionOf(v.id, PARTITIONS)));
    const restored = () =>
      [
        ...worker3!
          .output()
          .matchAll(/"partition":(\d+),"seq":(\d+),"units":\d+,"msg":"cluster worker: partition restored/g),
      ].map((m) => ({ partition: Number(m[1]), seq: Number(m[2]) }));
    await waitFor(
      'worker 3 restoring every partition with units',
      () => restored().length >= used.size,
      180_000,
    ).catch((err: Error) => {
      t.log(worker3!.output().slice(-4000));
      throw err;
    });
    t.deepEqual(
      [...new Set(restored().map((r) => r.partition))].sort((a, b) => a - b),
      [...used].sort((a, b) => a - b),
    );
    t.true(
      restored().every((r) => r.seq > 0),
      `worker 3 resumed from checkpoints past the start: ${JSON.stringify(restored())}`,
    );

    // in the stream: every acknowledged fix, once
    const stream = await readFixStream(conn);
    const streamed = stream.map((s) => `${s.fix.device}@${s.fix.ts}`);
    t.is(new Set(streamed).size, streamed.length, 'no fix twice in the stream');
    t.deepEqual([...streamed].sort(), acked.map((a) => `${a.device}@${a.ts}`).sort());

    // in InfluxDB: every acknowledged fix, once (counted per vehicle)
    const fixes = new InfluxStore({ version: 1, url: influx.url, database: DATABASE });
    await fixes.open();
    t.teardown(() => fixes.close());
    const expected = new Map<string, number>();
    for (const s of stream) expected.set(s.fix.vehicle, (expected.get(s.fix.vehicle) ?? 0) + 1);
    const counts = async () => {
      const out = new Map<string, number>();
      for (const vehicle of expected.keys())
        out.set(vehicle, await fixes.count(vehicle, start - 60_000, start + durationMs + 60_000));
      return out;
    };
    await waitFor(
      'every fix in InfluxDB',
      async () => JSON.stringify([...(await counts())]) === JSON.stringify([...expected]),
      300_000,
    ).catch(() => undefined);
    if (process.env.CLUSTER_TEST_LOG_LEVEL) t.log(worker2!.output().slice(-8000));
    t.deepEqual([...(await counts())], [...expected]);

    // the single-process compliance service, judging the same fixes in the same order
    const reference = await judgeInOneProcess(
      dataDir,
      stream.map((s) => s.fix),
    );
    const codes = new Set(reference.violations.map((v) => v.split(' ')[1]));
    t.true(codes.size >= 5, `violation codes seen: ${[...codes].join(', ')}`);
    const events = new InfluxEventStore({ version: 1, url: influx.url, database: DATABASE });
    await events.open();
    t.teardown(() => events.close());
    await waitFor(
      'the workers judged every fix',
      async () => JSON.stringify(await allViolations(events)) === JSON.stringify(reference.violations),
      300_000,
    ).catch(() => undefined);
    t.deepEqual(await allViolations(events), reference.violations);
    t.deepEqual(await allTrips(events), reference.trips);

    // sealed evidence, as the single process builds it: every violation closed or withdrawn has its
    // package (the worker that judged it built it, or, after the kill -9s, the next owner from the
    // checkpoint's due rows or the replay), with the violation's final times and the track around it
    const ended = reference.violations
      .map((line) => line.split(' '))
      .filter(([, , , phase]) => phase === 'closed' || phase === 'withdrawn');
    t.true(ended.length >= 5, `${ended.length} violations closed`);
    const missing = async () => {
      const out: string[] = [];
      for (const [id] of ended) if ((await events.evidence(id!)) === undefined) out.push(id!);
      return out;
    };
    await waitFor(
      'every closed violation with its evidence',
      async () => (await missing()).length === 0,
      120_000,
    ).catch(() => undefined);
    t.deepEqual(await missing(), []);
    for (const [id = '', , vehicle = '', , , endTs = ''] of ended) {
      const pkg = (await events.evidence(id))!;
      t.is(pkg.violation.id, id);
      t.is(String(pkg.violation.endTs ?? '-'), endTs);
      // the track around it, the vehicle's own fixes
      t.true(pkg.fixes.length > 0, `${id}: fixes in its package`);
      t.true(
        pkg.fixes.every((f) => f.vehicle === vehicle),
        `${id}: the vehicle's fixes only`,
      );
    }
  },
);

async function judgeInOneProcess(dataDir: string, fixes: readonly Fix[]) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-reference-'));
  try {
    const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
    const compliance = new ComplianceRegistry({
      dir: path.join(dataDir, 'compliance'),
      vehicles: () => vehicleProfilesFrom(registry),
    });
    const events = new EmbeddedEventStore({ dir });
    await events.open();
    const service = new ComplianceService({
      registry: compliance,
      events,
      fixes: { track: async () => [] },
      publish: async () => undefined,
      logger: pino({ enabled: false }),
      // no silence ticks: a worker judges silence at the fix that ends it only (no live ticks yet)
      now: () => Number.NaN,
    });
    service.eventStoreOpened();
    service.onFixes(fixes);
    await service.stop(30_000);
    const result = { violations: await allViolations(events), trips: await allTrips(events) };
    await events.close();
    compliance.close();
    registry.close();
    return result;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
