/**
 * EventStore on InfluxDB (semantics: store/events-port.ts). Same database/bucket and connection options
 * as the fix store (InfluxOptions). Writes: line protocol with precision=ns through the 1.x `/write`
 * endpoint or the 2.x `/api/v2/write` endpoint (plain HTTP, no client-side buffering or retries: the
 * caller retries, every write is idempotent). Reads: InfluxQL over `/query` for both versions.
 *
 * Schema (tags are low-cardinality only; ids, which are unique per event, are always fields):
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
 *   trip             one point per trip id `${vehicle}:trip:${startTs}`; `completed` replaces `started`.
 *                    tags   firm, vehicle (`compliant` is a FIELD: it is only known at completion, and a
 *                           tag that changes would split one trip into two series, i.e. two points)
 *                    fields id, status ('started'|'completed'), startTs, endTs, durationMs,
 *                           violationCount (int), distanceKm, lat, lon (float: startPos), compliant (bool),
 *                           permit, originSite, disposalSite (string), body (canonical JSON TripRecord)
 *                    time   startTs (ms, exact)
 *   evidence         evidence packages, stored here too (not only in the embedded store) so that one
 *                    backend holds everything. A package can be megabytes while InfluxDB documents a
 *                    64 KB limit per string field, so canonicalJson(package) is cut into parts of at most
 *                    16,384 UTF-16 units (< 48 KiB of UTF-8, never inside a surrogate pair):
 *                    tags   code, firm, vehicle (those of the violation; its id is a field)
 *                    fields id, chunk (int), sha256, part; chunk 0 also carries chunks (int) and bytes
 *                    time   violation startTs ms + chunk ns
 *                    Chunk 0 is written last (its own request), and a read takes only the parts whose
 *                    sha256 equals chunk 0's, checks their count and verifies the package: a write cut
 *                    short reads as an error (never as a wrong package) until the caller's retry.
 *
 * Idempotency needs one read per batch: the history (violations) or the current record (trips) of the
 * batch's ids, looked up by vehicle, id and startTs range, so a replayed event is recognised (it changes
 * nothing) and a lower phase never overwrites a higher one. This assumes ONE writing process per
 * database (the platform: its pipeline and its API share this instance), as the fix store assumes one
 * spool. Inside that process, violation writes and status changes run one at a time (`exclusive`), so a
 * status change cannot slip between the read and the write of another.
 *
 * Known limits: like the fix store, a vehicle that changes firm in the middle of a trip or a violation
 * can leave two points (one per firm series); reads by id and unfiltered lists keep the higher-ranked one,
 * a list filtered by the old firm can still show the older state. Points written before the enforcement
 * status existed have no `enforcement` field: they read as `open`, but a `status=open` filter finds them
 * only once their next engine event (or status change) has written the field.
 */
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import type { Rejudged, Violation, ViolationEvent, ViolationPhase } from '../../geofence/types.ts';
import {
  type CursorKey,
  compareIds,
  compareKeys,
  decodeCursor,
  type EventStore,
  encodeCursor,
  lifecycleFilter,
  lifecycleOf,
  type Page,
  pageLimit,
  phaseRank,
  replacesLatest,
  replacesTrip,
  type TripQuery,
  type TripRecord,
  tripRank,
  tripRecordOf,
  type ViolationPhaseRecord,
  type ViolationQuery,
  type ViolationRecord,
  violationEventHash,
} from '../events-port.ts';
import type { StoreHealth } from '../port.ts';
import {
  checkViolationChange,
  UnknownViolationError,
  type ViolationStatus,
  type ViolationStatusChange,
  type ViolationStatusRequest,
} from '../violation-status.ts';
import { type InfluxOptions, InfluxStore } from './adapter.ts';
import { InfluxError, serverErrorText } from './http.ts';
import {
  type QueryTarget,
  quoteIdent,
  quoteString,
  runQuery,
  stringLiteralProblem,
  timeLiteral,
} from './influxql.ts';
import { type PointField, pointToLine } from './lineprotocol.ts';

