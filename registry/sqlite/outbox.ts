import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ReplicatedTable } from './state.ts';

/**
 * The outbox of the device registry's changes for a cluster (issue 16; cluster/registry-sync.ts drains
 * it): a row per record changed here and not yet in the registry stream, written by SQLite itself in
 * the transaction of the change, so a change is either not made at all or made and due to be published,
 * whatever kills the process in between (kill -9, power cut: synchronous=FULL).
 *
 * Why an outbox and not "publish first, then apply from the stream": the registry's writes are
 * synchronous and checked against the local copy (a device's binding, a vehicle's firm), and the API
 * answers from them; publishing first would make every write wait for NATS and its checks race with the
 * other nodes' changes in flight. The outbox keeps the write local and durable, and the stream's order
 * still decides between nodes (the consumer, cluster/registry-sync.ts, leaves a record alone while it
 * has a row here: this node's change of it will come later in the stream and win).
 *
 * Why triggers: every write path of the registry (fleet.ts, devices.ts, the JT/T 808 closings written
 * at the next turn) is covered, present and future, without one of them forgetting the outbox. They are
 * TEMP triggers, made on this connection only while a cluster node has the file open: the single
 * process writes no outbox. A write applied from the stream (applyRecord) runs with them off.
 *
 * One row per record: a record changed again before its publish gets a new row (a new seq) in place of
 * the old, so the outbox is bounded by the registry's size. `base` is the registry stream's sequence
 * this node had applied at the first change not yet published: a change of the same record that the
 * stream holds after it was made without knowing this one (a conflict, see registry-sync.ts). `seq`
 * never repeats (AUTOINCREMENT): with the file's uid it is the event's JetStream message id, so a
 * publish made again after a crash (published, not yet deleted here) is dropped by the stream's
 * duplicate window. The uid is made with the outbox: a DATA_DIR copied to seed a new node must be
 * copied before its node joined a cluster (or the copy's `registry_outbox_origin` row deleted).
 */

/**
 * the tables whose rows make up a replicated record, and the column naming the record. The triggers
 * insert the record's new row, then delete its older one (rather than INSERT OR REPLACE on a unique
 * key: an outer statement's conflict clause, the closings' INSERT OR IGNORE, would override it); the new
 * row keeps the older one's base (the change it carries was made on that one).
 */
const SOURCES: { table: string; key: string; record: ReplicatedTable }[] = [
  { table: 'firms', key: 'id', record: 'firm' },
  { table: 'vehicles', key: 'id', record: 'vehicle' },
  { table: 'officers', key: 'id', record: 'officer' },
  { table: 'devices', key: 'id', record: 'device' },
  { table: 'jt808_terminals', key: 'device', record: 'device' },
  { table: 'jt808_registrations', key: 'device', record: 'device' },
  { table: 'device_models', key: 'id', record: 'device_model' },
];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_outbox (
  seq  INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl  TEXT NOT NULL,
  id   TEXT NOT NULL,
  base INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_outbox_record ON registry_outbox (tbl, id);
CREATE TABLE IF NOT EXISTS registry_outbox_origin (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  uid TEXT NOT NULL
);
`;

export interface OutboxRow {
  seq: number;
  tbl: ReplicatedTable;
  id: string;
  base: number;
}

export class RegistryOutbox {
  /** this file's name in the stream's message ids (the same for every process sharing the file) */
  readonly uid: string;
  private off = 0;
  private readonly stmt;

  /**
   * `base`: the registry stream's sequence applied here now, -1 while unknown (the node has not read
   * the stream to its end yet: no conflict is then told from it)
   */
  constructor(
    private readonly db: Database.Database,
    public base: () => number,
  ) {
    db.exec(SCHEMA);
    db.prepare('INSERT OR IGNORE INTO registry_outbox_origin (one, uid) VALUES (1, ?)').run(randomUUID());
    this.uid = (db.prepare('SELECT uid FROM registry_outbox_origin').get() as { uid: string }).uid;
    db.function('citywatch_outbox_on', { deterministic: false }, () => (this.off === 0 ? 1 : 0));
    db.function('citywatch_outbox_base', { deterministic: false }, () => this.base());
    for (const { table, key, record } of SOURCES)
      for (const op of ['INSERT', 'UPDATE', 'DELETE'] as const) {
        const row = op === 'DELETE' ? 'OLD' : 'NEW';
        db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS outbox_${table}_${op.toLowerCase()}
          AFTER ${op} ON ${table} WHEN citywatch_outbox_on()
          BEGIN
            INSERT INTO registry_outbox (tbl, id, base)
              SELECT '${record}', ${row}.${key}, MIN(COALESCE(MIN(base), citywatch_outbox_base()), citywatch_outbox_base())
              FROM registry_outbox WHERE tbl = '${record}' AND id = ${row}.${key};
            DELETE FROM registry_outbox WHERE tbl = '${record}' AND id = ${row}.${key}
              AND seq < (SELECT MAX(seq) FROM registry_outbox WHERE tbl = '${record}' AND id = ${row}.${key});
          END`);
      }
    this.stmt = {
      add: db.prepare('INSERT INTO registry_outbox (tbl, id, base) VALUES (?, ?, ?)'),
      next: db.prepare('SELECT seq, tbl, id, base FROM registry_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      of: db.prepare(
        'SELECT seq, tbl, id, base FROM registry_outbox WHERE tbl = ? AND id = ? ORDER BY seq DESC LIMIT 1',
      ),
      done: db.prepare('DELETE FROM registry_outbox WHERE seq = ?'),
      size: db.prepare('SELECT COUNT(*) AS n FROM registry_outbox'),
    };
  }

  /** runs `fn` (a write carried from another node) without the triggers */
  without<T>(fn: () => T): T {
    this.off++;
    try {
      return fn();
    } finally {
      this.off--;
    }
  }

  /** records to publish that no write here put in the outbox (the stream never named them: a seed) */
  addAll(records: { tbl: ReplicatedTable; id: string }[], base: number): void {
    this.db.transaction(() => {
      for (const { tbl, id } of records) if (this.of(tbl, id) === undefined) this.stmt.add.run(tbl, id, base);
    })();
  }

  /** the rows after `afterSeq`, oldest first */
  next(afterSeq: number, limit: number): OutboxRow[] {
    return this.stmt.next.all(afterSeq, limit) as OutboxRow[];
  }

  /** the row of a record (a change of it made here and not yet in the stream), if any */
  of(tbl: ReplicatedTable, id: string): OutboxRow | undefined {
    return this.stmt.of.get(tbl, id) as OutboxRow | undefined;
  }

  /** the change is in the stream; false when the row was gone (or replaced by a later change) */
  done(seq: number): boolean {
    return this.stmt.done.run(seq).changes > 0;
  }

  /** done for many, in one transaction (one fsync: a seed publishes thousands) */
  doneAll(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.db.transaction(() => {
      for (const seq of seqs) this.stmt.done.run(seq);
    })();
  }

  get size(): number {
    return (this.stmt.size.get() as { n: number }).n;
  }
}
