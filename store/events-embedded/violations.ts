/**
 * The violations of the embedded event store (../events-embedded.ts): the latest state (`violations`),
 * the phase history (`violation_phases`) and the audited enforcement status (`violation_status_log`).
 * Tables: schema.ts.
 */
import type Database from 'better-sqlite3';
import { canonicalJson } from '../../geofence/evidence.ts';
import type { Rejudged, Violation, ViolationEvent, ViolationPhase } from '../../geofence/types.ts';
import {
  lifecycleFilter,
  lifecycleOf,
  type Page,
  phaseRank,
  replacesLatest,
  type ViolationPhaseRecord,
  type ViolationQuery,
  type ViolationRecord,
  violationEventHash,
} from '../events-port.ts';
import {
  checkViolationChange,
  UnknownViolationError,
  type ViolationStatus,
  type ViolationStatusChange,
  type ViolationStatusRequest,
} from '../violation-status.ts';
import { addFilter, type Filter, page } from './page.ts';

interface RecordRow {
  body: string;
  phase: string;
  status: string;
}

function recordOf(row: RecordRow): ViolationRecord {
  const v = JSON.parse(row.body) as Violation;
  return { ...v, phase: row.phase as ViolationPhase, status: row.status as ViolationStatus };
}

export interface ViolationRows {
  record: (events: readonly ViolationEvent[]) => void;
  list: (query: ViolationQuery) => Page<ViolationRecord>;
  get: (id: string) => ViolationRecord | undefined;
  setStatus: (request: ViolationStatusRequest) => ViolationRecord;
  statusHistory: (id: string) => ViolationStatusChange[];
  phases: (id: string) => ViolationPhaseRecord[];
}

export function prepareViolations(db: Database.Database): ViolationRows {
  const phaseByHash = db.prepare('SELECT seq FROM violation_phases WHERE id = ? AND hash = ?');
  const maxSeq = db.prepare('SELECT coalesce(max(seq), 0) AS n FROM violation_phases WHERE id = ?');
  const insertPhase = db.prepare(
    'INSERT INTO violation_phases (id, seq, phase, hash, body, rejudged) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const currentRank = db.prepare('SELECT rank FROM violations WHERE id = ?');
  const upsertViolation = db.prepare(
    `INSERT INTO violations (id, firm, vehicle, code, start_ts, end_ts, lifecycle, phase, rank, level, body)
     VALUES (@id, @firm, @vehicle, @code, @start_ts, @end_ts, @lifecycle, @phase, @rank, @level, @body)
     ON CONFLICT (id) DO UPDATE SET firm = excluded.firm, vehicle = excluded.vehicle, code = excluded.code,
       start_ts = excluded.start_ts, end_ts = excluded.end_ts, lifecycle = excluded.lifecycle,
       phase = excluded.phase, rank = excluded.rank, level = excluded.level, body = excluded.body`,
  );
  const violationRow = db.prepare('SELECT body, phase, status, status_seq FROM violations WHERE id = ?');
  const insertStatus = db.prepare(
    'INSERT INTO violation_status_log (id, seq, from_status, status, actor, at, note) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const updateStatus = db.prepare('UPDATE violations SET status = ?, status_seq = ? WHERE id = ?');
  const phasesOf = db.prepare(
    'SELECT seq, phase, body, rejudged FROM violation_phases WHERE id = ? ORDER BY seq',
  );
  const statusLog = db.prepare(
    'SELECT seq, from_status, status, actor, at, note FROM violation_status_log WHERE id = ? ORDER BY seq',
  );

  const recordOne = (event: ViolationEvent): void => {
    const v = event.violation;
    const hash = violationEventHash(event);
    if (phaseByHash.get(v.id, hash)) return; // a replay: already in the history
    const seq = (maxSeq.get(v.id) as { n: number }).n + 1;
    const body = canonicalJson(v);
    const rejudged = event.rejudged === undefined ? null : canonicalJson(event.rejudged);
    insertPhase.run(v.id, seq, event.phase, hash, body, rejudged);
    const rank = phaseRank(event.phase);
    const current = currentRank.get(v.id) as { rank: number } | undefined;
    // never reopen a closed violation, unless a re-judging says so (events-port.ts)
    if (!replacesLatest(event, current?.rank)) return;
    upsertViolation.run({
      id: v.id,
      firm: v.firm,
      vehicle: v.vehicle,
      code: v.code,
      start_ts: v.startTs,
      end_ts: v.endTs ?? null,
      lifecycle: lifecycleOf(event),
      phase: event.phase,
      rank,
      level: v.level,
      body,
    });
  };

  const setStatus = (request: ViolationStatusRequest): ViolationRecord => {
    const row = violationRow.get(request.id) as (RecordRow & { status_seq: number }) | undefined;
    if (!row) throw new UnknownViolationError(request.id);
    const change = checkViolationChange(request, {
      status: row.status as ViolationStatus,
      seq: row.status_seq,
    });
    insertStatus.run(
      request.id,
      change.seq,
      change.from,
      change.to,
      change.actor,
      change.at,
      change.note ?? null,
    );
    updateStatus.run(change.to, change.seq, request.id);
    return recordOf({ ...row, status: change.to });
  };

  return {
    record: db.transaction((events: readonly ViolationEvent[]) => {
      for (const e of events) recordOne(e);
    }),
    list(query) {
      const f: Filter = { where: [], args: [] };
      addFilter(f, 'firm', query.firm);
      addFilter(f, 'vehicle', query.vehicle);
      addFilter(f, 'code', query.code);
      addFilter(f, 'status', query.status);
      const lifecycle = lifecycleFilter(query.phase);
      if (lifecycle !== undefined && 'is' in lifecycle) addFilter(f, 'lifecycle', lifecycle.is);
      else if (lifecycle !== undefined) addFilter(f, 'lifecycle', lifecycle.not, '<>');
      return page(db, 'violations', f, query, 'body, phase, status', recordOf);
    },
    get(id) {
      const row = violationRow.get(id) as RecordRow | undefined;
      return row ? recordOf(row) : undefined;
    },
    // IMMEDIATE: the read of the current status and the write are one step for every connection.
    setStatus: db.transaction(setStatus).immediate as (request: ViolationStatusRequest) => ViolationRecord,
    statusHistory(id) {
      const rows = statusLog.all(id) as {
        seq: number;
        from_status: string;
        status: string;
        actor: string;
        at: number;
        note: string | null;
      }[];
      return rows.map((r) => {
        const change: ViolationStatusChange = {
          seq: r.seq,
          from: r.from_status as ViolationStatus,
          to: r.status as ViolationStatus,
          actor: r.actor,
          at: r.at,
        };
        if (r.note !== null) change.note = r.note;
        return change;
      });
    },
    phases(id) {
      const rows = phasesOf.all(id) as {
        seq: number;
        phase: string;
        body: string;
        rejudged: string | null;
      }[];
      return rows.map((r) => ({
        seq: r.seq,
        phase: r.phase as ViolationPhase,
        violation: JSON.parse(r.body) as Violation,
        ...(r.rejudged !== null ? { rejudged: JSON.parse(r.rejudged) as Rejudged } : {}),
      }));
    },
  };
}
