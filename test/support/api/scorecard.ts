/**
 * The world and helpers of the scorecard tests (test/api/scorecard*.test.ts).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { ApiDeps } from '../../../api/app.ts';
import { VIOLATION_CODES, type ViolationCode } from '../../../geofence/model.ts';
import type { Trip, TripEvent } from '../../../geofence/trips.ts';
import type { Violation, ViolationEvent } from '../../../geofence/types.ts';
import { EmbeddedEventStore } from '../../../store/events-embedded.ts';
import type { ViolationStatus } from '../../../store/events-port.ts';
import { fleetRegistry, testApi } from '../api-fixtures.ts';
import { KEYS } from '../role-keys.ts';

/**
 * The monthly firm scorecard (api/scorecard/compute.ts) from a fixture whose figures are worked out by
 * hand below, through the API (JSON and CSV) on a real embedded event store.
 */

export const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** November 2026 in China Standard Time: [2026-10-31T16:00Z, 2026-11-30T16:00Z) */
export const NOV_START = Date.parse('2026-10-31T16:00:00Z');
export const DEC_START = Date.parse('2026-11-30T16:00:00Z');
export const nov = (day: number, hourUtc = 2) => Date.UTC(2026, 10, day, hourUtc);

// ---------------------------------------------------------------------------------------------------
// The fixture. Registered muck trucks: veh-1 (firm-a), veh-2 (firm-b), veh-d (firm-d); veh-s1 is
// firm-a's sanitation vehicle and cam-1 dept-1's body camera (both left out of the 考核). veh-c, veh-e
// and veh-f are not registered: their firms are scored because they have trips or violations.

export function trip(
  vehicle: string,
  firm: string,
  startTs: number,
  distanceKm: number,
  compliant: boolean,
): Trip {
  return {
    id: `${vehicle}:trip:${startTs}`,
    vehicle,
    firm,
    permit: 'permit-1',
    originSite: 'site-o',
    originVersion: 1,
    startTs,
    startPos: [117.2, 31.8],
    loadTrigger: 'load',
    disposalSite: 'site-d',
    endTs: startTs + 3_600_000,
    durationMs: 3_600_000,
    distanceKm,
    endPos: [117.3, 31.85],
    unloadTrigger: 'lift',
    compliant,
    violationCount: compliant ? 0 : 1,
    violations: [],
  };
}

export const TRIPS: Trip[] = [
  // firm-a: 4 trips in November, 12.5 + 10 + 7.5 + 20 = 50 km, 3 compliant
  trip('veh-1', 'firm-a', NOV_START, 12.5, true), // 00:00 local on 1 November: in
  trip('veh-1', 'firm-a', nov(10), 10, true),
  trip('veh-1', 'firm-a', nov(20), 7.5, false),
  trip('veh-1', 'firm-a', DEC_START - 1, 20, true), // 23:59:59.999 local on 30 November: in
  trip('veh-1', 'firm-a', DEC_START, 100, false), // 00:00 local on 1 December: out
  trip('veh-1', 'firm-a', NOV_START - 1, 100, false), // 23:59:59.999 local on 31 October: out
  // firm-b: 2 trips, 40 + 35 = 75 km, 1 compliant
  trip('veh-2', 'firm-b', nov(5), 40, true),
  trip('veh-2', 'firm-b', nov(6), 35, false),
  // firm-c and firm-e: one clean trip each
  trip('veh-c', 'firm-c', nov(7), 25, true),
  trip('veh-e', 'firm-e', nov(8), 30, true),
];
/** started in November, not completed: not counted anywhere */
export const STARTED = trip('veh-2', 'firm-b', nov(28), 0, true);

export function violation(vehicle: string, firm: string, code: ViolationCode, startTs: number): Violation {
  return {
    id: `${vehicle}:${code}:${startTs}`,
    code,
    vehicle,
    firm,
    startTs,
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.807],
    refs: [],
    thresholds: {},
    ruleVersion: 1,
    details: {},
  };
}

