/**
 * The fixtures of the EventStore contract (test/store/events-contract/*.test.ts): violations and their
 * lifecycles, trips, evidence packages (the evidence world of test/support/evidence-world.ts, with quotes
 * and backslashes in the names) and a pager over a listing.
 */
import { compileWorld } from '../../../geofence/compile.ts';
import { buildEvidence, type EvidencePackage } from '../../../geofence/evidence.ts';
import type { ViolationCode } from '../../../geofence/model.ts';
import type { Trip, TripStart } from '../../../geofence/trips.ts';
import type { Violation, ViolationEvent, ViolationPhase } from '../../../geofence/types.ts';
import type { ViolationRecord, ViolationStatus } from '../../../store/events-port.ts';
import { evidenceSnapshot, offRoute, T0, trackFix } from '../evidence-world.ts';

// ---------------------------------------------------------------------------------------------------
// Fixtures

export type VBase = { vehicle: string; code: ViolationCode; startTs: number } & Partial<Violation>;

export function violation(b: VBase): Violation {
  return {
    id: `${b.vehicle}:${b.code}:${b.startTs}`,
    firm: 'firm-a',
    permit: 'permit-1',
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.807],
    refs: [
      { kind: 'thresholds', id: 'city', version: 5 },
      { kind: 'permit', id: 'permit-1', version: 1 },
    ],
    thresholds: { offRouteMinMs: 60_000 },
    ruleVersion: 1,
    details: {},
    ...b,
  };
}

/** opened, updated (escalated), closed: what a rule emits for one violation */
export function lifecycle(b: VBase, durationMs = 100_000): [ViolationEvent, ViolationEvent, ViolationEvent] {
  const opened = violation(b);
  const updated: Violation = {
    ...opened,
    level: 1,
    lastPos: [117.23, 31.808],
    details: { maxDeviationM: 180.5, note: '偏离 "路线" \\ 1' },
  };
  const closed: Violation = {
    ...updated,
    endTs: b.startTs + durationMs,
    durationMs,
    lastPos: [117.24, 31.809],
  };
  return [
    { phase: 'opened', violation: opened },
    { phase: 'updated', violation: updated },
    { phase: 'closed', violation: closed },
  ];
}

export const ids = (items: readonly { id: string }[]): string[] => items.map((i) => i.id);

/** What the store returns: the violation with its latest phase and its enforcement status. */
export const rec = (
  v: Violation,
  phase: ViolationPhase,
  status: ViolationStatus = 'open',
): ViolationRecord => ({
  ...v,
  phase,
  status,
});
export const byKey = (a: { startTs: number; id: string }, b: { startTs: number; id: string }): number =>
  a.startTs - b.startTs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function tripStart(vehicle: string, startTs: number, over: Partial<TripStart> = {}): TripStart {
  return {
    id: `${vehicle}:trip:${startTs}`,
    vehicle,
    firm: 'firm-a',
    permit: 'permit-1',
    originSite: 'site-o',
    originVersion: 2,
    startTs,
    startPos: [117.205, 31.805],
    loadTrigger: 'lift',
    ...over,
  };
}

export function tripDone(start: TripStart, over: Partial<Trip> = {}): Trip {
  return {
    ...start,
    disposalSite: 'site-d',
    endTs: start.startTs + 1_800_000,
    durationMs: 1_800_000,
    distanceKm: 12.375,
    endPos: [117.3, 31.9],
    unloadTrigger: 'lift',
    compliant: true,
    violationCount: 0,
    violations: [],
    ...over,
  };
}

// The evidence world of test/geofence/evidence.test.ts, with quotes and backslashes in the names.
export const snapshot = evidenceSnapshot('工地 "一号"', '渣土运输路线 \\ A');

export const offRouteNoted = (startTs: number, endTs: number): Violation =>
  offRoute(startTs, endTs, {
    details: { maxDeviationM: 180.5, 说明: '偏离路线 "超过" 100 米 \\ O\'Brien' },
  });

export function smallEvidence(): EvidencePackage {
  const track = Array.from({ length: 60 }, (_, i) => trackFix(i)).reverse();
  return buildEvidence(offRouteNoted(T0 + 100_000, T0 + 200_000), track, compileWorld(snapshot));
}

/** ~1 MB of canonical JSON: one fix per second for an hour, with Chinese, quotes and backslashes. */
export function largeEvidence(): EvidencePackage {
  const track = Array.from({ length: 4_000 }, (_, i) =>
    trackFix(i, 1_000, { device: `设备 "d1" \\ ${i}`, officer: '张三 (队长) \\ "执法"' }),
  );
  return buildEvidence(offRouteNoted(T0 + 150_000, T0 + 3_750_000), track, compileWorld(snapshot));
}

/** all pages of a query, with the page sizes */
export async function allPages(
  list: (cursor?: string) => Promise<{ items: { id: string }[]; nextCursor?: string }>,
): Promise<{ ids: string[]; sizes: number[] }> {
  const out: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await list(cursor);
    out.push(...ids(page.items));
    sizes.push(page.items.length);
    if (!page.nextCursor) return { ids: out, sizes };
    cursor = page.nextCursor;
  }
  throw new Error('pagination does not end');
}
