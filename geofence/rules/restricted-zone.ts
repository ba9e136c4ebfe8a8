import { inLocalWindows } from '../calendar.ts';
import { metresPerDegree } from '../geo/ruler.ts';
import type { PolygonCoords, Position, Zone } from '../model.ts';
import { thresholds } from '../thresholds/restricted-zone.ts';
import type { RuleContext, RuleModule, Violation, ViolationEvent } from '../types.ts';
import { baseRefs, close, open, quietResult, unchanged } from './lifecycle.ts';
import { round1 } from './off-hours.ts';

/**
 * RESTRICTED_ZONE (禁行区): inside a zone of kind 'restricted' during its closed hours, for a unit kind
 * the zone applies to (`appliesTo`, default muck trucks). `windows` are daily China Standard Time
 * windows; an EMPTY list means closed all day (a permanent ban area; a zone with no hours at all would
 * otherwise be meaningless).
 *
 * Onset (domain.md: a single fix proves nothing): at the restrictedZoneMinFixes-th consecutive fix inside
 * the zone (2 by default), or at a fix inside once the run of fixes inside has lasted restrictedZoneMinMs
 * (20 s), with startTs = the first fix of the run. A fix outside the zone breaks the run. Fixes are
 * plausible by the time a rule sees them: the engine core holds back a fix implying an implausible speed
 * from its neighbours and never judges it if the next one confirms it was a stray (geofence/outliers.ts),
 * so one multipath fix inside a school zone is neither an entry nor the first of two. One violation per
 * zone: the open ones are kept in state by zone id (details.zoneId), at most MAX_ZONES at once, as are
 * the pending runs.
 *
 * End (exit hysteresis, like OFF_ROUTE's return run, so that a truck parked just inside the edge does
 * not flap open/closed with GPS noise): an exit run starts at the first fix outside the zone by more than
 * max(accuracyFloorM, fix.accuracy) (an OUT fix) and is broken by any fix that is not OUT (inside, or outside
 * within the margin: nothing proves the truck left). The violation closes once the run lasts
 * >= restrictedZoneExitMs, with endTs = the first fix of the run (the duration counts the time inside
 * only). It closes at once (endTs = the run's first fix if one is pending, else this fix) when the
 * zone's window has ended, the zone is gone or no longer applies. refs: permit (if any), the city
 * thresholds and the zone with its version.
 *
 * Version 2: version 1 closed at the first fix outside the polygon, so a truck parked 8 m inside the
 * edge with 15 m noise produced dozens of violations instead of one.
 * Version 3: version 2 opened at a single fix deeper inside than the accuracy margin, so one multipath
 * fix 100 m inside a school zone was an entry.
 *
 * Ids: `vehicle:RESTRICTED_ZONE:startTs`; when two zones open at the same instant, the second and later
 * get `:zoneId` appended, deterministic in the order the world lists the zones.
 */

export const MAX_ZONES = 4;

export interface PendingZone {
  zone: string;
  /** the first fix of the run inside the zone */
  ts: number;
  lon: number;
  lat: number;
  /** fixes inside so far (absent in states saved before version 3: one) */
  n?: number;
}

export interface RestrictedZoneState {
  pending: PendingZone[];
  open: Violation[];
  /** per open violation (same index): first fix of its pending exit run, -1 when none */
  exits: number[];
}

const IDLE: RestrictedZoneState = Object.freeze({ pending: [], open: [], exits: [] });
const QUIET = quietResult(IDLE);

const DEFAULT_APPLIES_TO: readonly string[] = ['muck_truck'];

/** Distance (m) from a position to the nearest edge of the polygons: planar at the position's latitude. */
export function distanceToEdgesM(polygons: readonly PolygonCoords[], pos: Position): number {
  const { kx, ky } = metresPerDegree(pos[1]);
  let best = Infinity;
  for (const poly of polygons) {
    for (const ring of poly) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const a = ring[i]!;
        const b = ring[i + 1]!;
        const ax = (a[0] - pos[0]) * kx;
        const ay = (a[1] - pos[1]) * ky;
        const dx = (b[0] - a[0]) * kx;
        const dy = (b[1] - a[1]) * ky;
        const len2 = dx * dx + dy * dy;
        let t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
        if (t < 0) t = 0;
        else if (t > 1) t = 1;
        const x = ax + t * dx;
        const y = ay + t * dy;
        const d2 = x * x + y * y;
        if (d2 < best) best = d2;
      }
    }
  }
  return Math.sqrt(best);
}