/** [violation, its enforcement status] */
export const VIOLATIONS: [Violation, ViolationStatus][] = [
  // firm-a: 2 in November (OFF_ROUTE closed, OVERSPEED open); 1 is December's; 1 is its sweeper's
  [violation('veh-1', 'firm-a', 'OFF_ROUTE', nov(20, 3)), 'closed'],
  [violation('veh-1', 'firm-a', 'OVERSPEED', nov(21)), 'open'],
  [violation('veh-1', 'firm-a', 'OFF_ROUTE', DEC_START), 'open'],
  [violation('veh-s1', 'firm-a', 'OVERSPEED', nov(22)), 'open'],
  // firm-b: 1, acknowledged (taken up, not resolved: still counts as open)
  [violation('veh-2', 'firm-b', 'NO_PERMIT', nov(6, 3)), 'acknowledged'],
  // firm-f: 1, and no trip at all
  [violation('veh-f', 'firm-f', 'OVERLOAD', nov(9)), 'confirmed'],
  // dept-1's body camera: not a haulage firm's violation
  [violation('cam-1', 'dept-1', 'OFFLINE', nov(9)), 'open'],
];

/** withdrawn by a re-judging (opened, then withdrawn): in no figure and no rank */
export const WITHDRAWN: Violation[] = [
  violation('veh-1', 'firm-a', 'TRACK_GAP', nov(11)),
  violation('veh-e', 'firm-e', 'OFFLINE', nov(11)),
  violation('veh-d', 'firm-d', 'OFF_ROUTE', nov(11)),
];
export const WITHDRAWN_TRIP = trip('veh-d', 'firm-d', nov(11), 30, false);

export const PATH: Record<ViolationStatus, ViolationStatus[]> = {
  open: [],
  acknowledged: ['acknowledged'],
  disputed: ['acknowledged', 'disputed'],
  confirmed: ['acknowledged', 'confirmed'],
  closed: ['acknowledged', 'confirmed', 'closed'],
};

export function registry(): ApiDeps['registry'] {
  const base = fleetRegistry();
  return {
    ...base,
    firm: (id) => (id === 'firm-d' ? { id, name: '丁运输, "东区" 分公司' } : base.firm(id)),
    vehicles: () => [
      ...base.vehicles(),
      { id: 'veh-d', plate: '皖A·40001', kind: 'muck_truck', firm: 'firm-d' },
    ],
  };
}

