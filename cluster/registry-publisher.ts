/**
 * The publishing half of the registry between nodes (cluster/registry-sync.ts reads the stream): this
 * node's registry changes to the stream CITYWATCH_REGISTRY.
 *  - device-registry records from the file's outbox (registry/sqlite/outbox.ts), oldest row first, each
 *    with its record as it is when the row is taken (the row stands for every change of the record made
 *    before it) and the message id uid/seq; the row is deleted once the stream acknowledged it (the
 *    window's rows in one transaction: one fsync each took seconds for a seed), so a crash before that
 *    publishes it again at the restart (the stream drops the copy within its duplicate window; the
 *    reader, cluster/registry-sync.ts, finds it in the stream at the restart and deletes the row before
 *    this starts);
 *  - compliance versions from a queue in memory (the version rows are durable: what a crash drops
 *    from it, the reader offers again at the restart), message id kind/id/version; a version that lost
 *    to the stream's own of its number meanwhile (registry-sync.ts replaced it) is not published.
 * Up to PUBLISH_WINDOW publishes in flight at once, on one connection: the stream stores them in the
 * order sent (a seed of thousands of records, one round trip at a time, took seconds). A failed one is
 * sent again with the next window, after a back-off.
 *
 * Bounded: the outbox holds a record once however often it changes; past MAX_PENDING_VERSIONS versions
 * waiting (NATS out of reach for long) the queue is dropped and every local version is offered again
 * once NATS answers (the stream and applyVersion make that idempotent).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { sameContent } from '../registry/compliance/versions.ts';
import type { ComplianceRegistry, EntityVersion } from '../registry/compliance.ts';
import type {
  RegistryOutbox,
  ReplicatedRecord,
  ReplicatedTable,
  SqliteRegistry,
} from '../registry/sqlite.ts';
import { REGISTRY_SUBJECT_PREFIX } from './jetstream.ts';

/** one event of the registry stream (JSON) */
export interface RegistryEvent {
  /** the node that wrote the change (its name in the cluster) */
  origin: string;
  /** epoch ms when it was published: the appliers log how long it took to reach them */
  at: number;
  /**
   * a device-registry record's: the outbox row it empties (its writer's file and the row's seq) and the
   * stream sequence the writer had applied when it made the change
   */
  ob?: { uid: string; seq: number; base: number };
  change:
    | { t: 'compliance'; version: EntityVersion }
    | { t: ReplicatedTable; id: string; record: ReplicatedRecord | null };
}

export const versionKey = (kind: string, id: string, version: number) => `c ${kind} ${id} ${version}`;

const MAX_PENDING_VERSIONS = 10_000;
const PUBLISH_WINDOW = 256;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RegistryPublisherOptions {
  js: JetStreamClient;
  /** this node's name (in the events) */
  node: string;
  devices: SqliteRegistry;
  compliance: ComplianceRegistry;
  outbox: RegistryOutbox;
  log: Logger;
  /** how long a publish waits for the stream's acknowledgement */
  timeoutMs: number;
  /** counted once the stream acknowledged */
  onPublished: () => void;
}

export class RegistryPublisher {
  /** compliance versions to publish, in order (a Map keeps insertion order and holds a key once) */
  private readonly pending = new Map<string, EntityVersion>();
  private offerAll = false;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly o: RegistryPublisherOptions) {}

  /** changes waiting to be published */
  get pendingChanges(): number {
    return this.pending.size + this.o.outbox.size;
  }

  queueVersion(rec: EntityVersion): void {
    if (this.pending.size >= MAX_PENDING_VERSIONS) {
      // bounded: forget the queued versions, offer every local one once the stream answers again
      this.pending.clear();
      if (!this.offerAll)
        this.o.log.error(
          { max: MAX_PENDING_VERSIONS },
          'registry sync: too many changes waiting for NATS; every local version will be offered again',
        );
      this.offerAll = true;
      return;
    }
    this.pending.set(versionKey(rec.kind, rec.id, rec.version), rec);
    this.poke();
  }

  /** something to publish (an outbox row was written) */
  poke(): void {
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.poke();
  }

  /** publishes until stopped, from when `ready` resolves (the stream read to its end) */
  async run(ready: Promise<void>): Promise<void> {
    await ready;
    let failures = 0;
    while (!this.stopped) {
      if (this.offerAll) {
        this.offerAll = false;
        for (const rec of this.o.compliance.allVersions()) this.queueVersion(rec);
      }
      const versions = [...take(this.pending, PUBLISH_WINDOW)];
      const rows = this.o.outbox.next(0, PUBLISH_WINDOW);
      if (versions.length === 0 && rows.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      // each record is read in this turn, with its row: the event carries the state the row stands for
      const results = await Promise.allSettled([
        ...versions.map(([key, rec]) => this.publishVersion(key, rec)),
        ...rows.map((row) => this.publishRecord(row.seq, row.tbl, row.id, row.base)),
      ]);
      // the rows the stream has, deleted together (one fsync a window, not one a row)
      this.o.outbox.doneAll(
        rows.filter((_, i) => results[versions.length + i]!.status === 'fulfilled').map((row) => row.seq),
      );
      const failed = results.find((r) => r.status === 'rejected');
      if (failed === undefined) {
        failures = 0;
        continue;
      }
      if (this.stopped) return;
      if (failures++ % 20 === 0)
        this.o.log.warn(
          { err: (failed.reason as Error).message, pending: this.pendingChanges },
          'registry sync: publish failed; retrying',
        );
      await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
    }
  }

  private async publishVersion(key: string, rec: EntityVersion): Promise<void> {
    const held = this.o.compliance.record(rec.kind, rec.id, rec.version);
    if (held !== undefined && sameContent(held, rec)) {
      const event: RegistryEvent = {
        origin: this.o.node,
        at: Date.now(),
        change: { t: 'compliance', version: rec },
      };
      await this.o.js.publish(`${REGISTRY_SUBJECT_PREFIX}.compliance`, JSON.stringify(event), {
        msgID: `${rec.kind}/${rec.id}/${rec.version}`,
        timeout: this.o.timeoutMs,
      });
      this.o.onPublished();
    }
    if (this.pending.get(key) === rec) this.pending.delete(key);
  }

  private async publishRecord(seq: number, table: ReplicatedTable, id: string, base: number): Promise<void> {
    const { outbox } = this.o;
    const event: RegistryEvent = {
      origin: this.o.node,
      at: Date.now(),
      ob: { uid: outbox.uid, seq, base },
      change: { t: table, id, record: this.o.devices.exportRecord(table, id) },
    };
    await this.o.js.publish(`${REGISTRY_SUBJECT_PREFIX}.record.${table}`, JSON.stringify(event), {
      msgID: `${outbox.uid}/${seq}`,
      timeout: this.o.timeoutMs,
    });
    this.o.onPublished(); // the row is deleted with its window's
  }
}

/** the first `n` entries of a map, in order */
function* take<K, V>(map: Map<K, V>, n: number): Generator<[K, V]> {
  for (const entry of map) {
    if (n-- <= 0) return;
    yield entry;
  }
}
