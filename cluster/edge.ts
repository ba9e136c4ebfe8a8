/**
 * The cluster's MQTT intake edge: the platform's own broker (broker/: device authentication against the
 * registry, topic ACL, status) and ingest core (ingest/core.ts: decode, validate, normalize, dedupe per
 * device, dead letters), with one difference: where the single process appends accepted fixes to its
 * local spool, an edge publishes them to the replicated fix stream (cluster/jetstream.ts) and resolves
 * once JetStream has acknowledged every one. The broker sends the device's PUBACK only then
 * (broker/publish.ts), so an acknowledged fix is on a quorum of the NATS nodes and an edge can die at
 * any moment: it holds nothing. Any number of edges on any machines; a device may reconnect to another.
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
import type { Fix } from '../core/fix.ts';
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

  constructor(
    private readonly js: JetStreamClient,
    private readonly partitions: number,
    private readonly timeoutMs: number,
  ) {}

  async append(records: readonly string[]): Promise<void> {
    // published in order on one connection, so a unit's fixes keep their order in its partition
    const acks = records.map((record) => {
      const fix = JSON.parse(record) as Fix;
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
}

export interface Edge {
  readonly ports: ListeningPorts;
  readonly broker: Broker;
  readonly stats: EdgeStats;
  close(): Promise<void>;
}

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const metrics = opts.metrics ?? new MetricsRegistry();
  const appender = new StreamAppender(opts.js, opts.partitions, opts.publishTimeoutMs ?? 10_000);
  let broker: Broker | undefined;
  const core = new IngestCore({
    registry: opts.registry,
    spool: appender,
    metrics: createIngestMetrics(metrics),
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
  return {
    ports,
    broker: b,
    stats: appender.stats,
    close: () => b.close(),
  };
}
