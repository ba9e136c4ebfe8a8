/**
 * The cluster's MQTT intake edge: the platform's own broker (broker/: device authentication against the
 * registry, topic ACL, status) and ingest core (ingest/core.ts: decode, validate, normalize, dedupe per
 * device, dead letters), with one difference: where the single process appends accepted fixes to its
 * local spool, an edge publishes them to the replicated fix stream (cluster/jetstream.ts) and resolves
 * once JetStream has acknowledged every one. The broker sends the device's PUBACK only then
 * (broker/publish.ts), so an acknowledged fix is on a quorum of the NATS nodes and an edge can die at
 * any moment: it holds nothing. Any number of edges on any machines; a device may reconnect to another.
 *
 * With `jt808` the edge also serves JT/T 808 terminals (gateway/jt808/server.ts, unchanged): their
 * location messages go through the same ingest core, so the platform's general response (0x8001, JT/T
 * 808-2013 §8.2) that tells the terminal its report was taken is sent once the stream acknowledged it,
 * as the PUBACK is; a terminal may reconnect to any edge.
 *
 * Each fix goes to the subject of its unit's partition (partitions.ts), with the message id device@ts:
 * the stream's duplicate window drops a retransmission that reaches it twice (through a new connection,
 * another edge, or a publish retried after an ack that got lost).
 */

import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { type Broker, createBroker } from '../broker/index.ts';
import type { ListeningPorts } from '../broker/listeners.ts';
import { IntakeLag } from '../compliance/clock.ts';
import type { Fix } from '../core/fix.ts';
import { DEAD_LETTER_TOPIC } from '../core/topics.ts';
import type { CommandRecord } from '../gateway/jt808/commands.ts';
import { Jt808Server } from '../gateway/jt808/server.ts';
import type { SessionRegistry } from '../gateway/jt808/session.ts';
import { IngestCore } from '../ingest/core.ts';
import type { DecodeLimits } from '../ingest/decode.ts';
import { createIngestMetrics } from '../ingest/metrics.ts';
import type { Registry } from '../registry/types.ts';
import { fixMsgId, fixSubject, partitionOf } from './partitions.ts';

/** counts of what the stream said about this edge's publishes */
export interface EdgeStats {
  published: number;
  /** the stream already had the message id (a retransmission) */
  duplicates: number;
  /** publishes that got no acknowledgement (the device was not acknowledged either) */
  failures: number;
}

/**
 * Ingest's durable step for the cluster: the Spool's `append`, over JetStream. Resolves once every
 * record is acknowledged by the stream (stored on a quorum); rejects if any is not, and ingest then
 * withholds the PUBACK (the device sends the message again; what did get stored is a duplicate then).
 */
export class StreamAppender {
  readonly stats: EdgeStats = { published: 0, duplicates: 0, failures: 0 };
  /**
   * how far behind its devices this edge's intake runs (received - ts of the fixes the stream took, as
   * the single process measures its own: compliance/clock.ts): past the workers' hold-back, an outage
   */
  readonly lag: IntakeLag;

  constructor(
    private readonly js: JetStreamClient,
    private readonly partitions: number,
    private readonly timeoutMs: number,
    private readonly wallNow: () => number = Date.now,
  ) {
    this.lag = new IntakeLag(wallNow);
  }

  async append(records: readonly string[]): Promise<void> {
    // published in order on one connection, so a unit's fixes keep their order in its partition
    const fixes: Fix[] = [];
    const acks = records.map((record) => {
      const fix = JSON.parse(record) as Fix;
      fixes.push(fix);
      return this.js.publish(fixSubject(partitionOf(fix.vehicle, this.partitions)), record, {
        msgID: fixMsgId(fix.device, fix.ts),
        timeout: this.timeoutMs,
      });
    });
    const settled = await Promise.allSettled(acks);
    let failed: unknown;
    for (const s of settled) {
      if (s.status === 'rejected') {
        this.stats.failures++;
        failed ??= s.reason;
      } else if (s.value.duplicate) this.stats.duplicates++;
      else this.stats.published++;
    }
    if (failed !== undefined) throw failed;
    this.lag.observe(fixes);
  }

  /** while the intake is behind its devices: the instant it has caught up to (wall less lag); else undefined */
  behindSince(): number | undefined {
    const lagMs = this.lag.behindMs();
    return lagMs === undefined ? undefined : this.wallNow() - lagMs;
  }
}

export interface EdgeOptions {
  js: JetStreamClient;
  registry: Registry;
  partitions: number;
  /** how long a publish waits for the stream's acknowledgement */
  publishTimeoutMs?: number;
  host?: string;
  /** MQTT over TCP; 0 picks a free port */
  port: number;
  limits: DecodeLimits;
  logger: Logger;
  metrics?: MetricsRegistry;
  /** serve JT/T 808 terminals too (JT808_PORT; 0 picks a free port) */
  jt808?: {
    port: number;
    /** the registry with the terminals' bindings and registrations (the edge's SqliteRegistry) */
    registry: SessionRegistry;
    allowUnauthenticated?: boolean;
    idleTimeoutMs?: number;
    commandTimeoutMs?: number;
    /** the gateway's hooks for the cluster's commands (jt808-relay.ts) */
    onSession?: (deviceId: string, connected: boolean) => void;
    onCommandRecord?: (record: CommandRecord) => void;
  };
}