export const VIOLATION_MEASUREMENT = 'violation';
export const VIOLATION_PHASE_MEASUREMENT = 'violation_phase';
export const VIOLATION_STATUS_MEASUREMENT = 'violation_status';
export const TRIP_MEASUREMENT = 'trip';
export const EVIDENCE_MEASUREMENT = 'evidence';
/** UTF-16 units per evidence part */
export const EVIDENCE_PART_UNITS = 16_384;

/** ids per InfluxQL lookup */
const IDS_PER_QUERY = 200;
/** (vehicle, code) groups per /query request of the idempotency read */
const GROUPS_PER_REQUEST = 10;
/** largest write request body (influxd's default max-body-size is 25 MB) */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const MAX_SEQ = 999_999;

const str = (value: string): PointField => ({ type: 'string', value });
const int = (value: number): PointField => ({ type: 'integer', value });
const float = (value: number): PointField => ({ type: 'float', value });
const bool = (value: boolean): PointField => ({ type: 'boolean', value });

/** Epoch ms (+ ns offset) as an InfluxDB ns timestamp. */
function ns(ms: number, offsetNs = 0): string {
  if (!Number.isSafeInteger(ms)) throw new InfluxError(`time must be integer epoch ms: ${ms}`);
  return (BigInt(ms) * 1_000_000n + BigInt(offsetNs)).toString();
}

/** `time` within the millisecond `ms` (all points of one violation, trip or package). */
function withinMs(ms: number): string {
  return `time >= ${ns(ms)} AND time <= ${ns(ms, 999_999)}`;
}

/** `${vehicle}:${code}:${startTs}` (geofence/rules/lifecycle.ts violationId) */
export function parseViolationId(id: string): { vehicle: string; code: string; startTs: number } | undefined {
  const m = /^(.*):([A-Z][A-Z0-9_]*):(-?\d+)$/s.exec(id);
  if (!m) return undefined;
  const startTs = Number(m[3]);
  return Number.isSafeInteger(startTs) ? { vehicle: m[1]!, code: m[2]!, startTs } : undefined;
}

/** `${vehicle}:trip:${startTs}` (geofence/trips.ts) */
export function parseTripId(id: string): { vehicle: string; startTs: number } | undefined {
  const m = /^(.*):trip:(-?\d+)$/s.exec(id);
  if (!m) return undefined;
  const startTs = Number(m[2]);
  return Number.isSafeInteger(startTs) ? { vehicle: m[1]!, startTs } : undefined;
}

/** Cuts text into parts of at most `units` UTF-16 units, never between the halves of a surrogate pair. */
export function splitText(text: string, units = EVIDENCE_PART_UNITS): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(i + units, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - i > 1 && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(i, end));
    i = end;
  }
  return parts.length ? parts : [''];
}

type Row = Record<string, unknown>;

