/**
 * The violations of the InfluxDB event store (../events.ts): three measurements.
 *
 *   violation        the LATEST state, one point per violation. A violation id is
 *                    `${vehicle}:${code}:${startTs}`, so (series code+firm+vehicle, time = startTs) IS the
 *                    id: rewriting the point replaces the state in place.
 *                    tags   code, firm, vehicle
 *                    fields id, phase, status ('open'|'closed'|'withdrawn': the ENGINE lifecycle; the name
 *                           predates the enforcement status and is kept for existing points), level (int), seq (int,
 *                           history length when written), startTs (int), endTs (int), durationMs (int) (both
 *                           only once closed), lat, lon (float: startPos), permit ('' when none), route
 *                           (the first route the judgement names, '' when none: dashboards group by it), body
 *                           (canonical JSON of the Violation: what reads return), enforcement (the
 *                           enforcement status, store/violation-status.ts) and enforcementSeq (int)
 *                    time   startTs (ms, exact)
 *                    The engine's lines carry no enforcement fields, except the first line of a violation
 *                    (enforcement "open"); a status change rewrites only those two fields of the point
 *                    (InfluxDB merges the fields of a point written again with the same series and time),
 *                    so neither writer overwrites the other's fields.
 *   violation_status the audited status changes, one point per change.
 *                    tags   code, firm, vehicle
 *                    fields id, seq (int), status (the new one), body (canonical JSON of the change: from,
 *                           to, actor, at, note; JSON because a note may hold newlines, which line protocol
 *                           cannot carry)
 *                    time   startTs ms + seq ns
 *   violation_phase  the phase HISTORY, one point per distinct event.
 *                    tags   code, firm, phase, vehicle
 *                    fields id, seq (int), level (int), hash (events-port.ts violationEventHash),
 *                           body (canonical JSON of the Violation as of that event), rejudged (canonical
 *                           JSON, only on the events of a re-judging with late fixes)
 *                    time   startTs ms + seq ns: every event of a violation has its own point (several
 *                           `updated` events included), history order = time order, and no two
 *                           violations of one series collide (their startTs differ by >= 1 ms)
 *
 * Idempotency needs one read per batch: the history of the batch's ids, looked up by vehicle, code and
 * startTs range, so a replayed event is recognised (it changes nothing) and a lower phase never
 * overwrites a higher one. Inside the one writing process (../events.ts), violation writes and status
 * changes run one at a time (`exclusive`), so a status change cannot slip between the read and the write
 * of another.
 */
import { canonicalJson } from '../../../geofence/evidence.ts';
import type { Rejudged, Violation, ViolationEvent, ViolationPhase } from '../../../geofence/types.ts';
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
} from '../../events-port.ts';
import {
  checkViolationChange,
  UnknownViolationError,
  type ViolationStatus,
  type ViolationStatusChange,
  type ViolationStatusRequest,
} from '../../violation-status.ts';
import { InfluxError } from '../http.ts';
import { quoteString, runQuery } from '../influxql.ts';
import { type PointField, pointToLine } from '../lineprotocol.ts';
import {
  type EventPoints,
  float,
  groupBy,
  idFiltersReadable,
  int,
  MAX_SEQ,
  ns,
  parseViolationId,
  type Row,
  rowsOf,
  str,
} from './points.ts';

export const VIOLATION_MEASUREMENT = 'violation';
export const VIOLATION_PHASE_MEASUREMENT = 'violation_phase';
export const VIOLATION_STATUS_MEASUREMENT = 'violation_status';

/** (vehicle, code) groups per /query request of the idempotency read */
const GROUPS_PER_REQUEST = 10;

interface PhaseState {
  hashes: Set<string>;
  maxSeq: number;
  /** phase rank of the latest-state point (undefined: none yet) */
  rank: number | undefined;
  /** seq of that point */
  rankSeq: number;
  /** the latest-state point already has an enforcement status */
  hasStatus: boolean;
}

const newPhaseState = (): PhaseState => ({
  hashes: new Set(),
  maxSeq: 0,
  rank: undefined,
  rankSeq: -1,
  hasStatus: false,
});

function recordOf(row: Row): ViolationRecord {
  const v = JSON.parse(String(row.body)) as Violation;
  const status = typeof row.enforcement === 'string' ? row.enforcement : 'open';
  return { ...v, phase: String(row.phase) as ViolationPhase, status: status as ViolationStatus };
}

