/**
 * The options and the counters of cluster/registry-sync.ts (RegistrySync), apart so that the readers of
 * the counters (cluster/registry-sync-metrics.ts) need not import the sync.
 */
import type { Logger } from 'pino';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { ReplicatedRecord, ReplicatedTable, SqliteRegistry } from '../registry/sqlite.ts';
import type { ClusterConnection } from './jetstream.ts';
import type { BatchOptions } from './registry-batches.ts';

export interface RegistrySyncStats {
  /** events applied that changed this node's copy (others' changes) */
  applied: number;
  /** events published by this node */
  published: number;
  /** changes made at once by two nodes to the same entity or record, as this node saw them resolved */
  conflicts: number;
  /** changes made here that lost such a conflict (replaced by the stream's) */
  lost: number;
  /** the stream sequence applied last */
  seq: number;
  /** transactions that applied events (a batch of events each, see cluster/registry-batches.ts) */
  batches: number;
  /** event published -> applied here, for others' events: the last and the largest */
  lastLatencyMs: number;
  maxLatencyMs: number;
}

export interface RegistrySyncOptions {
  cluster: Pick<ClusterConnection, 'js' | 'jsm'>;
  /** this node's name (in the events and the logs) */
  node: string;
  devices: SqliteRegistry;
  compliance: ComplianceRegistry;
  /** after a device-registry record from another node was applied (recompile; drop a device's sessions) */
  onRecordApplied?: (
    table: ReplicatedTable,
    id: string,
    record: ReplicatedRecord | null,
    before: ReplicatedRecord | null,
  ) => void;
  logger: Logger;
  /** how long a publish waits for the stream's acknowledgement */
  publishTimeoutMs?: number;
  /** how events are grouped into transactions (default DEFAULT_BATCH; `max: 1`: one event each) */
  batch?: BatchOptions;
}
