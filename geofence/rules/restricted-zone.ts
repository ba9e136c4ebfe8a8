import { inLocalWindows } from '../calendar.ts';
import { metresPerDegree } from '../geo/ruler.ts';
import type { PolygonCoords, Position, Zone } from '../model.ts';
import type { RuleContext, RuleModule, Violation, ViolationEvent } from '../types.ts';
import { baseRefs, close, open, quietResult, unchanged } from './lifecycle.ts';
import { round1 } from './off-hours.ts';

/**
 * RESTRICTED_ZONE (禁行区): inside a zone of kind 'restricted' during its closed hours, for a unit kind
 * the zone applies to (`appliesTo`, default muck trucks). `windows` are daily China Standard Time
 * windows; an EMPTY list means closed all day (a permanent ban area; a zone with no hours at all would
 * otherwise be meaningless).
 *
 * Onset (never from GPS noise at the edge): at the first fix inside the zone by more than
 * max(accuracyFloorM, fix.acc) (depth = distance to the nearest edge of the zone's polygons, planar at
 * the fix latitude, computed only for zones the fix is in and not already open or pending), or at the
 * second consecutive fix inside it (startTs = the first). One violation per zone: the open ones are kept
 * in state by zone id (details.zoneId), at most MAX_ZONES at once, as are the pending first fixes.
 *
 * End: at the first fix outside the zone, or once the zone's window has ended (endTs = that fix), or
 * when the rule stops applying. refs: permit (if any), the city thresholds and the zone with its version.
 *
 * Ids: `vehicle:RESTRICTED_ZONE:startTs`; when two zones open at the same instant, the second and later
 * get `:zoneId` appended, deterministic in the order the world lists the zones.
 */

export const MAX_ZONES = 4;

export interface PendingZone {
  zone: string;
  ts: number;
  lon: number;
  lat: number;
}

export interface RestrictedZoneState {
  pending: PendingZone[];
  open: Violation[];
}

const IDLE: RestrictedZoneState = Object.freeze({ pending: [], open: [] });
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

export const restrictedZone: RuleModule<RestrictedZoneState> = {
  code: 'RESTRICTED_ZONE',
  version: 1,
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
    for (const v of state.open) {
      if (zones.some((z) => z.id === zoneOf(v))) stillOpen.push({ ...v, lastPos: pos });
      else events.push(close(v, fix.ts));
    }
    const pending: PendingZone[] = [];
    const margin = Math.max(th.accuracyFloorM, fix.acc ?? 0);
    for (const z of zones) {
      if (stillOpen.some((v) => zoneOf(v) === z.id)) continue;
      const p = state.pending.find((q) => q.zone === z.id);
      let depthM: number | undefined;
      if (p === undefined) {
        depthM = distanceToEdgesM(z.polygons, pos);
        if (depthM <= margin) {
          if (pending.length < MAX_ZONES)
            pending.push({ zone: z.id, ts: fix.ts, lon: fix.lon, lat: fix.lat });
          continue;
        }
      }
      if (stillOpen.length >= MAX_ZONES) continue;
      const startTs = p ? p.ts : fix.ts;
      const o = open(ctx, {
        code: 'RESTRICTED_ZONE',
        ruleVersion: 1,
        startTs,
        startPos: p ? [p.lon, p.lat] : pos,
        refs: [...baseRefs(ctx), { kind: 'zone', id: z.id, version: z.version }],
        thresholds: { accuracyFloorM: th.accuracyFloorM },
        details: {
          zoneId: z.id,
          zoneName: z.name,
          zoneWindows: z.windows.join(','),
          onset: depthM === undefined ? 'consecutive' : 'depth',
          ...(depthM === undefined ? {} : { depthM: round1(depthM) }),
        },
      });
      let violation = o.violation;
      if (stillOpen.some((q) => q.id === violation.id))
        violation = { ...violation, id: `${violation.id}:${z.id}` };
      stillOpen.push(violation);
      events.push(violation === o.violation ? o.event : { phase: 'opened', violation });
    }
    if (stillOpen.length === 0 && pending.length === 0) return { state: IDLE, events };
    return { state: { pending, open: stillOpen }, events };
  },
};
