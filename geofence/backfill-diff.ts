import { canonicalJson } from './evidence.ts';
import type { JudgeState } from './judge.ts';
import type { Trip, TripEvent, TripStart } from './trips.ts';
import type { Rejudged, Violation, ViolationEvent } from './types.ts';

/**
 * What a re-judging changed (geofence/backfill.ts, "The difference"): per violation (trip) id, what
 * consumers were told after the checkpoint against what the new run says, as the events that take them
 * from one to the other; and what one flush need not publish at all (`withoutRetracted`).
 */

/** An event as the history records it: after which fix (`afterTs`) and whether a tick raised it. */
export type Emitted =
  | { afterTs: number; tick: boolean; kind: 'violation'; event: ViolationEvent }
  | { afterTs: number; tick: boolean; kind: 'trip'; event: TripEvent };

interface Known<E> {
  /** the first event of the window (or the ledger's) */
  first: E;
  last: E;
}

/** id → what consumers know (or would know) of it: the ledger at the base, then the window's events. */
function truth<E>(ledger: readonly E[], events: readonly E[], idOf: (e: E) => string): Map<string, Known<E>> {
  const out = new Map<string, Known<E>>();
  for (const e of ledger) out.set(idOf(e), { first: e, last: e });
  for (const e of events) {
    const id = idOf(e);
    const k = out.get(id);
    if (k === undefined) out.set(id, { first: e, last: e });
    else k.last = e;
  }
  return out;
}

const violationsOf = (emitted: readonly Emitted[]): ViolationEvent[] =>
  emitted.flatMap((e) => (e.kind === 'violation' ? [e.event] : []));
const tripsOf = (emitted: readonly Emitted[]): TripEvent[] =>
  emitted.flatMap((e) => (e.kind === 'trip' ? [e.event] : []));

const ongoing = (phase: ViolationEvent['phase']) => phase === 'opened' || phase === 'updated';

/** The verdict, for comparison: ongoing or closed, and the violation without the instant it was raised. */
function verdictOf(e: ViolationEvent): string {
  const { detectedTs: _d, ...v } = e.violation;
  return `${ongoing(e.phase) ? 'ongoing' : e.phase}\n${canonicalJson(v)}`;
}

function withoutEnd(v: Violation): Violation {
  const { endTs: _e, durationMs: _d, ...rest } = v;
  return rest;
}

function overlaps(a: Violation, b: Violation): boolean {
  const aEnd = a.endTs ?? Number.POSITIVE_INFINITY;
  const bEnd = b.endTs ?? Number.POSITIVE_INFINITY;
  return a.startTs <= bEnd && b.startTs <= aEnd;
}

export function diffViolations(
  base: JudgeState,
  oldEmitted: readonly Emitted[],
  newEmitted: readonly Emitted[],
  rejudged: Rejudged,
): ViolationEvent[] {
  const id = (e: ViolationEvent) => e.violation.id;
  const before = truth(base.open, violationsOf(oldEmitted), id);
  const after = truth(base.open, violationsOf(newEmitted), id);
  const stands = (k: Known<ViolationEvent> | undefined) => k !== undefined && k.last.phase !== 'withdrawn';
  const out: ViolationEvent[] = [];
  const arrived: Violation[] = [];
  for (const [vid, n] of after) if (stands(n) && !stands(before.get(vid))) arrived.push(n.last.violation);
  for (const [vid, o] of before) {
    if (!stands(o) || stands(after.get(vid))) continue;
    const old = o.last.violation;
    const successor = arrived.find((v) => v.code === old.code && overlaps(v, old));
    out.push({
      phase: 'withdrawn',
      violation: {
        ...old,
        withdrawal: {
          reason: rejudged.reason,
          lateTs: rejudged.lateTs,
          ...(successor ? { supersededBy: successor.id } : {}),
        },
      },
      rejudged,
    });
  }
  for (const [vid, n] of after) {
    if (!stands(n)) continue;
    const o = before.get(vid);
    const last = n.last;
    if (!stands(o)) {
      if (ongoing(last.phase)) {
        out.push({ phase: 'opened', violation: last.violation, rejudged });
      } else {
        const opening = n.first.phase === 'opened' ? n.first.violation : withoutEnd(last.violation);
        out.push({ phase: 'opened', violation: opening, rejudged }, { ...last, rejudged });
      }
    } else if (verdictOf(o!.last) !== verdictOf(last)) {
      out.push({
        phase: last.phase === 'opened' ? 'updated' : last.phase,
        violation: last.violation,
        rejudged,
      });
    }
  }
  return out;
}

function tripStartOf(trip: TripStart | Trip): TripStart {
  const { id, vehicle, firm, permit, originSite, originVersion, startTs, startPos, loadTrigger } = trip;
  return { id, vehicle, firm, permit, originSite, originVersion, startTs, startPos, loadTrigger };
}

export function diffTrips(
  base: JudgeState,
  oldEmitted: readonly Emitted[],
  newEmitted: readonly Emitted[],
  rejudged: Rejudged,
): TripEvent[] {
  const id = (e: TripEvent) => e.trip.id;
  const ledger = base.trip ? [base.trip] : [];
  const before = truth(ledger, tripsOf(oldEmitted), id);
  const after = truth(ledger, tripsOf(newEmitted), id);
  const stands = (k: Known<TripEvent> | undefined) => k !== undefined && k.last.kind !== 'withdrawn';
  const out: TripEvent[] = [];
  for (const [tid, o] of before) {
    if (!stands(o) || stands(after.get(tid))) continue;
    out.push({ kind: 'withdrawn', trip: o.last.trip, rejudged });
  }
  for (const [tid, n] of after) {
    if (!stands(n)) continue;
    const o = before.get(tid);
    const last = n.last;
    if (!stands(o)) {
      out.push({ kind: 'started', trip: tripStartOf(last.trip), rejudged });
      if (last.kind === 'completed') out.push({ ...last, rejudged });
    } else if (canonicalJson(o!.last) !== canonicalJson(last)) {
      out.push({ ...last, rejudged });
    }
  }
  return out;
}

/**
 * What one flush publishes, without what it would take back at once: every event of a violation (or
 * trip) whose first event here is `opened` (`started`) and whose last is `withdrawn`. Consumers never
 * knew of it and need not (a zero-length violation, or a verdict a batch in the same flush undid).
 */
export function withoutRetracted(
  violations: readonly ViolationEvent[],
  trips: readonly TripEvent[],
): { violations: ViolationEvent[]; trips: TripEvent[] } {
  const retracted = <E>(
    events: readonly E[],
    id: (e: E) => string,
    first: (e: E) => boolean,
    gone: (e: E) => boolean,
  ) => {
    const firstOf = new Map<string, E>();
    const lastOf = new Map<string, E>();
    for (const e of events) {
      if (!firstOf.has(id(e))) firstOf.set(id(e), e);
      lastOf.set(id(e), e);
    }
    const out = new Set<string>();
    for (const [key, e] of firstOf) if (first(e) && gone(lastOf.get(key)!)) out.add(key);
    return out;
  };
  const v = retracted(
    violations,
    (e) => e.violation.id,
    (e) => e.phase === 'opened',
    (e) => e.phase === 'withdrawn',
  );
  const t = retracted(
    trips,
    (e) => e.trip.id,
    (e) => e.kind === 'started',
    (e) => e.kind === 'withdrawn',
  );
  return {
    violations: v.size === 0 ? [...violations] : violations.filter((e) => !v.has(e.violation.id)),
    trips: t.size === 0 ? [...trips] : trips.filter((e) => !t.has(e.trip.id)),
  };
}
