/**
 * The registry carried between the cluster's nodes (issue 16): every change is an event on the
 * replicated stream CITYWATCH_REGISTRY (cluster/jetstream.ts), which every node (edge, worker, API node)
 * reads in stream order and applies to its own copy in DATA_DIR, so each node reads a local registry and
 * any node's API can write.
 *  - the compliance registry (registry/compliance.ts: sites, routes, zones, permits, thresholds, plans,
 *    incidents) is versioned and append-only: an event is one version row, as written; applying it
 *    stores the row if the node lacks it (ComplianceRegistry.applyVersion), so every node ends with the
 *    same rows whatever the order they came in. Its message id is kind/id/version: the stream keeps the
 *    first publish of a version within the duplicate window.
 *  - the device registry (registry/sqlite.ts: firms, vehicles, officers, devices with their secret's
 *    scrypt hash and JT/T 808 binding, device models) is not versioned: an event is the whole record
 *    after the change, or null for a deletion, so the last event of a record in the stream is its state
 *    on every node (SqliteRegistry.applyRecord).
 *
 * A node writes locally first (the API answers as in the single process), then publishes the change;
 * its own events come back and change nothing. What a node holds that the stream lacks (a seed written
 * before it joined, a change whose publish a crash cut off) is published once it has read the stream to
 * its end at start: every compliance version it lacks there, and every device-registry record the
 * stream never named (one the stream names keeps the stream's state).
 *
 * Not resolved here, only detected: two nodes writing the same compliance entity within the time one
 * takes to reach the other (milliseconds) both store their own version N; each node keeps the one it
 * holds, the stream's first is what the nodes that wrote neither apply; `conflicts` counts them and the
 * log names them. The API's If-Version does not span nodes.
 *
 * Bounded: the publish queue holds keys, a device-registry record once however often it changes (its
 * state is read when published); past MAX_PENDING_VERSIONS compliance versions waiting (NATS out of
 * reach for long), the queue is dropped and every local version is offered again once NATS answers
 * (the stream and applyVersion make that idempotent).
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ComplianceRegistry, EntityVersion } from '../registry/compliance.ts';
import {
  REPLICATED_TABLES,
  type ReplicatedRecord,
  type ReplicatedTable,
  type SqliteRegistry,
} from '../registry/sqlite.ts';
import { type ClusterConnection, REGISTRY_STREAM, REGISTRY_SUBJECT_PREFIX } from './jetstream.ts';

/** one event of the registry stream (JSON) */
export interface RegistryEvent {
  /** the node that wrote the change (its name in the cluster) */
  origin: string;
  /** epoch ms when it was published: the appliers log how long it took to reach them */
  at: number;
  change:
    | { t: 'compliance'; version: EntityVersion }
    | { t: ReplicatedTable; id: string; record: ReplicatedRecord | null };
}

export interface RegistrySyncStats {
  /** events applied that changed this node's copy (others' changes) */
  applied: number;
  /** events published by this node */
  published: number;
  /** compliance versions two nodes wrote differently (see above) */
  conflicts: number;
  /** the stream sequence applied last */
  seq: number;
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
}

const MAX_PENDING_VERSIONS = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const versionKey = (kind: string, id: string, version: number) => `c ${kind} ${id} ${version}`;
const recordKey = (table: string, id: string) => `r ${table} ${id}`;

export class RegistrySync {
  readonly stats: RegistrySyncStats = {
    applied: 0,
    published: 0,
    conflicts: 0,
    seq: 0,
    lastLatencyMs: 0,
    maxLatencyMs: 0,
  };
  /** resolves once the stream was read to the end it had at start (and what it lacked was queued) */
  readonly caughtUp: Promise<void>;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly log: Logger;
  /** publish queue: keys in order (a Map keeps insertion order and holds a key once) */
  private readonly pending = new Map<string, EntityVersion | { table: ReplicatedTable; id: string }>();
  private pendingVersions = 0;
  private offerAll = false;
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  private consumerStop: (() => void) | undefined;
  private readonly loops: Promise<void>[] = [];
  private markCaughtUp!: () => void;

