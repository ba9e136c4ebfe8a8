/**
 * JT/T 808 commands on a cluster edge (platform/cluster.ts): the relay that takes the API nodes' commands
 * to the terminals connected here and keeps their records in the cluster (cluster/jt808-relay.ts), and
 * what the platform sends on its own, as the single process does (platform/jt808.ts), to the terminals
 * connected to this edge:
 *  - a permit's route and sites when the permit becomes approved or active, or is changed while it is:
 *    every node applies every registry change (cluster/registry-sync.ts), so each edge pushes to the
 *    terminals it holds;
 *  - the text of JT808_VIOLATION_TEXTS when a violation opens: the workers publish every violation they
 *    store (cluster/live-feed.ts), and the edge holding the truck's terminal sends it. A partition a
 *    worker replays after a takeover publishes its events again: an edge sends a violation's text once.
 * A terminal connected nowhere gets none of these, and no `not_connected` record either (no edge holds
 * it to say so).
 */
import type { Logger } from 'pino';
import type { Edge } from '../cluster/edge.ts';
import type { ClusterConnection } from '../cluster/jetstream.ts';
import { openCommandRecords } from '../cluster/jt808-commands.ts';
import { EdgeCommandRelay } from '../cluster/jt808-relay.ts';
import { subscribeLiveViolations } from '../cluster/live-feed.ts';
import type { CommandRecord, Jt808Commands } from '../gateway/jt808/commands.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { Registry } from '../registry/types.ts';
import type { Config } from './config.ts';
import { wireJt808Triggers } from './jt808.ts';

/** violations whose text this edge sent, remembered so that a replayed partition sends none again */
const TEXTED_MAX = 10_000;

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
      // only to the terminals this edge holds: another edge sends to its own
      const held = {
        send: (...args: Parameters<Jt808Commands['send']>) =>
          gateway.sessionOf(args[0]) === undefined ? undefined : gateway.commands.send(...args),
      };
      const triggers = wireJt808Triggers({
        commands: held,
        registry,
        compliance,
        violationTexts: env.JT808_VIOLATION_TEXTS,
        logger,
      });
      const texted = new Set<string>();
      const violations =
        Object.keys(env.JT808_VIOLATION_TEXTS).length === 0
          ? undefined
          : subscribeLiveViolations(
              cluster,
              (event) => {
                if (event.phase !== 'opened' || texted.has(event.violation.id)) return;
                texted.add(event.violation.id);
                if (texted.size > TEXTED_MAX) texted.delete(texted.values().next().value as string);
                triggers.onViolation(event);
              },
              logger,
            );
      return async () => {
        violations?.stop();
        triggers.stop();
      };
    },
    async stop() {
      await relay.stop();
    },
  };
}
