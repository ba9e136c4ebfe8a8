import type Database from 'better-sqlite3';
import type { Fix } from '../core/fix.ts';
import type { Emitted, HistoryEntry, HistorySource } from '../geofence/backfill.ts';
import type { JudgeState } from '../geofence/judge.ts';
import type { Outage, PlatformGap } from '../geofence/platform-gaps.ts';
import { decodeHistoryFix, encodeHistoryFix } from './history-fix-codec.ts';

/**
 * The per-vehicle history late fixes are re-judged from (geofence/backfill.ts), in the engine state file
 * (DATA_DIR/compliance-state.sqlite) beside the states and the outbox, written in the same transaction:
 *
 *   history  (vehicle, ts) → the judged fix (compliance/history-fix-codec.ts), the judge's state after it
 *            at checkpoints, and
 *            `floor` = 1 on the oldest row when nothing before it can be re-judged (pruned past the
 *            backfill horizon, or the vehicle's state predates its history)
 *   emitted  (vehicle, after_ts, seq) → an event the judge emitted while `after_ts` was the vehicle's
 *            newest fix (`tick` 1 when a tick raised it); seq orders them
 *   outages  the platform's own outages (start_ts, end_ts: NULL while it lasts) and their cause
 *   platform_gaps  the silences they voided (geofence/platform-gaps.ts), one row per would-be violation
 *
 * Memory holds none of it: the service keeps the fixes of the current flush interval and writes them at
 * its next commit; a re-judging reads what it needs inside that commit's transaction (reads see the
 * transaction's own writes). Size on disk: one row per fix (~150 bytes of values) and a checkpoint
 * (~1 KB) per vehicle per 2 minutes of its time, kept for the backfill horizon (bench: bytes per
 * vehicle-hour).
 */