  constructor(private readonly opts: RegistrySyncOptions) {
    this.js = opts.cluster.js;
    this.jsm = opts.cluster.jsm;
    this.log = opts.logger.child({ component: 'registry-sync' });
    this.caughtUp = new Promise((resolve) => {
      this.markCaughtUp = resolve;
    });
  }

  start(): void {
    const { devices, compliance } = this.opts;
    this.unsubscribe.push(
      compliance.onChange((change) => {
        if (change.replicated) return;
        const rec = compliance.record(change.kind, change.id, change.version);
        if (rec !== undefined) this.queueVersion(rec);
      }),
      devices.onRecordChange((table, id) => this.queue(recordKey(table, id), { table, id })),
    );
    this.loops.push(this.consumeLoop(), this.publishLoop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    this.consumerStop?.();
    this.wake?.();
    this.markCaughtUp();
    await Promise.allSettled(this.loops);
  }

  /** changes of this node waiting to be published */
  get pendingChanges(): number {
    return this.pending.size;
  }

  private queueVersion(rec: EntityVersion): void {
    if (this.pendingVersions >= MAX_PENDING_VERSIONS) {
      // bounded: forget the queued versions, offer every local one once the stream answers again
      for (const [key, value] of this.pending) if ('kind' in value) this.pending.delete(key);
      this.pendingVersions = 0;
      if (!this.offerAll)
        this.log.error(
          { max: MAX_PENDING_VERSIONS },
          'registry sync: too many changes waiting for NATS; every local version will be offered again',
        );
      this.offerAll = true;
      return;
    }
    if (!this.pending.has(versionKey(rec.kind, rec.id, rec.version))) this.pendingVersions++;
    this.queue(versionKey(rec.kind, rec.id, rec.version), rec);
  }

  private queue(key: string, value: EntityVersion | { table: ReplicatedTable; id: string }): void {
    this.pending.set(key, value);
    this.wake?.();
  }

  // ---- reading the stream ----

  private async consumeLoop(): Promise<void> {
    let endAtStart = 0;
    for (;;) {
      try {
        endAtStart = (await this.jsm.streams.info(REGISTRY_STREAM)).state.last_seq;
        break;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'registry sync: stream not reachable yet');
        await sleep(500);
      }
    }
    // what the stream names, until it has been read to its end (then what it lacks is offered)
    let seen: { versions: Set<string>; records: Set<string> } | undefined = {
      versions: new Set(),
      records: new Set(),
    };
    const caughtUp = () => {
      if (seen === undefined) return;
      const named = seen;
      seen = undefined;
      this.offerMissing(named);
      this.log.info({ seq: this.stats.seq }, 'registry sync: caught up with the registry stream');
      this.markCaughtUp();
    };
    if (endAtStart === 0) caughtUp();
    while (!this.stopped) {
      try {
        // an ordered consumer from the next event: the server delivers in stream order, the client
        // recreates it at the right sequence after a gap or a lost node
        const consumer = await this.js.consumers.get(REGISTRY_STREAM, { opt_start_seq: this.stats.seq + 1 });
        const messages = await consumer.consume({ max_messages: 256 });
        this.consumerStop = () => void messages.stop();
        if (this.stopped) void messages.stop();
        for await (const m of messages) {
          let event: RegistryEvent | undefined;
          try {
            event = m.json<RegistryEvent>();
            this.apply(event, m.seq, seen);
          } catch (err) {
            this.log.error(
              { seq: m.seq, err: (err as Error).message },
              'registry sync: an event could not be read or applied; skipped',
            );
          }
          this.stats.seq = m.seq;
          if (m.seq >= endAtStart) caughtUp();
        }
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'registry sync: reading the stream failed; again');
        await sleep(500);
      }
    }
  }

  private apply(
    event: RegistryEvent,
    seq: number,
    seen: { versions: Set<string>; records: Set<string> } | undefined,
  ) {
    const { change } = event;
    const mine = event.origin === this.opts.node;
    let applied = false;
    let what: Record<string, unknown>;
    if (change.t === 'compliance') {
      const v = change.version;
      seen?.versions.add(versionKey(v.kind, v.id, v.version));
      what = { kind: v.kind, id: v.id, version: v.version };
      const result = this.opts.compliance.applyVersion(v);
      if (result === 'conflict') {
        this.stats.conflicts++;
        this.log.error(
          { ...what, origin: event.origin },
          'registry sync: this node holds another version of the same number (two nodes wrote it at once); kept its own',
        );
      }
      applied = result === 'applied';
    } else {
      seen?.records.add(recordKey(change.t, change.id));
      what = { table: change.t, id: change.id, deleted: change.record === null };
      const before = this.opts.devices.exportRecord(change.t, change.id);
      applied = this.opts.devices.applyRecord(change.t, change.id, change.record);
      if (applied) this.opts.onRecordApplied?.(change.t, change.id, change.record, before);
    }
    if (!applied || mine) return;
    this.stats.applied++;
    const latencyMs = Math.max(0, Date.now() - event.at);
    this.stats.lastLatencyMs = latencyMs;
    this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, latencyMs);
    this.log.info({ ...what, seq, origin: event.origin, latencyMs }, 'registry change applied');
  }

  /** after the first read to the end: what this node holds and the stream never named */
  private offerMissing(seen: { versions: Set<string>; records: Set<string> }): void {
    let offered = 0;
    for (const rec of this.opts.compliance.allVersions()) {
      if (seen.versions.has(versionKey(rec.kind, rec.id, rec.version))) continue;
      this.queueVersion(rec);
      offered++;
    }
    for (const table of REPLICATED_TABLES)
      for (const id of this.opts.devices.recordIds(table)) {
        if (seen.records.has(recordKey(table, id))) continue;
        this.queue(recordKey(table, id), { table, id });
        offered++;
      }
    if (offered > 0) this.log.info({ offered }, 'registry sync: offering what the stream lacks');
  }

  // ---- publishing this node's changes ----

  private async publishLoop(): Promise<void> {
    const timeout = this.opts.publishTimeoutMs ?? 10_000;
    let failures = 0;
    while (!this.stopped) {
      if (this.offerAll) {
        this.offerAll = false;
        for (const rec of this.opts.compliance.allVersions()) this.queueVersion(rec);
      }
      const first = this.pending.entries().next();
      if (first.done) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const [key, value] = first.value;
      const event: RegistryEvent =
        'kind' in value
          ? { origin: this.opts.node, at: Date.now(), change: { t: 'compliance', version: value } }
          : {
              origin: this.opts.node,
              at: Date.now(),
              // the record as it is now: a later change of it is carried by this one event
              change: {
                t: value.table,
                id: value.id,
                record: this.opts.devices.exportRecord(value.table, value.id),
              },
            };
      try {
        await this.js.publish(
          'kind' in value
            ? `${REGISTRY_SUBJECT_PREFIX}.compliance`
            : `${REGISTRY_SUBJECT_PREFIX}.record.${value.table}`,
          JSON.stringify(event),
          'kind' in value ? { msgID: `${value.kind}/${value.id}/${value.version}`, timeout } : { timeout },
        );
        // a record changed again while its event was on its way stays queued (published again)
        if (this.pending.get(key) === value) {
          this.pending.delete(key);
          if ('kind' in value) this.pendingVersions--;
        }
        this.stats.published++;
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        if (failures++ % 20 === 0)
          this.log.warn(
            { err: (err as Error).message, pending: this.pending.size },
            'registry sync: publish failed; retrying',
          );
        await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }
}