export class ViolationPoints {
  /** tail of the queue of exclusive sections (violation writes, status changes) */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly points: EventPoints) {}

  /** Runs fn after every earlier exclusive section has settled. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async record(events: readonly ViolationEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.exclusive(() => this.recordNow(events));
  }

  private async recordNow(events: readonly ViolationEvent[]): Promise<void> {
    const state = await this.phaseStates(events.map((e) => e.violation));
    const latest: string[] = [];
    const history: string[] = [];
    for (const event of events) {
      const v = event.violation;
      const hash = violationEventHash(event);
      let s = state.get(v.id);
      if (!s) {
        s = newPhaseState();
        state.set(v.id, s);
      }
      if (s.hashes.has(hash)) continue; // a replay
      const seq = s.maxSeq + 1;
      if (seq > MAX_SEQ) throw new InfluxError(`violation ${JSON.stringify(v.id)} has too many phases`);
      const body = canonicalJson(v);
      history.push(this.phaseLine(event, seq, hash, body));
      if (replacesLatest(event, s.rank)) {
        latest.push(this.violationLine(event, seq, body, !s.hasStatus));
        s.rank = phaseRank(event.phase);
        s.rankSeq = seq;
      }
      s.hasStatus = true;
      s.hashes.add(hash);
      s.maxSeq = seq;
    }
    // Latest states first: if the write is cut short, the events missing from the history are recorded
    // again on the retry, which also rewrites their latest state.
    await this.points.write([...latest, ...history]);
  }

  private violationLine(event: ViolationEvent, seq: number, body: string, withStatus: boolean): string {
    const v = event.violation;
    const fields: [string, PointField][] = [
      ['id', str(v.id)],
      ['phase', str(event.phase)],
      ['status', str(lifecycleOf(event))],
      ['level', int(v.level)],
      ['seq', int(seq)],
      ['startTs', int(v.startTs)],
    ];
    if (v.endTs !== undefined) fields.push(['endTs', int(v.endTs)]);
    if (v.durationMs !== undefined) fields.push(['durationMs', int(v.durationMs)]);
    fields.push(
      ['lat', float(v.startPos[1])],
      ['lon', float(v.startPos[0])],
      ['permit', str(v.permit ?? '')],
      ['route', str(v.refs.find((r) => r.kind === 'route')?.id ?? '')],
      ['body', str(body)],
    );
    if (withStatus) fields.push(['enforcement', str('open')], ['enforcementSeq', int(0)]);
    return pointToLine(
      VIOLATION_MEASUREMENT,
      [
        ['code', v.code],
        ['firm', v.firm],
        ['vehicle', v.vehicle],
      ],
      fields,
      ns(v.startTs),
    );
  }

  private phaseLine(event: ViolationEvent, seq: number, hash: string, body: string): string {
    const v = event.violation;
    return pointToLine(
      VIOLATION_PHASE_MEASUREMENT,
      [
        ['code', v.code],
        ['firm', v.firm],
        ['phase', event.phase],
        ['vehicle', v.vehicle],
      ],
      [
        ['id', str(v.id)],
        ['seq', int(seq)],
        ['level', int(v.level)],
        ['hash', str(hash)],
        ['body', str(body)],
        ...(event.rejudged !== undefined
          ? ([['rejudged', str(canonicalJson(event.rejudged))]] as [string, PointField][])
          : []),
      ],
      ns(v.startTs, seq),
    );
  }

  /**
   * The recorded history of these violations (hashes, highest seq and highest phase rank per id) and
   * whether their latest-state point has an enforcement status yet: two statements, one request.
   */
  private async phaseStates(violations: readonly Violation[]): Promise<Map<string, PhaseState>> {
    const out = new Map<string, PhaseState>();
    const of = (id: string): PhaseState => {
      let s = out.get(id);
      if (!s) {
        s = newPhaseState();
        out.set(id, s);
      }
      return s;
    };
    const unique = [...new Map(violations.map((v) => [v.id, v])).values()];
    const wanted = new Set(unique.map((v) => v.id));
    // By series (vehicle, code) and the time range of the ids, without an `"id" = .. OR ..` filter: the
    // points of one series in that range are few, and InfluxDB 1.x evaluates a field OR per point at a
    // cost that grows with the ids (38 of them: ~1 s per statement on a loaded machine); the ids are
    // picked out here instead.
    const wheres: string[] = [];
    for (const [, group] of groupBy(unique, (v) => `${v.vehicle}\u0000${v.code}`)) {
      const first = group[0]!;
      const starts = group.map((v) => v.startTs);
      wheres.push(
        `WHERE "vehicle" = ${quoteString(first.vehicle)} AND "code" = ${quoteString(first.code)} AND time >= ${ns(
          Math.min(...starts),
        )} AND time <= ${ns(Math.max(...starts), 999_999)}`,
      );
    }
    // Two statements per (vehicle, code) group, a few groups per request: a batch spread over hundreds
    // of vehicles costs tens of round trips, not one per vehicle, and each request stays well inside
    // the timeout on a slow server (issue 10: event writes of a storm timed out with 13,586 events
    // queued).
    for (let i = 0; i < wheres.length; i += GROUPS_PER_REQUEST) {
      const request = wheres
        .slice(i, i + GROUPS_PER_REQUEST)
        .flatMap((where) => [
          `SELECT "id", "seq", "hash" FROM ${this.points.from(VIOLATION_PHASE_MEASUREMENT)} ${where}`,
          `SELECT "id", "enforcement", "phase", "seq" FROM ${this.points.from(VIOLATION_MEASUREMENT)} ${where}`,
        ]);
      const results = await runQuery(this.points.target, request);
      for (let r = 0; r < results.length; r += 2) {
        for (const row of rowsOf(results[r] ?? [])) {
          if (!wanted.has(String(row.id))) continue;
          const s = of(String(row.id));
          s.hashes.add(String(row.hash));
          s.maxSeq = Math.max(s.maxSeq, Number(row.seq));
        }
        for (const row of rowsOf(results[r + 1] ?? [])) {
          if (!wanted.has(String(row.id))) continue;
          const s = of(String(row.id));
          if (typeof row.enforcement === 'string') s.hasStatus = true;
          // the latest state's rank (the point with the highest seq when a firm change left two)
          if (typeof row.phase === 'string' && Number(row.seq) > s.rankSeq) {
            s.rank = phaseRank(row.phase as ViolationPhase);
            s.rankSeq = Number(row.seq);
          }
        }
      }
    }
    return out;
  }

  async list(query: ViolationQuery): Promise<Page<ViolationRecord>> {
    if (!idFiltersReadable(query)) return { items: [] };
    const conds: string[] = [];
    if (query.firm !== undefined) conds.push(`"firm" = ${quoteString(query.firm)}`);
    if (query.vehicle !== undefined) conds.push(`"vehicle" = ${quoteString(query.vehicle)}`);
    if (query.code !== undefined) conds.push(`"code" = ${quoteString(query.code)}`);
    if (query.status !== undefined) conds.push(`"enforcement" = ${quoteString(query.status)}`);
    const lifecycle = lifecycleFilter(query.phase);
    if (lifecycle !== undefined && 'is' in lifecycle) conds.push(`"status" = ${quoteString(lifecycle.is)}`);
    else if (lifecycle !== undefined) conds.push(`"status" != ${quoteString(lifecycle.not)}`);
    return this.points.page<ViolationRecord>(
      VIOLATION_MEASUREMENT,
      conds,
      query,
      (v) => (v.endTs === undefined ? 0 : 1),
      '"body", "phase", "enforcement"',
      recordOf,
    );
  }

  /** The latest-state point of a violation (the highest seq when a firm change left two), with its firm. */
  private async latestPoint(id: string): Promise<Row | undefined> {
    const rows = await this.points.byId(
      VIOLATION_MEASUREMENT,
      id,
      parseViolationId(id),
      '"body", "seq", "phase", "enforcement", "firm"',
    );
    let best: Row | undefined;
    for (const row of rows) if (!best || Number(row.seq) > Number(best.seq)) best = row;
    return best;
  }

  async get(id: string): Promise<ViolationRecord | undefined> {
    const row = await this.latestPoint(id);
    return row ? recordOf(row) : undefined;
  }

  setStatus(request: ViolationStatusRequest): Promise<ViolationRecord> {
    return this.exclusive(async () => {
      const row = await this.latestPoint(request.id);
      if (!row) throw new UnknownViolationError(request.id);
      const history = await this.statusHistory(request.id);
      const last = history.at(-1);
      const change = checkViolationChange(request, {
        status: last?.to ?? 'open',
        seq: last?.seq ?? 0,
      });
      if (change.seq > MAX_SEQ)
        throw new InfluxError(`violation ${JSON.stringify(request.id)} has too many changes`);
      const record = recordOf({ ...row, enforcement: change.to });
      const tags: [string, string][] = [
        ['code', record.code],
        ['firm', String(row.firm)],
        ['vehicle', record.vehicle],
      ];
      // One request: the audit entry and the status on the point (only those fields: they merge into it).
      await this.points.write([
        pointToLine(
          VIOLATION_STATUS_MEASUREMENT,
          tags,
          [
            ['id', str(request.id)],
            ['seq', int(change.seq)],
            ['status', str(change.to)],
            ['body', str(canonicalJson(change))],
          ],
          ns(record.startTs, change.seq),
        ),
        pointToLine(
          VIOLATION_MEASUREMENT,
          tags,
          [
            ['enforcement', str(change.to)],
            ['enforcementSeq', int(change.seq)],
          ],
          ns(record.startTs),
        ),
      ]);
      return record;
    });
  }

  async statusHistory(id: string): Promise<ViolationStatusChange[]> {
    const rows = await this.points.byId(
      VIOLATION_STATUS_MEASUREMENT,
      id,
      parseViolationId(id),
      '"seq", "body"',
    );
    const bySeq = new Map<number, ViolationStatusChange>();
    for (const row of rows) bySeq.set(Number(row.seq), JSON.parse(String(row.body)) as ViolationStatusChange);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async phases(id: string): Promise<ViolationPhaseRecord[]> {
    const rows = await this.points.byId(
      VIOLATION_PHASE_MEASUREMENT,
      id,
      parseViolationId(id),
      '"seq", "phase", "body", "rejudged"',
    );
    const bySeq = new Map<number, ViolationPhaseRecord>();
    for (const row of rows) {
      const seq = Number(row.seq);
      bySeq.set(seq, {
        seq,
        phase: String(row.phase) as ViolationPhase,
        violation: JSON.parse(String(row.body)) as Violation,
        ...(typeof row.rejudged === 'string' ? { rejudged: JSON.parse(row.rejudged) as Rejudged } : {}),
      });
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
}
