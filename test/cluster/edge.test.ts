/**
 * The cluster's MQTT edge (cluster/edge.ts) as its own process (PARTS=edge) on a real 3-node NATS
 * cluster: an accepted fix is in the replicated stream, on its unit's partition, before the device gets
 * its PUBACK; a retransmission is not stored twice; an invalid fix is refused before the stream; and
 * without a quorum of NATS nodes there is no PUBACK until the quorum is back.
 * Beside it a worker process (PARTS=worker, on the embedded store) judges the stream, and both serve
 * GET /metrics and /healthz on a port of their own (platform/cluster-metrics.ts): the edge's ingest
 * counters under the single process's names and its stream publishes, the worker's fixes judged and
 * partitions held, read directly and through a real Prometheus scraping both.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { openCluster } from '../../cluster/jetstream.ts';
import { fixMsgId, partitionOf } from '../../cluster/partitions.ts';
import { spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { PROMETHEUS_BIN, startPrometheus } from '../../testkit/servers/prometheus.ts';
import { skipForMissing, testsNeeding } from '../../testkit/servers/required.ts';
import { metricValue, promQuery } from '../support/cluster/metrics.ts';
import { waitFor } from '../support/cluster/worker.ts';
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
    const world = {
      firms: ['firm-a'],
      vehicles: [
        { id: 'veh-a1', plate: '皖A·00001', kind: 'muck_truck' as const, firm: 'firm-a', ratedLoadT: 18 },
      ],
      devices: [
        {
          id: 'dev-a1',
          secret: 'secret-a1-long-enough',
          kind: 'muck_truck' as const,
          vehicle: 'veh-a1',
          firm: 'firm-a',
        },
      ],
    };
    // the worker's registry fills from the stream: a seed of its own too would be offered by both
    // processes at once, registry conflicts whose count would rest on timing
    const [dataDir, workerDir] = await Promise.all([
      seedDataDir(world),
      fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-edge-worker-')),
    ]);
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    t.teardown(() => fs.rm(workerDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      CLUSTER_NATS_URLS: nats.urls.join(','),
      CLUSTER_PARTITIONS: String(PARTITIONS),
      SIMULATE: '0',
    };
    // the streams and buckets made first: two processes creating them at once lost ~30 s to it
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
    const [edge, worker] = await Promise.all([
      spawnClusterPart('edge', env),
      spawnClusterPart('worker', { ...env, DATA_DIR: workerDir }),
    ]);
    t.teardown(() => edge.kill9());
    t.teardown(() => worker.kill9());
    // a real Prometheus scraping both (started now, asked once the fixes are judged)
    const prometheus = skipForMissing(PROMETHEUS_BIN)
      ? undefined
      : startPrometheus({
          targets: [edge.metricsUrl, worker.metricsUrl].map((u) => u.slice(7)),
          scrapeInterval: '1s',
        });
    t.teardown(async () => (await prometheus)?.destroy());
    t.regex(edge.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/, edge.output());
    const health = await (await fetch(`${edge.metricsUrl}/healthz`)).json();
    t.deepEqual(health, { status: 'ok', parts: ['edge'] });
    t.is(await metricValue(edge.metricsUrl, 'citywatch_ingest_fixes_accepted_total'), 0);
    // no spool and no store behind an edge: those series are left out, not shown at 0
    t.is(await metricValue(edge.metricsUrl, 'citywatch_spool_depth_fixes'), undefined);
    t.is(await metricValue(worker.metricsUrl, 'citywatch_worker_fixes_judged_total'), 0);
    t.is(await metricValue(worker.metricsUrl, 'citywatch_registry_sync_conflicts_total'), 0);

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

    // the edge counts what it took and what the stream stored; the worker judges them
    t.is(await metricValue(edge.metricsUrl, 'citywatch_ingest_fixes_accepted_total'), 5);
    t.is(await metricValue(edge.metricsUrl, 'citywatch_edge_stream_publishes_total{result="stored"}'), 5);
    await waitFor('the worker judging the 5 fixes', async () => {
      const judged = await metricValue(worker.metricsUrl, 'citywatch_worker_fixes_judged_total');
      return judged !== undefined && judged >= 5;
    });
    t.is(await metricValue(worker.metricsUrl, 'citywatch_worker_fixes_judged_total'), 5);

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
    t.is(await metricValue(edge.metricsUrl, 'citywatch_ingest_fixes_accepted_total'), 6);
    t.is(await metricValue(edge.metricsUrl, 'citywatch_ingest_duplicates_total'), 1);
    t.is(
      await metricValue(
        edge.metricsUrl,
        'citywatch_ingest_rejected_total{reason="coordinates_out_of_range"}',
      ),
      1,
    );
    t.is(await metricValue(edge.metricsUrl, 'citywatch_edge_stream_publishes_total{result="stored"}'), 6);
    await waitFor('the worker judging the 6th fix and holding every partition', async () => {
      const judged = await metricValue(worker.metricsUrl, 'citywatch_worker_fixes_judged_total');
      const held = await metricValue(worker.metricsUrl, 'citywatch_worker_partitions');
      return judged === 6 && held === PARTITIONS;
    });
    t.is(await metricValue(worker.metricsUrl, 'citywatch_worker_stream_pending_fixes'), 0);
    t.like(await (await fetch(`${worker.metricsUrl}/healthz`)).json(), {
      status: 'ok',
      parts: ['worker'],
      partitions: PARTITIONS,
    });
    // Prometheus scraped both: the edge's accepted fixes and the worker's judged ones, by instance
    const prom = await prometheus;
    if (prom !== undefined) {
      const series = async () =>
        (
          await promQuery(
            prom.url,
            'citywatch_ingest_fixes_accepted_total or citywatch_worker_fixes_judged_total',
          )
        )
          .map((r) => `${r.labels.__name__}@${r.labels.instance} ${r.value}`)
          .sort();
      await waitFor('Prometheus scraping the 6 fixes from both', async () =>
        ((found) => found.length === 2 && found.every((s) => s.endsWith(' 6')))(await series()),
      );
      t.deepEqual(await series(), [
        `citywatch_ingest_fixes_accepted_total@${edge.metricsUrl.slice(7)} 6`,
        `citywatch_worker_fixes_judged_total@${worker.metricsUrl.slice(7)} 6`,
      ]);
    }

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
    // the unacknowledged publish is counted, and /healthz (liveness, not a probe of NATS) still answers
    const failed = 'citywatch_edge_stream_publishes_total{result="failed"}';
    t.is(await metricValue(edge.metricsUrl, failed), 1);
    t.is(await metricValue(edge.metricsUrl, 'citywatch_spool_append_failures_total'), 1);
    t.is((await fetch(`${edge.metricsUrl}/healthz`)).status, 200);
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
    // the message sent again is stored, or found stored already if the publish that got no answer was
    // committed once the quorum came back
    const publishes = async (result: string) =>
      (await metricValue(edge.metricsUrl, `citywatch_edge_stream_publishes_total{result="${result}"}`)) ?? 0;
    t.is((await publishes('stored')) + (await publishes('duplicate')), 7);
  },
);
