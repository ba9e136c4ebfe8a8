/**
 * The cluster's MQTT edge (cluster/edge.ts) as its own process (PARTS=edge) on a real 3-node NATS
 * cluster: an accepted fix is in the replicated stream, on its unit's partition, before the device gets
 * its PUBACK; a retransmission is not stored twice; an invalid fix is refused before the stream; and
 * without a quorum of NATS nodes there is no PUBACK until the quorum is back.
 */
import fs from 'node:fs/promises';
import mqtt from 'mqtt';
import { openCluster } from '../../cluster/jetstream.ts';
import { fixMsgId, partitionOf } from '../../cluster/partitions.ts';
import { spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { readFixStream, seedDataDir } from '../support/cluster-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-edge');

const PARTITIONS = 8;

serial(
  'the edge acknowledges a fix once the R3 stream has it, never twice, and not without a quorum',
  async (t) => {
    // generous: a loaded machine may take minutes to start three servers and a cold tsx process
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const dataDir = await seedDataDir({
      firms: ['firm-a'],
      vehicles: [{ id: 'veh-a1', plate: '皖A·00001', kind: 'muck_truck', firm: 'firm-a', ratedLoadT: 18 }],
      devices: [
        {
          id: 'dev-a1',
          secret: 'secret-a1-long-enough',
          kind: 'muck_truck',
          vehicle: 'veh-a1',
          firm: 'firm-a',
        },
      ],
    });
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      CLUSTER_NATS_URLS: nats.urls.join(','),
      CLUSTER_PARTITIONS: String(PARTITIONS),
      SIMULATE: '0',
    };
    const edge = await spawnClusterPart('edge', env);
    t.teardown(() => edge.kill9());
    const conn = await openCluster({
      urls: nats.urls,
      partitions: PARTITIONS,
      replicas: 3,
      leaseMs: 10_000,
      dedupeWindowMs: 600_000,
      streamMaxAgeMs: 72 * 3_600_000,
      name: 'cluster-edge-test',
    });
    t.teardown(() => conn.close());

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, {
      clientId: 'dev-a1',
      username: 'dev-a1',
      password: 'secret-a1-long-enough',
      clean: false,
      reconnectPeriod: 200,
    });
    t.teardown(() => device.endAsync(true));
    const base = Date.now() - 60_000;
    const fix = (i: number) =>
      JSON.stringify({ ts: base + i * 1000, lat: 31.82 + i * 1e-4, lon: 117.23, speed: 20 });
    for (let i = 0; i < 5; i++) await device.publishAsync('devices/dev-a1/telemetry', fix(i), { qos: 1 });

    let stream = await readFixStream(conn);
    t.is(stream.length, 5, 'every acknowledged fix is in the stream');
    t.deepEqual(
      stream.map((s) => [s.partition, s.msgId, s.fix.vehicle, s.fix.ts]),
      [0, 1, 2, 3, 4].map((i) => [
        partitionOf('veh-a1', PARTITIONS),
        fixMsgId('dev-a1', base + i * 1000),
        'veh-a1',
        base + i * 1000,
      ]),
    );

    // a retransmission (same fix again, as after a lost PUBACK) is acknowledged and stored once
    await device.publishAsync('devices/dev-a1/telemetry', fix(2), { qos: 1 });
    // an invalid fix is refused (dead-lettered), not streamed; the valid one after it is
    await device.publishAsync('devices/dev-a1/telemetry', JSON.stringify({ ts: base, lat: 95, lon: 117 }), {
      qos: 1,
    });
    await device.publishAsync('devices/dev-a1/telemetry', fix(5), { qos: 1 });
    stream = await readFixStream(conn);
    t.deepEqual(
      stream.map((s) => s.fix.ts),
      [0, 1, 2, 3, 4, 5].map((i) => base + i * 1000),
    );

    // two of three NATS nodes down: no quorum, so no PUBACK ...
    await nats.nodes[1]!.kill9();
    await nats.nodes[2]!.kill9();
    let acked = false;
    // the edge's verdict on the message: it closes the connection when the stream did not acknowledge
    // the fix (its publish timed out), so the negative below is confirmed by that event, not by a sleep
    const refused = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const pending = device.publishAsync('devices/dev-a1/telemetry', fix(6), { qos: 1 }).then(() => {
      acked = true;
    });
    await refused;
    t.false(acked, 'no PUBACK while the stream has no quorum');
    // ... until the quorum is back: the edge refused the message (closing the connection), the device
    // sent it again, and this time it is stored and acknowledged, once
    await nats.nodes[1]!.restart();
    await pending;
    await nats.nodes[2]!.restart();
    stream = await readFixStream(conn);
    t.deepEqual(
      stream.map((s) => s.fix.ts),
      [0, 1, 2, 3, 4, 5, 6].map((i) => base + i * 1000),
    );
  },
);
