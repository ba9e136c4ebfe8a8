/**
 * The registry carried between the cluster's nodes (issue 16): every change is an event on the
 * replicated stream CITYWATCH_REGISTRY (cluster/jetstream.ts), which every node (edge, worker, API node)
 * reads in stream order and applies to its own copy in DATA_DIR, so each node reads a local registry and
 * any node's API can write. The stream's order decides between nodes: every node ends with the same
 * registry whatever the order its own changes were made in.
 *  - the compliance registry (registry/compliance.ts: sites, routes, zones, permits, thresholds, plans,
 *    incidents) is versioned and append-only: an event is one version row, as written; applying it
 *    stores the row if the node lacks it (ComplianceRegistry.applyVersion). Two nodes that write the
 *    same entity at once both write its version N: the first N in the stream stands, on every node. The
 *    node whose N came later finds, reading the stream, another N before its own: it replaces its row
 *    with that one (its own kept in entity_versions_lost), counts it (`lost`) and logs it as an error
 *    naming the entity; the API had answered its caller already, so the log is where it is reported.
 *    Message id kind/id/version: the stream drops the later N within its duplicate window.
 *  - the device registry (registry/sqlite.ts: firms, vehicles, officers, devices with their secret's
 *    scrypt hash and JT/T 808 binding, device models) is not versioned: an event is the whole record
 *    after the change, or null for a deletion, and the last event of a record in the stream is its
 *    state on every node (SqliteRegistry.applyRecord). An event carries the stream sequence its writer
 *    had applied when it made the change (`ob.base`): when the record's event before it in the stream
 *    came from another writer after that, the two were made at once; the later one stands (counted in
 *    `conflicts` and logged by every node).
 *
 * A node writes locally first (the API answers as in the single process), then publishes
 * (cluster/registry-publisher.ts). Nothing a crash cuts off between the two is lost:
 *  - a device-registry change leaves a row in the file's outbox in the transaction of the change
 *    (registry/sqlite/outbox.ts, which says why an outbox rather than publishing first), deleted once
 *    the stream has it. While a record has a row, the node applies no event of it (its own change comes
 *    later in the stream and stands), except its own event of that very row, found at a restart when
 *    the crash fell after the publish: the row is then done;
 *  - a compliance version is a durable row already.
 * The events are applied in batches, one SQLite transaction per registry file each (applyBatch; how a
 * batch is cut: cluster/registry-batches.ts): a node filling an empty DATA_DIR makes one fsync per
 * batch, not one per event.
 * At start, once it has read the stream to its end, a node publishes every compliance version it holds
 * that the stream lacks and every device-registry record the stream never named (a seed written before
 * the node joined, a compliance version whose publish a crash cut off); the publisher starts then.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { EntityVersion } from '../registry/compliance.ts';
import {
  REPLICATED_TABLES,
  type RegistryOutbox,
  type ReplicatedRecord,
  type ReplicatedTable,
} from '../registry/sqlite.ts';
import { REGISTRY_STREAM } from './jetstream.ts';
import { DEFAULT_BATCH, EventBatches } from './registry-batches.ts';
import { type RegistryEvent, RegistryPublisher, versionKey } from './registry-publisher.ts';
import type { RegistrySyncOptions, RegistrySyncStats } from './registry-sync-types.ts';

export type { RegistryEvent } from './registry-publisher.ts';
export type { RegistrySyncOptions, RegistrySyncStats } from './registry-sync-types.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const recordKey = (table: string, id: string) => `r ${table} ${id}`;

export class RegistrySync {
  readonly stats: RegistrySyncStats = {
    applied: 0,
    published: 0,
    conflicts: 0,
    lost: 0,
    seq: 0,
    batches: 0,
    lastLatencyMs: 0,
    maxLatencyMs: 0,
  };
  /** resolves once the stream was read to the end it had at start (and what it lacked was queued) */
  readonly caughtUp: Promise<void>;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly log: Logger;
  /** the device registry's changes not yet in the stream (durable) */
  private readonly outbox: RegistryOutbox;
  private readonly publisher: RegistryPublisher;
  /** the compliance versions read in the stream so far: the first of a number stands */
  private readonly inStream = new Set<string>();
  /** each record's last event in the stream so far: its sequence and its writer (file uid or node) */
  private readonly lastEvent = new Map<string, { seq: number; writer: string }>();
  /** the stream has been read to the end it had at start */
  private readToEnd = false;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  private consumerStop: (() => void) | undefined;
  private readonly loops: Promise<void>[] = [];
  private markCaughtUp!: () => void;
  /** the batch being applied: how to undo its changes of the maps above, what to do once committed */
  private batch: { undo: (() => void)[]; after: (() => void)[] } | undefined;

  constructor(private readonly opts: RegistrySyncOptions) {
    this.js = opts.cluster.js;
    this.jsm = opts.cluster.jsm;
    this.log = opts.logger.child({ component: 'registry-sync' });
    // from here on every device-registry write of this process leaves its outbox row (an API node's
    // from its start: platform/registries.ts), made on the stream sequence applied once it is known
    this.outbox = opts.devices.outbox(() => (this.readToEnd ? this.stats.seq : -1));
    this.publisher = new RegistryPublisher({
      js: this.js,
      node: opts.node,
      devices: opts.devices,
      compliance: opts.compliance,
      outbox: this.outbox,
      log: this.log,
      timeoutMs: opts.publishTimeoutMs ?? 10_000,
      onPublished: () => this.stats.published++,
    });
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
        if (rec !== undefined) this.publisher.queueVersion(rec);
      }),
      // the outbox row is written already: wake the publisher
      devices.onRecordChange(() => this.publisher.poke()),
    );
    this.loops.push(this.consumeLoop(), this.publisher.run(this.caughtUp));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    this.consumerStop?.();
    this.publisher.stop();
    this.markCaughtUp();
    await Promise.allSettled(this.loops);
  }

  /** changes of this node waiting to be published */
  get pendingChanges(): number {
    return this.publisher.pendingChanges;
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
    const caughtUp = () => {
      if (this.readToEnd) return;
      this.readToEnd = true;
      this.offerMissing();
      this.log.info({ seq: this.stats.seq }, 'registry sync: caught up with the registry stream');
      this.markCaughtUp();
    };
    if (endAtStart === 0) caughtUp();
    while (!this.stopped) {
      let failed: Error | undefined;
      let stopMessages = () => {};
      // the events as delivered, applied a batch at a time; a batch that failed as a whole (its
      // transaction: disk full, I/O) ends this consumer, and the next reads again after the last applied
      const batches = new EventBatches<JsMsg>(
        this.opts.batch ?? DEFAULT_BATCH,
        () => !this.readToEnd,
        (msgs) => {
          if (failed !== undefined) return;
          try {
            this.applyBatch(msgs, endAtStart, caughtUp);
          } catch (err) {
            failed = err as Error;
            stopMessages();
          }
        },
      );
      try {
        // an ordered consumer from the next event: the server delivers in stream order, the client
        // recreates it at the right sequence after a gap or a lost node
        const consumer = await this.js.consumers.get(REGISTRY_STREAM, { opt_start_seq: this.stats.seq + 1 });
        const messages = await consumer.consume({ max_messages: 1024 });
        stopMessages = () => void messages.stop();
        this.consumerStop = stopMessages;
        if (this.stopped) void messages.stop();
        for await (const m of messages) {
          batches.push(m, messages.getPending() > 0);
          // the end it had at start: applied without waiting, the node is caught up
          if (!this.readToEnd && m.seq >= endAtStart) batches.flushNow();
        }
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'registry sync: reading the stream failed; again');
        await sleep(500);
      } finally {
        batches.discard();
      }
      if (failed !== undefined && !this.stopped) {
        this.log.error(
          { seq: this.stats.seq, err: failed.message },
          'registry sync: a batch of events could not be stored; read again from the last applied',
        );
        await sleep(500);
      }
    }
  }

  /**
   * Applies a batch of events, in stream order, in one transaction per registry file; the sequence
   * applied moves once both have committed. Nothing else records it: at every start the stream is read
   * from its first event (the first version of a number and each record's last event are decided on
   * the whole stream), and applying an event held already writes nothing, so a node killed in the middle
   * of a batch, or between the two files' commits, reads it again and ends the same.
   */
  private applyBatch(msgs: readonly JsMsg[], endAtStart: number, caughtUp: () => void): void {
    const fresh = msgs.filter((m) => m.seq > this.stats.seq);
    const last = fresh.at(-1);
    if (last === undefined) return;
    const batch = { undo: [] as (() => void)[], after: [] as (() => void)[] };
    const counted = { conflicts: this.stats.conflicts, lost: this.stats.lost };
    this.batch = batch;
    try {
      this.opts.compliance.batch(() =>
        this.opts.devices.applyBatch(() => {
          for (const m of fresh) {
            try {
              this.apply(m.json<RegistryEvent>(), m.seq);
            } catch (err) {
              batch.after.push(() =>
                this.log.error(
                  { seq: m.seq, err: (err as Error).message },
                  'registry sync: an event could not be read or applied; skipped',
                ),
              );
            }
          }
        }),
      );
    } catch (err) {
      for (const undo of batch.undo.reverse()) undo();
      Object.assign(this.stats, counted);
      throw err;
    } finally {
      this.batch = undefined;
    }
    this.stats.seq = last.seq;
    this.stats.batches++;
    for (const after of batch.after) {
      try {
        after();
      } catch (err) {
        this.log.error(
          { err: (err as Error).message },
          'registry sync: reacting to an applied change failed',
        );
      }
    }
    if (last.seq >= endAtStart) caughtUp();
  }

  /** once the batch has committed (at once outside one) */
  private afterCommit(fn: () => void): void {
    if (this.batch === undefined) fn();
    else this.batch.after.push(fn);
  }

  private apply(event: RegistryEvent, seq: number): void {
    const { change } = event;
    let applied: boolean;
    let what: Record<string, unknown>;
    if (change.t === 'compliance') {
      const v = change.version;
      what = { kind: v.kind, id: v.id, version: v.version };
      applied = this.applyVersion(v, event.origin, what);
    } else {
      what = { table: change.t, id: change.id, deleted: change.record === null };
      applied = this.applyRecord(change.t, change.id, change.record, event, seq, what);
    }
    if (!applied || event.origin === this.opts.node) return;
    this.afterCommit(() => {
      this.stats.applied++;
      const latencyMs = Math.max(0, Date.now() - event.at);
      this.stats.lastLatencyMs = latencyMs;
      this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, latencyMs);
      this.log.info({ ...what, seq, origin: event.origin, latencyMs }, 'registry change applied');
    });
  }

  /** a compliance version: the first of its number in the stream stands */
  private applyVersion(v: EntityVersion, origin: string, what: Record<string, unknown>): boolean {
    const key = versionKey(v.kind, v.id, v.version);
    const first = !this.inStream.has(key);
    if (first) {
      this.inStream.add(key);
      this.batch?.undo.push(() => this.inStream.delete(key));
    }
    const result = this.opts.compliance.applyVersion(v);
    if (result !== 'conflict') return result === 'applied';
    this.stats.conflicts++;
    if (!first) {
      this.afterCommit(() =>
        this.log.warn(
          { ...what, origin },
          'registry sync: two nodes wrote the same version at once; this later one is dropped, the first in the stream stands',
        ),
      );
      return false;
    }
    // the row held here was not in the stream before this one: written here, and it lost
    this.stats.lost++;
    this.afterCommit(() =>
      this.log.error(
        { ...what, winner: origin },
        "registry sync: a change made here lost to another node's version of the same number, first in the stream: replaced by it (the one made here is kept in entity_versions_lost)",
      ),
    );
    return this.opts.compliance.applyVersion(v, { replace: true }) === 'applied';
  }

  /** a device-registry record: the last event in the stream stands */
  private applyRecord(
    table: ReplicatedTable,
    id: string,
    record: ReplicatedRecord | null,
    event: RegistryEvent,
    seq: number,
    what: Record<string, unknown>,
  ): boolean {
    const key = recordKey(table, id);
    const writer = event.ob?.uid ?? event.origin;
    const last = this.lastEvent.get(key);
    this.lastEvent.set(key, { seq, writer });
    this.batch?.undo.push(() => {
      if (last === undefined) this.lastEvent.delete(key);
      else this.lastEvent.set(key, last);
    });
    const base = event.ob?.base ?? -1; // -1: made before its node knew the stream (not told)
    if (base >= 0 && last !== undefined && last.writer !== writer && last.seq > base) {
      // made without knowing the event before it: both made at once, this later one stands everywhere
      this.stats.conflicts++;
      if (last.writer === this.outbox.uid) this.stats.lost++;
      const overwritten = last;
      this.afterCommit(() =>
        this.log.warn(
          {
            ...what,
            seq,
            origin: event.origin,
            overwrites: overwritten.seq,
            lostHere: overwritten.writer === this.outbox.uid,
          },
          'registry sync: two nodes changed the same record at once; the later in the stream stands',
        ),
      );
    }
    const mine = this.outbox.of(table, id);
    if (mine !== undefined) {
      // a change made here is not in the stream yet: it will come after this event and stand
      if (event.ob?.uid !== this.outbox.uid || event.ob.seq !== mine.seq) return false;
      this.outbox.done(mine.seq); // it is: published before a crash that left the row
    }
    const before = this.opts.devices.exportRecord(table, id);
    const applied = this.opts.devices.applyRecord(table, id, record);
    const onApplied = this.opts.onRecordApplied;
    if (applied && onApplied !== undefined) this.afterCommit(() => onApplied(table, id, record, before));
    return applied;
  }

  /** after the first read to the end: what this node holds and the stream never named */
  private offerMissing(): void {
    let offered = 0;
    for (const rec of this.opts.compliance.allVersions()) {
      if (this.inStream.has(versionKey(rec.kind, rec.id, rec.version))) continue;
      this.publisher.queueVersion(rec);
      offered++;
    }
    const records: { tbl: ReplicatedTable; id: string }[] = [];
    for (const tbl of REPLICATED_TABLES)
      for (const id of this.opts.devices.recordIds(tbl))
        if (!this.lastEvent.has(recordKey(tbl, id))) records.push({ tbl, id });
    this.outbox.addAll(records, this.stats.seq);
    offered += records.length;
    if (offered > 0) this.log.info({ offered }, 'registry sync: offering what the stream lacks');
  }
}
