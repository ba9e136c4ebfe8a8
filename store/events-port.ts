import { canonicalJson, type EvidencePackage, sha256Hex } from '../geofence/evidence.ts';
import type { ViolationCode } from '../geofence/model.ts';
import type { Trip, TripEvent, TripStart } from '../geofence/trips.ts';
import type { Rejudged, Violation, ViolationEvent, ViolationPhase } from '../geofence/types.ts';
import type { StoreHealth } from './port.ts';
import type { ViolationStatus, ViolationStatusChange, ViolationStatusRequest } from './violation-status.ts';

export type { ViolationStatus, ViolationStatusChange, ViolationStatusRequest } from './violation-status.ts';

/**
 * The storage port of the compliance engine's output: violations (latest state + phase history), trips
 * and evidence packages. Two adapters implement it (embedded SQLite in store/events-embedded.ts, InfluxDB
 * in store/influx/events.ts) and both pass test/store/events-contract/.
 *
 * Semantics shared by both adapters:
 *  - Two different things are called the state of a violation. Its `phase` is the engine's lifecycle
 *    (opened → updated → closed: is the behaviour still going on); its `status` is the enforcement
 *    workflow of store/violation-status.ts (open → acknowledged → disputed/confirmed → closed: what the
 *    city did about it). Engine events never change the status; status changes never touch the phase.
 *  - Violations. Every distinct event (same id, phase, content and `rejudged` = same event) is kept once
 *    in the phase history, in the order it was first recorded (`seq` 1, 2, ...). A replayed event
 *    changes nothing. The latest state of a violation is the last recorded event whose phase rank
 *    (withdrawn < opened < updated < closed) is at least the rank of the latest state before it: an
 *    `opened` or `updated` arriving after `closed` goes into the history but never reopens the
 *    violation. Two exceptions: an event of a re-judging (`rejudged` set: it corrects what was recorded,
 *    geofence/backfill.ts) always becomes the latest state, and a `withdrawn` violation is replaced by
 *    any later event (the same id may be opened again).
 *  - Withdrawn violations are kept (detail, history) but left out of lists unless asked for
 *    (`phase: 'withdrawn'` or `'any'`): they are not violations of the firm.
 *  - Trips. One record per trip id; `completed` replaces `started`, never the other way round.
 *  - Evidence. One package per violation id, the last one put wins; a package whose sha256 does not
 *    verify is refused. Read back byte-exact: `canonicalJson(evidence(id))` equals what was put.
 *  - Lists are ordered by (startTs, id) ascending; `from`/`to` bound startTs (inclusive, epoch ms);
 *    `cursor` is the opaque `nextCursor` of the previous page (the same query otherwise); a page has at
 *    most `limit` items (default 100, max 10,000); `nextCursor` is absent on the last page.
 *  - Status. A new violation is `open`. `setViolationStatus` reads the current status, applies the
 *    machine (ViolationTransitionError when not allowed, UnknownViolationError when no such violation)
 *    and records the change and its audit entry (seq, from, to, actor, at, note) as one atomic step.
 *    Not idempotent: a repeated request is a transition from the new status (usually refused).
 *  - Batches (`recordViolations`, `recordTrips`) are applied in order, as if recorded one by one.
 *  - Writes reject when the backend is unreachable; they are idempotent, so the caller retries the batch.
 */

/**
 * The engine lifecycle as a filter: ongoing (latest phase opened or updated, no endTs), closed,
 * withdrawn, or any. Without a filter lists leave withdrawn violations out.
 */
export const VIOLATION_PHASE_FILTERS = ['ongoing', 'closed', 'withdrawn', 'any'] as const;
export type ViolationPhaseFilter = (typeof VIOLATION_PHASE_FILTERS)[number];

export interface ViolationQuery {
  firm?: string;
  vehicle?: string;
  code?: ViolationCode;
  /** enforcement status */
  status?: ViolationStatus;
  /** engine lifecycle (default: all but withdrawn) */
  phase?: ViolationPhaseFilter;
  /** startTs >= from (epoch ms) */
  from?: number;
  /** startTs <= to (epoch ms) */
  to?: number;
  limit?: number;
  cursor?: string;
}

export interface TripQuery {
  firm?: string;
  vehicle?: string;
  /** startTs >= from (epoch ms) */
  from?: number;
  /** startTs <= to (epoch ms) */
  to?: number;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** A stored violation: the engine's latest state, its latest phase and its enforcement status. */
export interface ViolationRecord extends Violation {
  phase: ViolationPhase;
  status: ViolationStatus;
}

/** One entry of a violation's phase history. */
export interface ViolationPhaseRecord {
  /** 1, 2, ... in the order the events were first recorded */
  seq: number;
  phase: ViolationPhase;
  violation: Violation;
  /** set on the events of a re-judging */
  rejudged?: Rejudged;
}

/** A stored trip: the start while it is open, the whole trip once completed. */
export type TripRecord =
  | ({ status: 'started' } & TripStart)
  | ({ status: 'completed' } & Trip)
  | ({ status: 'withdrawn' } & (TripStart | Trip));

export interface EventStore {
  /** 'embedded' | 'influxdb-v1' | 'influxdb-v2' */
  readonly name: string;
  /** Create schema / database if needed. Safe to call more than once; reopens after close(). */
  open(): Promise<void>;