function rowsOf(series: readonly { columns: string[]; values?: unknown[][] }[]): Row[] {
  const out: Row[] = [];
  for (const s of series) {
    for (const values of s.values ?? []) {
      const row: Row = {};
      s.columns.forEach((c, i) => {
        row[c] = values[i];
      });
      out.push(row);
    }
  }
  return out;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function idsCondition(ids: readonly string[]): string {
  return `(${ids.map((id) => `"id" = ${quoteString(id)}`).join(' OR ')})`;
}

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

/**
 * A firm or vehicle filter that no InfluxQL literal can hold (an id from before the registry's grammar,
 * with a newline) matches nothing: no point could carry it as a tag. Answer empty instead of failing.
 */
const idFiltersReadable = (q: { firm?: string; vehicle?: string }): boolean =>
  (q.firm === undefined || stringLiteralProblem(q.firm) === undefined) &&
  (q.vehicle === undefined || stringLiteralProblem(q.vehicle) === undefined);

export class InfluxEventStore implements EventStore {
  readonly name: 'influxdb-v1' | 'influxdb-v2';
  private readonly base: InfluxStore;
  private readonly target: QueryTarget;
  private readonly writeUrl: URL;
  private readonly writeHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxLinesPerRequest: number;
  private readonly rp: string | undefined;
  private closed = false;
  /** tail of the queue of exclusive sections (violation writes, status changes) */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: InfluxOptions) {
    // validates the url; open() and health() are the same, and so is the socket pool (its cap)
    this.base = new InfluxStore(options);
    const connection = this.base.connection;
    this.name = this.base.name;
    const url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxLinesPerRequest = options.maxLinesPerRequest ?? 5_000;
    let headers: Record<string, string> = {};
    if (options.version === 1) {
      if (options.username !== undefined || options.password !== undefined) {
        const basic = Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64');
        headers = { authorization: `Basic ${basic}` };
      }
      this.rp = options.retentionPolicy || undefined;
      this.writeUrl = new URL(`${url}/write`);
      this.writeUrl.searchParams.set('db', options.database);
      if (this.rp) this.writeUrl.searchParams.set('rp', this.rp);
      this.target = { url, database: options.database, headers, timeoutMs: this.timeoutMs, connection };
    } else {
      headers = { authorization: `Token ${options.token}` };
      this.writeUrl = new URL(`${url}/api/v2/write`);
      this.writeUrl.searchParams.set('org', options.org);
      this.writeUrl.searchParams.set('bucket', options.bucket);
      this.target = { url, database: options.bucket, headers, timeoutMs: this.timeoutMs, connection };
    }
    this.writeUrl.searchParams.set('precision', 'ns');
    this.writeHeaders = { ...headers, 'content-type': 'text/plain; charset=utf-8' };
  }

  /** 1.x: CREATE DATABASE (no-op when it exists). Reopens a closed store. */
  async open(): Promise<void> {
    await this.base.open();
    this.closed = false;
  }

  private assertOpen(): void {
    if (this.closed) throw new InfluxError(`${this.name} event store is closed`);
  }

  private from(measurement: string): string {
    return this.rp ? `${quoteIdent(this.rp)}.${quoteIdent(measurement)}` : quoteIdent(measurement);
  }

  private async select(sql: string): Promise<Row[]> {
    const [series = []] = await runQuery(this.target, sql);
    return rowsOf(series);
  }

  /** Runs fn after every earlier exclusive section has settled. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Sends lines in order, in requests of at most maxLinesPerRequest lines and MAX_REQUEST_BYTES. */
  private async write(lines: readonly string[]): Promise<void> {
    let batch: string[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const body = batch.join('\n');
      batch = [];
      bytes = 0;
      const res = await this.target.connection.request('InfluxDB write', this.writeUrl, {
        method: 'POST',
        headers: this.writeHeaders,
        body,
        timeoutMs: this.timeoutMs,
      });
      if (res.status < 200 || res.status >= 300) {
        throw new InfluxError(
          `InfluxDB write failed: HTTP ${res.status} ${serverErrorText(res.body)}`,
          res.status,
        );
      }
    };
    for (const line of lines) {
      const size = Buffer.byteLength(line, 'utf8') + 1;
      if (batch.length > 0 && (batch.length >= this.maxLinesPerRequest || bytes + size > MAX_REQUEST_BYTES))
        await flush();
      batch.push(line);
      bytes += size;
    }
    await flush();
  }

  // -------------------------------------------------------------------------------------------------
  // Violations

  async recordViolation(event: ViolationEvent): Promise<void> {
    await this.recordViolations([event]);
  }

  async recordViolations(events: readonly ViolationEvent[]): Promise<void> {
    this.assertOpen();
    if (events.length === 0) return;
    await this.exclusive(() => this.recordViolationsNow(events));
  }

  private async recordViolationsNow(events: readonly ViolationEvent[]): Promise<void> {
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
    await this.write([...latest, ...history]);
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
          `SELECT "id", "seq", "hash" FROM ${this.from(VIOLATION_PHASE_MEASUREMENT)} ${where}`,
          `SELECT "id", "enforcement", "phase", "seq" FROM ${this.from(VIOLATION_MEASUREMENT)} ${where}`,
        ]);
      const results = await runQuery(this.target, request.join('; '));
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

  async violations(query: ViolationQuery = {}): Promise<Page<ViolationRecord>> {
    this.assertOpen();
    if (!idFiltersReadable(query)) return { items: [] };
    const conds: string[] = [];
    if (query.firm !== undefined) conds.push(`"firm" = ${quoteString(query.firm)}`);
    if (query.vehicle !== undefined) conds.push(`"vehicle" = ${quoteString(query.vehicle)}`);
    if (query.code !== undefined) conds.push(`"code" = ${quoteString(query.code)}`);
    if (query.status !== undefined) conds.push(`"enforcement" = ${quoteString(query.status)}`);
    const lifecycle = lifecycleFilter(query.phase);
    if (lifecycle !== undefined && 'is' in lifecycle) conds.push(`"status" = ${quoteString(lifecycle.is)}`);
    else if (lifecycle !== undefined) conds.push(`"status" != ${quoteString(lifecycle.not)}`);
    return this.page<ViolationRecord>(
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
    const rows = await this.byId(
      VIOLATION_MEASUREMENT,
      id,
      parseViolationId(id),
      '"body", "seq", "phase", "enforcement", "firm"',
    );
    let best: Row | undefined;
    for (const row of rows) if (!best || Number(row.seq) > Number(best.seq)) best = row;
    return best;
  }

  async violation(id: string): Promise<ViolationRecord | undefined> {
    this.assertOpen();
    const row = await this.latestPoint(id);
    return row ? recordOf(row) : undefined;
  }

  async setViolationStatus(request: ViolationStatusRequest): Promise<ViolationRecord> {
    this.assertOpen();
    return this.exclusive(async () => {
      const row = await this.latestPoint(request.id);
      if (!row) throw new UnknownViolationError(request.id);
      const history = await this.violationStatusHistory(request.id);
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
      await this.write([
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

  async violationStatusHistory(id: string): Promise<ViolationStatusChange[]> {
    this.assertOpen();
    const rows = await this.byId(VIOLATION_STATUS_MEASUREMENT, id, parseViolationId(id), '"seq", "body"');
    const bySeq = new Map<number, ViolationStatusChange>();
    for (const row of rows) bySeq.set(Number(row.seq), JSON.parse(String(row.body)) as ViolationStatusChange);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async violationPhases(id: string): Promise<ViolationPhaseRecord[]> {
    this.assertOpen();
    const rows = await this.byId(
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

  /** Points of one id: by vehicle (+ code) and the startTs millisecond when the id parses, else a scan. */
  private byId(
    measurement: string,
    id: string,
    parsed: { vehicle: string; code?: string; startTs: number } | undefined,
    columns: string,
  ): Promise<Row[]> {
    const conds = [`"id" = ${quoteString(id)}`];
    if (parsed) {
      conds.push(`"vehicle" = ${quoteString(parsed.vehicle)}`, withinMs(parsed.startTs));
      if (parsed.code !== undefined) conds.push(`"code" = ${quoteString(parsed.code)}`);
    }
    return this.select(`SELECT ${columns} FROM ${this.from(measurement)} WHERE ${conds.join(' AND ')}`);
  }

  // -------------------------------------------------------------------------------------------------
  // Trips

  async recordTrip(event: TripEvent): Promise<void> {
    await this.recordTrips([event]);
  }

  async recordTrips(events: readonly TripEvent[]): Promise<void> {
    this.assertOpen();
    if (events.length === 0) return;
    const records = events.map(tripRecordOf);
    const current = new Map<string, { rank: number; body: string }>();
    const unique = [...new Map(records.map((r) => [r.id, r])).values()];
    for (const [vehicle, group] of groupBy(unique, (r) => r.vehicle)) {
      for (let i = 0; i < group.length; i += IDS_PER_QUERY) {
        const part = group.slice(i, i + IDS_PER_QUERY);
        const starts = part.map((r) => r.startTs);
        const rows = await this.select(
          `SELECT "id", "status", "body" FROM ${this.from(TRIP_MEASUREMENT)} WHERE "vehicle" = ${quoteString(
            vehicle,
          )} AND ${idsCondition(part.map((r) => r.id))} AND time >= ${ns(Math.min(...starts))} AND time <= ${ns(
            Math.max(...starts),
            999_999,
          )}`,
        );
        for (const row of rows) {
          const rank = tripRank(String(row.status) as TripRecord['status']);
          const prev = current.get(String(row.id));
          if (!prev || rank > prev.rank) current.set(String(row.id), { rank, body: String(row.body) });
        }
      }
    }
    const lines: string[] = [];
    events.forEach((event, i) => {
      const rec = records[i]!;
      const body = canonicalJson(rec);
      const prev = current.get(rec.id);
      if (prev && (prev.body === body || !replacesTrip(event, prev.rank))) return;
      current.set(rec.id, { rank: tripRank(rec.status), body });
      lines.push(this.tripLine(rec, body));
    });
    await this.write(lines);
  }

  private tripLine(rec: TripRecord, body: string): string {
    const fields: [string, PointField][] = [
      ['id', str(rec.id)],
      ['status', str(rec.status)],
      ['startTs', int(rec.startTs)],
      ['lat', float(rec.startPos[1])],
      ['lon', float(rec.startPos[0])],
      ['permit', str(rec.permit)],
      ['originSite', str(rec.originSite)],
    ];
    if (rec.status === 'completed') {
      fields.push(
        ['endTs', int(rec.endTs)],
        ['durationMs', int(rec.durationMs)],
        ['distanceKm', float(rec.distanceKm)],
        ['compliant', bool(rec.compliant)],
        ['violationCount', int(rec.violationCount)],
        ['disposalSite', str(rec.disposalSite)],
      );
    }
    fields.push(['body', str(body)]);
    return pointToLine(
      TRIP_MEASUREMENT,
      [
        ['firm', rec.firm],
        ['vehicle', rec.vehicle],
      ],
      fields,
      ns(rec.startTs),
    );
  }

  async trips(query: TripQuery = {}): Promise<Page<TripRecord>> {
    this.assertOpen();
    if (!idFiltersReadable(query)) return { items: [] };
    const conds: string[] = [];
    if (query.firm !== undefined) conds.push(`"firm" = ${quoteString(query.firm)}`);
    if (query.vehicle !== undefined) conds.push(`"vehicle" = ${quoteString(query.vehicle)}`);
    return this.page<TripRecord>(
      TRIP_MEASUREMENT,
      conds,
      query,
      (r) => tripRank(r.status),
      '"body"',
      (row) => JSON.parse(String(row.body)) as TripRecord,
    );
  }

  async trip(id: string): Promise<TripRecord | undefined> {
    this.assertOpen();
    const rows = await this.byId(TRIP_MEASUREMENT, id, parseTripId(id), '"body"');
    let best: TripRecord | undefined;
    for (const row of rows) {
      const rec = JSON.parse(String(row.body)) as TripRecord;
      if (!best || tripRank(rec.status) > tripRank(best.status)) best = rec;
    }
    return best;
  }

  // -------------------------------------------------------------------------------------------------
  // Pagination over (startTs, id); the points' time is startTs.

  private async page<T extends CursorKey>(
    measurement: string,
    conds: readonly string[],
    query: { from?: number; to?: number; limit?: number; cursor?: string },
    rankOf: (item: T) => number,
    columns: string,
    itemOf: (row: Row) => T,
  ): Promise<Page<T>> {
    const limit = pageLimit(query.limit);
    const base = [...conds];
    if (query.from !== undefined) base.push(`time >= ${timeLiteral(query.from, true)}`);
    if (query.to !== undefined) base.push(`time <= ${timeLiteral(query.to, false)}`);
    const fetch = async (extra: readonly string[], tail = ''): Promise<T[]> => {
      const where = [...base, ...extra];
      const rows = await this.select(
        `SELECT ${columns} FROM ${this.from(measurement)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time ASC${tail}`,
      );
      return rows.map(itemOf);
    };

    const collected: T[] = [];
    const rest: string[] = [];
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor);
      // the rest of the cursor's millisecond (every item with that startTs, complete), then later ones
      collected.push(...(await fetch([withinMs(c.startTs)])).filter((item) => compareIds(item.id, c.id) > 0));
      rest.push(`time > ${ns(c.startTs, 999_999)}`);
    }
    const n = limit + 1;
    let later = await fetch(rest, ` LIMIT ${n}`);
    const full = later.length >= n;
    if (full) {
      // LIMIT may have cut the group of the last startTs anywhere: fetch that group whole.
      const lastTs = later.at(-1)!.startTs;
      later = [...later.filter((item) => item.startTs !== lastTs), ...(await fetch([withinMs(lastTs)]))];
    }
    collected.push(...later);

    const best = new Map<string, T>();
    for (const item of collected) {
      const prev = best.get(item.id);
      if (!prev || rankOf(item) > rankOf(prev)) best.set(item.id, item);
    }
    const sorted = [...best.values()].sort(compareKeys);
    const items = sorted.slice(0, limit);
    const last = items.at(-1);
    const more = sorted.length > limit || full;
    return more && last
      ? { items, nextCursor: encodeCursor({ startTs: last.startTs, id: last.id }) }
      : { items };
  }

  // -------------------------------------------------------------------------------------------------
  // Evidence

  async putEvidence(pkg: EvidencePackage): Promise<void> {
    this.assertOpen();
    const v = pkg.violation;
    if (!verifyEvidence(pkg))
      throw new InfluxError(`evidence of ${JSON.stringify(v.id)} does not verify (sha256 mismatch)`, 400);
    const text = canonicalJson(pkg);
    const parts = splitText(text);
    if (parts.length > MAX_SEQ)
      throw new InfluxError(`evidence of ${JSON.stringify(v.id)} is too large`, 400);
    const tags: [string, string][] = [
      ['code', v.code],
      ['firm', v.firm],
      ['vehicle', v.vehicle],
    ];
    const line = (chunk: number): string => {
      const fields: [string, PointField][] = [
        ['id', str(v.id)],
        ['chunk', int(chunk)],
        ['sha256', str(pkg.sha256)],
      ];
      if (chunk === 0)
        fields.push(['chunks', int(parts.length)], ['bytes', int(Buffer.byteLength(text, 'utf8'))]);
      fields.push(['part', str(parts[chunk]!)]);
      return pointToLine(EVIDENCE_MEASUREMENT, tags, fields, ns(v.startTs, chunk));
    };
    const head = line(0); // encode everything before sending anything
    const others = parts.slice(1).map((_, i) => line(i + 1));
    await this.write(others);
    await this.write([head]);
  }

  async evidence(violationId: string): Promise<EvidencePackage | undefined> {
    this.assertOpen();
    const rows = await this.byId(
      EVIDENCE_MEASUREMENT,
      violationId,
      parseViolationId(violationId),
      '"chunk", "chunks", "sha256", "part"',
    );
    const head = rows.find((r) => Number(r.chunk) === 0 && typeof r.chunks === 'number');
    if (!head) return undefined;
    const sha = String(head.sha256);
    const chunks = Number(head.chunks);
    const parts = new Map<number, string>();
    for (const r of rows) {
      const chunk = Number(r.chunk);
      if (String(r.sha256) === sha && chunk < chunks) parts.set(chunk, String(r.part ?? ''));
    }
    const what = `evidence of ${JSON.stringify(violationId)}`;
    if (parts.size !== chunks)
      throw new InfluxError(`${what} is incomplete (${parts.size} of ${chunks} parts with sha256 ${sha})`);
    let text = '';
    for (let i = 0; i < chunks; i++) text += parts.get(i)!;
    const pkg = JSON.parse(text) as EvidencePackage;
    if (pkg.sha256 !== sha || !verifyEvidence(pkg)) throw new InfluxError(`${what} does not verify`);
    return pkg;
  }

  // -------------------------------------------------------------------------------------------------

  async health(): Promise<StoreHealth> {
    if (this.closed) return { ok: false, detail: 'store closed' };
    return this.base.health();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.base.close();
  }
}