export async function api(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-scorecard-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const tripEvents: TripEvent[] = [
    ...TRIPS.map((trip): TripEvent => ({ kind: 'completed', trip })),
    { kind: 'started', trip: STARTED },
  ];
  await events.recordTrips(tripEvents);
  await events.recordViolations(VIOLATIONS.map(([v]): ViolationEvent => ({ phase: 'opened', violation: v })));
  // withdrawn by a re-judging with late fixes (issue 17): kept, never counted
  const rejudged = { reason: 'backfill' as const, lateTs: nov(12) };
  await events.recordViolations(
    WITHDRAWN.flatMap((v): ViolationEvent[] => [
      { phase: 'opened', violation: v },
      {
        phase: 'withdrawn',
        violation: { ...v, withdrawal: { reason: 'backfill', lateTs: nov(12) } },
        rejudged,
      },
    ]),
  );
  await events.recordTrips([
    { kind: 'completed', trip: WITHDRAWN_TRIP },
    { kind: 'withdrawn', trip: WITHDRAWN_TRIP, rejudged },
  ]);
  for (const [v, status] of VIOLATIONS) {
    for (const to of PATH[status])
      await events.setViolationStatus({ id: v.id, to, actor: 'key-monitor', at: nov(29) });
  }
  const { app } = await testApi(NO_POSITIONS, { events, keys: KEYS, registry: registry() });
  t.teardown(async () => {
    await app.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return app;
}

export const codes = (some: Partial<Record<ViolationCode, number>>) => ({
  ...Object.fromEntries(VIOLATION_CODES.map((c) => [c, 0])),
  ...some,
});

/**
 * Worked out by hand. Rank: violations per 100 trips, then per 1,000 km, then open violations (lower is
 * better); a rate without trips/km is 0 with no violations and +infinity with some.
 *   firm-c  1 trip, 25 km, 0 violations:  0 per 100 trips, 0 per 1,000 km       -> rank 1
 *   firm-e  1 trip, 30 km, 0 violations:  the same three keys as firm-c         -> rank 1 (tie)
 *   firm-b  2 trips, 40+35 = 75 km, 1 violation:  1/2×100 = 50;  1/75×1000 = 13.333… -> rank 3
 *   firm-a  4 trips, 12.5+10+7.5+20 = 50 km, 2 violations:  2/4×100 = 50;  2/50×1000 = 40
 *           (ties firm-b on 50 per 100 trips, loses on per 1,000 km: 40 > 13.33)   -> rank 4
 *   firm-f  0 trips, 1 violation: rate +infinity                                   -> rank 5
 *   firm-d  registered muck truck, nothing this month: not ranked (null), listed last
 * Compliant share: firm-a 3/4 = 0.75, firm-b 1/2 = 0.5, firm-c and firm-e 1/1 = 1.
 * Open (status not closed): firm-a 1 (OVERSPEED open; OFF_ROUTE closed), firm-b 1 (acknowledged),
 * firm-f 1 (confirmed).
 */
export const EXPECTED = [
  {
    firm: 'firm-c',
    rank: 1,
    trips: 1,
    compliantTrips: 1,
    compliantShare: 1,
    km: 25,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: 0,
    per1000Km: 0,
    openViolations: 0,
  },
  {
    firm: 'firm-e',
    rank: 1,
    trips: 1,
    compliantTrips: 1,
    compliantShare: 1,
    km: 30,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: 0,
    per1000Km: 0,
    openViolations: 0,
  },
  {
    firm: 'firm-b',
    firmName: '合肥乙运输有限公司',
    rank: 3,
    trips: 2,
    compliantTrips: 1,
    compliantShare: 0.5,
    km: 75,
    violations: 1,
    violationsByCode: codes({ NO_PERMIT: 1 }),
    per100Trips: 50,
    per1000Km: 13.33,
    openViolations: 1,
  },
  {
    firm: 'firm-a',
    firmName: '合肥甲运输有限公司',
    rank: 4,
    trips: 4,
    compliantTrips: 3,
    compliantShare: 0.75,
    km: 50,
    violations: 2,
    violationsByCode: codes({ OFF_ROUTE: 1, OVERSPEED: 1 }),
    per100Trips: 50,
    per1000Km: 40,
    openViolations: 1,
  },
  {
    firm: 'firm-f',
    rank: 5,
    trips: 0,
    compliantTrips: 0,
    compliantShare: null,
    km: 0,
    violations: 1,
    violationsByCode: codes({ OVERLOAD: 1 }),
    per100Trips: null,
    per1000Km: null,
    openViolations: 1,
  },
  {
    firm: 'firm-d',
    firmName: '丁运输, "东区" 分公司',
    rank: null,
    trips: 0,
    compliantTrips: 0,
    compliantShare: null,
    km: 0,
    violations: 0,
    violationsByCode: codes({}),
    per100Trips: null,
    per1000Km: null,
    openViolations: 0,
  },
].map((card) => ({ month: '2026-11', rankedFirms: 5, ...card }));

export const SAN_A = {
  vehicles: 1,
  violations: 1,
  violationsByCode: codes({ OVERSPEED: 1 }),
  sweepShifts: 0,
  plannedKm: 0,
  sweptKm: 0,
  coverage: null,
  collectionWindows: 0,
  onTime: 0,
  late: 0,
  missed: 0,
  onTimeShare: null,
};
export const ENF_DEPT1 = {
  cameras: 1,
  violations: 1,
  violationsByCode: codes({ OFFLINE: 1 }),
  shifts: 0,
  dutyHours: 0,
  heardShare: null,
  recordingShare: null,
  inGridShare: null,
};