export interface Edge {
  readonly ports: ListeningPorts;
  readonly broker: Broker;
  readonly stats: EdgeStats;
  /** the JT/T 808 gateway's port, when it serves one */
  readonly jt808Port?: number;
  /** the JT/T 808 gateway, when it serves one (its commands: jt808-relay.ts) */
  readonly jt808?: Jt808Server;
  /** ends a device's connections, MQTT and JT/T 808 (disabled, deleted or given a new secret) */
  dropDeviceSessions(deviceId: string): void;
  /** while its intake is behind its devices, the instant it has caught up to (an outage: outages.ts) */
  behindSince(): number | undefined;
  close(): Promise<void>;
}

/**
 * The ingest metrics of the single process that an edge has nothing behind: no spool (the stream is its
 * durable step: citywatch_edge_stream_publishes_total), no store (the workers write it). Left out of its
 * /metrics rather than shown at 0 for ever. citywatch_spool_append_failures_total stays: its messages
 * are the ones the stream did not acknowledge.
 */
const NOT_ON_AN_EDGE = [
  'citywatch_spool_fill_ratio',
  'citywatch_spool_disk_bytes',
  'citywatch_spool_depth_fixes',
  'citywatch_spool_depth_bytes',
  'citywatch_spool_corrupt_records_total',
  'citywatch_ingest_backpressure_waiting',
  'citywatch_ingest_backpressure_total',
  'citywatch_store_writes_total',
  'citywatch_store_fixes_written_total',
  'citywatch_store_lag_seconds',
  'citywatch_store_write_seconds',
  'citywatch_store_fixes_quarantined_total',
];

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const metrics = opts.metrics ?? new MetricsRegistry();
  const appender = new StreamAppender(opts.js, opts.partitions, opts.publishTimeoutMs ?? 10_000);
  let broker: Broker | undefined;
  const ingestMetrics = createIngestMetrics(metrics);
  for (const name of NOT_ON_AN_EDGE) metrics.removeSingleMetric(name);
  const core = new IngestCore({
    registry: opts.registry,
    spool: appender,
    metrics: ingestMetrics,
    limits: opts.limits,
    // dead letters go to this edge's own broker, where a subscriber to platform/deadletter sees them
    deadLetter: (topic, payload) => {
      void broker?.publish(topic, payload, { qos: 0, retain: false }).catch(() => undefined);
    },
    logger: opts.logger,
  });
  broker = createBroker({
    registry: opts.registry,
    host: opts.host ?? '127.0.0.1',
    port: opts.port,
    metrics,
    logger: opts.logger,
    onTelemetry: (_device, topic, payload) => core.accept(topic, payload, 'embedded'),
  });
  const ports = await broker.listen();
  const b = broker;
  let jt808: Jt808Server | undefined;
  let jt808Port: number | undefined;
  if (opts.jt808 !== undefined) {
    jt808 = new Jt808Server({
      host: opts.host ?? '127.0.0.1',
      port: opts.jt808.port,
      registry: opts.jt808.registry,
      ingest: (objects) => core.acceptFixObjects(objects, 'jt808'),
      deadLetter: (payload) => {
        void b.publish(DEAD_LETTER_TOPIC, payload, { qos: 0, retain: false }).catch(() => undefined);
      },
      metrics,
      logger: opts.logger,
      ...(opts.jt808.allowUnauthenticated !== undefined
        ? { allowUnauthenticated: opts.jt808.allowUnauthenticated }
        : {}),
      ...(opts.jt808.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.jt808.idleTimeoutMs } : {}),
      ...(opts.jt808.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.jt808.commandTimeoutMs } : {}),
      ...(opts.jt808.onSession !== undefined ? { onSession: opts.jt808.onSession } : {}),
      ...(opts.jt808.onCommandRecord !== undefined ? { onCommandRecord: opts.jt808.onCommandRecord } : {}),
    });
    jt808Port = await jt808.listen();
  }
  const gateway = jt808;
  return {
    ports,
    broker: b,
    stats: appender.stats,
    ...(jt808Port !== undefined ? { jt808Port } : {}),
    ...(gateway !== undefined ? { jt808: gateway } : {}),
    dropDeviceSessions(deviceId) {
      b.dropDeviceSessions(deviceId);
      gateway?.dropDeviceSessions(deviceId);
    },
    behindSince: () => appender.behindSince(),
    async close() {
      await gateway?.close();
      await b.close();
    },
  };
}