  recordViolation(event: ViolationEvent): Promise<void>;
  recordViolations(events: readonly ViolationEvent[]): Promise<void>;
  violations(query?: ViolationQuery): Promise<Page<ViolationRecord>>;
  /** latest state of one violation */
  violation(id: string): Promise<ViolationRecord | undefined>;
  /** phase history of one violation, oldest first ([] when unknown) */
  violationPhases(id: string): Promise<ViolationPhaseRecord[]>;
  /** changes the enforcement status (see above); resolves to the violation with its new status */
  setViolationStatus(request: ViolationStatusRequest): Promise<ViolationRecord>;
  /** the audited status changes of one violation, oldest first ([] when none or unknown) */
  violationStatusHistory(id: string): Promise<ViolationStatusChange[]>;

  recordTrip(event: TripEvent): Promise<void>;
  recordTrips(events: readonly TripEvent[]): Promise<void>;
  trips(query?: TripQuery): Promise<Page<TripRecord>>;
  trip(id: string): Promise<TripRecord | undefined>;

  putEvidence(pkg: EvidencePackage): Promise<void>;
  evidence(violationId: string): Promise<EvidencePackage | undefined>;

  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Helpers shared by the adapters

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 10_000;

/** withdrawn ranks below everything: the violation may be opened again (see the header) */
const PHASE_RANK: Readonly<Record<ViolationPhase, number>> = {
  withdrawn: -1,
  opened: 0,
  updated: 1,
  closed: 2,
};

export function phaseRank(phase: ViolationPhase): number {
  return PHASE_RANK[phase];
}

/** withdrawn below everything (a later event replaces it), then started, completed */
export function tripRank(status: TripRecord['status']): number {
  return status === 'completed' ? 1 : status === 'withdrawn' ? -1 : 0;
}

/**
 * Content identity of a violation event in the phase history: sha256 of canonicalJson({phase, violation})
 * (with `rejudged` when set: a violation withdrawn and opened again by later late fixes is a new event
 * even when its content is that of the first opening).
 */
export function violationEventHash(event: ViolationEvent): string {
  const { phase, violation, rejudged } = event;
  return sha256Hex(
    canonicalJson(rejudged === undefined ? { phase, violation } : { phase, violation, rejudged }),
  );
}

export type Lifecycle = 'open' | 'closed' | 'withdrawn';

/**
 * The engine lifecycle as the adapters index it: 'open' until the engine closes the violation (endTs set),
 * 'withdrawn' once withdrawn. The value names predate the enforcement status; they are kept so existing
 * files and points stay valid.
 */
export function lifecycleOf(event: ViolationEvent): Lifecycle {
  if (event.phase === 'withdrawn') return 'withdrawn';
  return event.violation.endTs === undefined ? 'open' : 'closed';
}

/** The lifecycle a phase filter selects: one value, or all but withdrawn (`not`), or everything. */
export function lifecycleFilter(
  phase: ViolationPhaseFilter | undefined,
): { is: Lifecycle } | { not: Lifecycle } | undefined {
  switch (phase) {
    case undefined:
      return { not: 'withdrawn' };
    case 'any':
      return undefined;
    case 'ongoing':
      return { is: 'open' };
    default:
      return { is: phase };
  }
}

/** Does a recorded event become the latest state over one of rank `current` (undefined: none yet)? */
export function replacesLatest(event: ViolationEvent, current: number | undefined): boolean {
  return current === undefined || event.rejudged !== undefined || phaseRank(event.phase) >= current;
}

/** The same for trips (`current`: the rank of the stored record; same body: nothing to do). */
export function replacesTrip(event: TripEvent, current: number | undefined): boolean {
  return (
    current === undefined || event.rejudged !== undefined || tripRank(tripRecordOf(event).status) >= current
  );
}

export function tripRecordOf(event: TripEvent): TripRecord {
  if (event.kind === 'completed') return { status: 'completed', ...event.trip };
  if (event.kind === 'withdrawn') return { status: 'withdrawn', ...event.trip };
  return { status: 'started', ...event.trip };
}

export class EventStoreQueryError extends Error {
  override name = 'EventStoreQueryError';
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isFinite(limit) || limit < 1) throw new EventStoreQueryError(`limit must be >= 1: ${limit}`);
  return Math.min(Math.floor(limit), MAX_PAGE_LIMIT);
}

export interface CursorKey {
  startTs: number;
  id: string;
}

/** Opaque cursor: base64url of `[startTs, id]` of the last item of the page. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.startTs, key.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string')
      return { startTs: v[0] as number, id: v[1] };
  } catch {
    // fall through
  }
  throw new EventStoreQueryError(`invalid cursor: ${JSON.stringify(cursor)}`);
}

/** Ids compare by code point (= UTF-8 byte order, SQLite's BINARY collation), not by UTF-16 unit. */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Order of every list: startTs, then id. */
export function compareKeys(a: CursorKey, b: CursorKey): number {
  if (a.startTs !== b.startTs) return a.startTs < b.startTs ? -1 : 1;
  return compareIds(a.id, b.id);
}