function closedNow(z: Zone, kind: string, ts: number): boolean {
  if (z.kind !== 'restricted') return false;
  if (!(z.appliesTo ?? DEFAULT_APPLIES_TO).includes(kind as 'muck_truck')) return false;
  return z.windows.length === 0 || inLocalWindows(z.windows, ts);
}

function zoneOf(v: Violation): string {
  return String(v.details.zoneId);
}

/** The rule's version, recorded in every violation (2: exit hysteresis; 3: two fixes or 20 s to open). */
const RULE_VERSION = 3;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const restrictedZone: RuleModule<RestrictedZoneState> = {
  code: 'RESTRICTED_ZONE',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx: RuleContext) {
    const { fix, facts, thresholds: th } = ctx;
    if (!fix.valid) return unchanged(state, QUIET);
    let active: Zone[] | undefined;
    for (const z of facts.zones) {
      if (!closedNow(z, fix.kind, fix.ts)) continue;
      if (active === undefined) active = [z];
      else active.push(z);
    }
    if (active === undefined && state.open.length === 0 && state.pending.length === 0) {
      return unchanged(state, QUIET);
    }
    const zones = active ?? [];
    const pos: Position = [fix.lon, fix.lat];
    const events: ViolationEvent[] = [];
    const stillOpen: Violation[] = [];
    const exits: number[] = [];
    const margin = Math.max(th.accuracyFloorM, fix.accuracy ?? 0);
    for (let i = 0; i < state.open.length; i++) {
      const v = state.open[i]!;
      // states persisted before version 2 have no exit runs
      const exitTs = state.exits?.[i] ?? -1;
      const id = zoneOf(v);
      if (zones.some((z) => z.id === id)) {
        stillOpen.push({ ...v, lastPos: pos });
        exits.push(-1);
        continue;
      }
      const z = ctx.world.zone(id);
      if (z === undefined || !closedNow(z, fix.kind, fix.ts)) {
        events.push(close(v, exitTs >= 0 ? exitTs : fix.ts));
        continue;
      }
      // outside the (closed) zone: only a run of clear OUT fixes lasting long enough ends it
      if (distanceToEdgesM(z.polygons, pos) <= margin) {
        stillOpen.push(v);
        exits.push(-1);
        continue;
      }
      const runTs = exitTs >= 0 ? exitTs : fix.ts;
      if (fix.ts - runTs >= th.restrictedZoneExitMs) {
        events.push(close(v, runTs));
        continue;
      }
      stillOpen.push(v);
      exits.push(runTs);
    }
    const pending: PendingZone[] = [];
    for (const z of zones) {
      if (stillOpen.some((v) => zoneOf(v) === z.id)) continue;
      const p = state.pending.find((q) => q.zone === z.id);
      const run: PendingZone = p
        ? { ...p, n: (p.n ?? 1) + 1 }
        : { zone: z.id, ts: fix.ts, lon: fix.lon, lat: fix.lat, n: 1 };
      const byFixes = run.n! >= th.restrictedZoneMinFixes;
      const byTime = fix.ts - run.ts >= th.restrictedZoneMinMs;
      if (!byFixes && !byTime) {
        if (pending.length < MAX_ZONES) pending.push(run);
        continue;
      }
      if (stillOpen.length >= MAX_ZONES) continue;
      const o = open(ctx, {
        code: 'RESTRICTED_ZONE',
        ruleVersion: RULE_VERSION,
        startTs: run.ts,
        startPos: [run.lon, run.lat],
        refs: [...baseRefs(ctx), { kind: 'zone', id: z.id, version: z.version }],
        thresholds: {
          accuracyFloorM: th.accuracyFloorM,
          restrictedZoneMinFixes: th.restrictedZoneMinFixes,
          restrictedZoneMinMs: th.restrictedZoneMinMs,
          restrictedZoneExitMs: th.restrictedZoneExitMs,
        },
        details: {
          zoneId: z.id,
          zoneName: z.name,
          zoneWindows: z.windows.join(','),
          onset: byFixes ? 'consecutive' : 'duration',
          insideFixes: run.n!,
          depthM: round1(distanceToEdgesM(z.polygons, pos)),
        },
      });
      let violation = o.violation;
      if (stillOpen.some((q) => q.id === violation.id))
        violation = { ...violation, id: `${violation.id}:${z.id}` };
      stillOpen.push(violation);
      exits.push(-1);
      events.push(violation === o.violation ? o.event : { phase: 'opened', violation });
    }
    if (stillOpen.length === 0 && pending.length === 0) return { state: IDLE, events };
    return { state: { pending, open: stillOpen, exits }, events };
  },
};