export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS history (
  vehicle TEXT NOT NULL,
  ts INTEGER NOT NULL,
  fix TEXT NOT NULL,
  checkpoint TEXT,
  floor INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS history_key ON history (vehicle, ts);
CREATE TABLE IF NOT EXISTS emitted (
  vehicle TEXT NOT NULL,
  after_ts INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  tick INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (vehicle, after_ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outages (
  start_ts INTEGER NOT NULL PRIMARY KEY,
  end_ts INTEGER,
  cause TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_gaps (
  id TEXT NOT NULL PRIMARY KEY,
  vehicle TEXT NOT NULL,
  firm TEXT NOT NULL,
  code TEXT NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  outage_start INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS platform_gaps_outage ON platform_gaps (outage_start, vehicle);
`;

/** The platform's own outage: stopped (not running, restarting) or behind (its intake lagging). */
export interface PlatformOutage extends Outage {
  cause: 'stopped' | 'behind';
}

/** What a commit writes into the history (and what a re-judging replaces). */
export interface HistoryWrite {
  vehicle: string;
  /** replace everything after this fix (undefined with `replaceAll`: the whole history of the vehicle) */
  replaceAfter?: number;
  replaceAll?: boolean;
  entries: readonly HistoryEntry[];
  emitted: readonly Emitted[];
  /** the first of `entries` is the oldest that can be re-judged from */
  floor?: boolean;
}

export class SqliteHistory implements HistorySource {
  private readonly st: ReturnType<typeof prepare>;
  private seq: number;

  constructor(readonly db: Database.Database) {
    this.st = prepare(db);
    this.seq = (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM emitted').get() as { n: number }).n;
  }

  /** vehicles that have a history (whose late fixes can be re-judged) */
  vehicles(): string[] {
    return (this.db.prepare('SELECT DISTINCT vehicle FROM history').all() as { vehicle: string }[]).map(
      (r) => r.vehicle,
    );
  }

  checkpointBefore(vehicle: string, ts: number): { ts: number; state: JudgeState } | 'none' | 'floor' {
    const row = this.st.checkpointBefore.get(vehicle, ts) as { ts: number; checkpoint: string } | undefined;
    if (row) return { ts: row.ts, state: JSON.parse(row.checkpoint) as JudgeState };
    return this.st.hasFloor.get(vehicle) ? 'floor' : 'none';
  }

  fixesAfter(vehicle: string, ts: number | undefined): Fix[] {
    const rows = this.st.fixesAfter.all(vehicle, ts ?? Number.MIN_SAFE_INTEGER) as {
      ts: number;
      fix: string;
    }[];
    return rows.map((r) => decodeHistoryFix(vehicle, r.ts, r.fix));
  }

  emittedAfter(vehicle: string, ts: number | undefined): Emitted[] {
    const from = ts ?? Number.MIN_SAFE_INTEGER;
    const rows = this.st.emittedAfter.all(vehicle, from, from) as {
      after_ts: number;
      tick: number;
      kind: string;
      body: string;
    }[];
    return rows.map(
      (r) =>
        ({ afterTs: r.after_ts, tick: r.tick === 1, kind: r.kind, event: JSON.parse(r.body) }) as Emitted,
    );
  }

  oldestCheckpoint(vehicle: string): number | undefined {
    const row = this.st.oldestCheckpoint.get(vehicle) as { ts: number | null };
    return row.ts ?? undefined;
  }

  /** Inside the caller's transaction. */
  write(w: HistoryWrite): void {
    const { st } = this;
    if (w.replaceAll) {
      st.deleteHistoryAll.run(w.vehicle);
      st.deleteEmittedAll.run(w.vehicle);
    } else if (w.replaceAfter !== undefined) {
      st.deleteHistoryAfter.run(w.vehicle, w.replaceAfter);
      st.deleteEmittedAfter.run(w.vehicle, w.replaceAfter, w.replaceAfter);
    }
    w.entries.forEach((e, i) => {
      st.upsertHistory.run(
        w.vehicle,
        e.fix.ts,
        encodeHistoryFix(e.fix),
        e.checkpoint !== undefined ? JSON.stringify(e.checkpoint) : null,
        w.floor && i === 0 ? 1 : 0,
      );
    });
    for (const e of w.emitted) {
      st.insertEmitted.run(w.vehicle, e.afterTs, ++this.seq, e.tick ? 1 : 0, e.kind, JSON.stringify(e.event));
    }
  }

  /**
   * Drops what is older than `cutoff` except the newest checkpoint at or before it, which becomes the
   * floor (re-judging starts there at the earliest). Inside the caller's transaction.
   */
  prune(vehicle: string, cutoff: number): void {
    const { st } = this;
    const row = st.newestCheckpointAtOrBefore.get(vehicle, cutoff) as { ts: number | null };
    if (row.ts === null) return;
    if ((st.countBefore.get(vehicle, row.ts) as { n: number }).n === 0) return;
    st.deleteHistoryBefore.run(vehicle, row.ts);
    st.deleteEmittedBefore.run(vehicle, row.ts);
    st.setFloor.run(vehicle, row.ts);
  }

  putOutage(o: PlatformOutage): void {
    this.st.upsertOutage.run(o.start, Number.isFinite(o.end) ? o.end : null, o.cause);
  }

  outages(since: number): PlatformOutage[] {
    const rows = this.st.outagesSince.all(since) as {
      start_ts: number;
      end_ts: number | null;
      cause: string;
    }[];
    return rows.map((r) => ({
      start: r.start_ts,
      end: r.end_ts ?? Number.POSITIVE_INFINITY,
      cause: r.cause as PlatformOutage['cause'],
    }));
  }

  putGap(g: PlatformGap): void {
    this.st.upsertGap.run(g.id, g.vehicle, g.firm, g.code, g.fromTs, g.toTs, g.outageStart);
  }

  /** a re-judging replaces the vehicle's gaps after the base (late fixes may have filled them) */
  deleteGapsAfter(vehicle: string, ts: number): void {
    this.st.deleteGapsAfter.run(vehicle, ts);
  }

  gapsOf(outageStart: number, limit: number): { gaps: PlatformGap[]; count: number } {
    const rows = this.st.gapsOf.all(outageStart, limit) as {
      id: string;
      vehicle: string;
      firm: string;
      code: string;
      from_ts: number;
      to_ts: number;
      outage_start: number;
    }[];
    const count = (this.st.countGaps.get(outageStart) as { n: number }).n;
    return {
      count,
      gaps: rows.map((r) => ({
        id: r.id,
        vehicle: r.vehicle,
        firm: r.firm,
        code: r.code as PlatformGap['code'],
        fromTs: r.from_ts,
        toTs: r.to_ts,
        outageStart: r.outage_start,
        outageEnd: Number.NaN,
      })),
    };
  }

  /** forget everything (the saved engine states were dropped: their checkpoints go with them) */
  clearJudgements(): void {
    this.db.exec('DELETE FROM history; DELETE FROM emitted;');
  }
}

function prepare(db: Database.Database) {
  return {
    checkpointBefore: db.prepare(
      'SELECT ts, checkpoint FROM history WHERE vehicle = ? AND ts < ? AND checkpoint IS NOT NULL ORDER BY ts DESC LIMIT 1',
    ),
    hasFloor: db.prepare('SELECT 1 FROM history WHERE vehicle = ? AND floor = 1 LIMIT 1'),
    fixesAfter: db.prepare('SELECT ts, fix FROM history WHERE vehicle = ? AND ts > ? ORDER BY ts'),
    emittedAfter: db.prepare(
      'SELECT after_ts, tick, kind, body FROM emitted WHERE vehicle = ? AND (after_ts > ? OR (after_ts = ? AND tick = 1)) ORDER BY after_ts, seq',
    ),
    oldestCheckpoint: db.prepare(
      'SELECT min(ts) AS ts FROM history WHERE vehicle = ? AND checkpoint IS NOT NULL',
    ),
    newestCheckpointAtOrBefore: db.prepare(
      'SELECT max(ts) AS ts FROM history WHERE vehicle = ? AND ts <= ? AND checkpoint IS NOT NULL',
    ),
    countBefore: db.prepare('SELECT count(*) AS n FROM history WHERE vehicle = ? AND ts < ?'),
    deleteHistoryAll: db.prepare('DELETE FROM history WHERE vehicle = ?'),
    deleteEmittedAll: db.prepare('DELETE FROM emitted WHERE vehicle = ?'),
    deleteHistoryAfter: db.prepare('DELETE FROM history WHERE vehicle = ? AND ts > ?'),
    deleteEmittedAfter: db.prepare(
      'DELETE FROM emitted WHERE vehicle = ? AND (after_ts > ? OR (after_ts = ? AND tick = 1))',
    ),
    deleteHistoryBefore: db.prepare('DELETE FROM history WHERE vehicle = ? AND ts < ?'),
    deleteEmittedBefore: db.prepare('DELETE FROM emitted WHERE vehicle = ? AND after_ts < ?'),
    setFloor: db.prepare('UPDATE history SET floor = 1 WHERE vehicle = ? AND ts = ?'),
    upsertHistory: db.prepare(
      `INSERT INTO history (vehicle, ts, fix, checkpoint, floor) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (vehicle, ts) DO UPDATE SET fix = excluded.fix, checkpoint = excluded.checkpoint,
         floor = max(history.floor, excluded.floor)`,
    ),
    insertEmitted: db.prepare(
      'INSERT INTO emitted (vehicle, after_ts, seq, tick, kind, body) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    upsertOutage: db.prepare(
      'INSERT INTO outages (start_ts, end_ts, cause) VALUES (?, ?, ?) ON CONFLICT (start_ts) DO UPDATE SET end_ts = excluded.end_ts, cause = excluded.cause',
    ),
    outagesSince: db.prepare(
      'SELECT start_ts, end_ts, cause FROM outages WHERE end_ts IS NULL OR end_ts >= ? ORDER BY start_ts',
    ),
    upsertGap: db.prepare(
      `INSERT INTO platform_gaps (id, vehicle, firm, code, from_ts, to_ts, outage_start) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET to_ts = excluded.to_ts, outage_start = excluded.outage_start`,
    ),
    deleteGapsAfter: db.prepare('DELETE FROM platform_gaps WHERE vehicle = ? AND from_ts >= ?'),
    gapsOf: db.prepare(
      'SELECT id, vehicle, firm, code, from_ts, to_ts, outage_start FROM platform_gaps WHERE outage_start = ? ORDER BY vehicle, from_ts LIMIT ?',
    ),
    countGaps: db.prepare('SELECT count(*) AS n FROM platform_gaps WHERE outage_start = ?'),
  };
}
