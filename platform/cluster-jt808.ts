/**
 * JT/T 808 commands on a cluster edge (platform/cluster.ts): the relay that takes the API nodes' commands
 * to the terminals connected here and keeps their records in the cluster (cluster/jt808-relay.ts), and
 * what the platform sends on its own, as the single process does (platform/jt808.ts):
 *  - a permit's route and sites when the permit becomes approved or active, or is changed while it is:
 *    every node applies every registry change (cluster/registry-sync.ts), and the edge holding a truck's
 *    terminal pushes them;
 *  - the text of JT808_VIOLATION_TEXTS when a violation opens: the workers publish every violation they
 *    store to the replicated event stream (cluster/event-feed.ts), every edge reads it in order (an edge
 *    cut off from NATS reads what it missed once it is back), and the edge holding the truck's terminal
 *    sends it.
 * Each such command is sent at most once across the edges and recorded whether or not an edge holds the
 * terminal (`not_connected` when none does): cluster/jt808-once.ts.
 */
import type { Logger } from 'pino';
import type { Edge } from '../cluster/edge.ts';
import { followStoredViolations } from '../cluster/event-feed.ts';
import type { ClusterConnection } from '../cluster/jetstream.ts';
import { openCommandRecords } from '../cluster/jt808-commands.ts';
import { OncePerCommand } from '../cluster/jt808-once.ts';
import { EdgeCommandRelay } from '../cluster/jt808-relay.ts';
import type { CommandRecord } from '../gateway/jt808/commands.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { Registry } from '../registry/types.ts';
import type { Config } from './config.ts';
import { wireJt808Triggers } from './jt808.ts';

export interface EdgeJt808 {
  /** the gateway's hooks (cluster/edge.ts EdgeOptions.jt808) */
  hooks: {
    onSession: (deviceId: string, connected: boolean) => void;
    onCommandRecord: (record: CommandRecord) => void;
  };
  /** once the edge listens: the platform's own commands to its terminals; returns their stop */
  wire(
    edge: Edge,
    deps: { registry: Pick<Registry, 'devicesOfUnit' | 'device'>; compliance: ComplianceRegistry },
  ): () => Promise<void>;
  stop(): Promise<void>;
}

export async function edgeJt808(
  config: Config,
  cluster: ClusterConnection,
  deps: { edgeId: string; edge: () => Edge | undefined; logger: Logger },
): Promise<EdgeJt808> {
  const { env } = config;
  const { logger } = deps;
  const records = await openCommandRecords(cluster, {
    replicas: env.CLUSTER_REPLICAS,
    maxAgeMs: env.CLUSTER_STREAM_MAX_AGE_H * 3_600_000,
  });
  const relay = new EdgeCommandRelay({
    nc: cluster.nc,
    records,
    edgeId: deps.edgeId,
    gateway: () => deps.edge()?.jt808,
    commandTimeoutMs: env.JT808_COMMAND_TIMEOUT_S * 1000,
    logger,
  });
  return {
    hooks: {
      onSession: (deviceId, connected) => relay.session(deviceId, connected),
      onCommandRecord: (record) => void relay.record(record),
    },
    wire(edge, { registry, compliance }) {
      const gateway = edge.jt808;
      if (gateway === undefined) return async () => undefined;
      // once across the edges: sent by the one holding the terminal, recorded by the others
      const once = new OncePerCommand({
        records,
        gateway: () => gateway,
        commandTimeoutMs: env.JT808_COMMAND_TIMEOUT_S * 1000,
        logger,
      });
      const generation = (source: string) =>
        source.startsWith('permit:')
          ? String(compliance.get('permit', source.slice('permit:'.length))?.version ?? '')
          : '';
      const triggers = wireJt808Triggers({
        commands: {
          send: (device, type, msgId, body, source) =>
            void once.send({ device, type, msgId, body, source, generation: generation(source) }),
        },
        registry,
        compliance,
        violationTexts: env.JT808_VIOLATION_TEXTS,
        logger,
      });
      const violations =
        Object.keys(env.JT808_VIOLATION_TEXTS).length === 0
          ? undefined
          : followStoredViolations(
              cluster,
              async (event) => {
                triggers.onViolation(event);
                await once.idle();
              },
              logger,
            );
      return async () => {
        await violations?.stop();
        triggers.stop();
        await once.idle();
      };
    },
    async stop() {
      await relay.stop();
    },
  };
}
