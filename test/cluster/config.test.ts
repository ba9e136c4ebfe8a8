/**
 * The cluster mode's settings (platform/config.ts) and its partitioning (cluster/partitions.ts, pure).
 */
import test from 'ava';
import {
  fixMsgId,
  fixSubject,
  partitionOf,
  partitionOfSubject,
  stableHash,
} from '../../cluster/partitions.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';

const problems = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

test('PARTS=edge or worker needs CLUSTER_NATS_URLS, runs alone, and the URLs are checked', (t) => {
  t.regex(problems({ PARTS: 'edge' }), /CLUSTER_NATS_URLS: required when PARTS has edge/);
  t.regex(problems({ PARTS: 'worker,edge' }), /CLUSTER_NATS_URLS: required when PARTS has worker and edge/);
  t.regex(problems({ PARTS: 'edge,api', CLUSTER_NATS_URLS: 'nats://a:4222' }), /^PARTS: edge and worker/m);
  // an API node is api alone; the single process's intake does not join a cluster
  t.regex(
    problems({ CLUSTER_NATS_URLS: 'nats://a:4222' }),
    /^PARTS: with CLUSTER_NATS_URLS a process is a cluster part/m,
  );
  t.deepEqual(loadConfig({ PARTS: 'api', CLUSTER_NATS_URLS: 'nats://a:4222' }).env.PARTS, ['api']);
  t.regex(
    problems({ PARTS: 'worker', CLUSTER_NATS_URLS: 'http://a:4222' }),
    /CLUSTER_NATS_URLS: a nats:\/\/host:port URL/,
  );
  t.regex(
    problems({ PARTS: 'worker', CLUSTER_NATS_URLS: 'nats://a:4222', CLUSTER_PARTITIONS: '0' }),
    /CLUSTER_PARTITIONS/,
  );
  const { env } = loadConfig({ PARTS: 'edge,worker', CLUSTER_NATS_URLS: 'nats://a:4222, nats://b:4222' });
  t.deepEqual(env.CLUSTER_NATS_URLS, ['nats://a:4222', 'nats://b:4222']);
  t.is(env.CLUSTER_PARTITIONS, 64);
  t.is(env.CLUSTER_REPLICAS, 3);
  t.is(env.CLUSTER_LEASE_S, 10);
  // an edge's or worker's /metrics port: a port, 0 (a free one) or off; unset picks the part's default
  t.is(env.CLUSTER_METRICS_PORT, undefined);
  const metricsPort = (v: string) =>
    loadConfig({ PARTS: 'worker', CLUSTER_NATS_URLS: 'nats://a:4222', CLUSTER_METRICS_PORT: v }).env
      .CLUSTER_METRICS_PORT;
  t.is(metricsPort('9100'), 9100);
  t.is(metricsPort('0'), 0);
  t.is(metricsPort('off'), 'off');
  for (const bad of ['no', '65536', '-1', '9100.5'])
    t.regex(
      problems({ PARTS: 'worker', CLUSTER_NATS_URLS: 'nats://a:4222', CLUSTER_METRICS_PORT: bad }),
      /^CLUSTER_METRICS_PORT: a port number from 0 \(a free one\) to 65535, or off/m,
    );
  // the single process is unchanged
  t.deepEqual(loadConfig({}).env.PARTS, ['broker', 'ingest', 'api']);
  t.is(loadConfig({}).env.CLUSTER_NATS_URLS, undefined);
});

test('a unit always falls in the same partition: FNV-1a 32 of its id, modulo the count', (t) => {
  // FNV-1a test vectors (the offset basis for "", 0xe40c292c for "a", 0xbf9cf968 for "foobar")
  t.is(stableHash(''), 0x811c9dc5);
  t.is(stableHash('a'), 0xe40c292c);
  t.is(stableHash('foobar'), 0xbf9cf968);
  t.is(partitionOf('foobar', 64), 0xbf9cf968 % 64);
  const counts = new Array<number>(64).fill(0);
  for (let i = 0; i < 64_000; i++) counts[partitionOf(`veh-${i}`, 64)]!++;
  // spread: every partition within 20 % of the mean for a sequential fleet
  t.true(
    counts.every((c) => c > 800 && c < 1200),
    JSON.stringify(counts),
  );
  t.is(partitionOfSubject(fixSubject(17)), 17);
  t.is(partitionOfSubject('citywatch.other.1'), -1);
  t.is(fixMsgId('dev-1', 1_700_000_000_000), 'dev-1@1700000000000');
});
