import type { Fix, UnitKind } from '../core/fix.ts';
import { UnitIndex, type UnitPoint } from '../geofence/geo/unit-index.ts';
import { containing } from '../geofence/plan-windows.ts';
import { dutyAt } from '../geofence/rules/plan-facts.ts';
import type { World } from '../geofence/types.ts';

/**
 * Nearest-unit dispatch (issue 15, item 5; 精准化综合指挥): the live position of every unit in a spatial
 * index (geofence/geo/unit-index.ts) moved by every accepted fix, and the query a command centre asks:
 * the k nearest units of a kind to a point, with the straight-line distance and an ETA from the unit's
 * recent speed. "Available" = online (heard within max(3 x its report interval, 10 min) of now) and on
 * duty (a body camera in a shift of its duty plan; a sanitation vehicle in a shift of one of its sweep
 * plans or a window of one of its collection points, or any time when it has no plan; a muck truck when
 * online), and not assigned to an open incident (dispatch/incidents.ts; the world's incidents).
 *
 * One grid per unit kind, its reference latitude the first fix's (the city's).
 *
 * Bounded: one entry per unit that has reported a valid fix (the fleet size), updated in place.
 */

export interface UnitState {
  kind: UnitKind;
  firm: string;
  ts: number;
  /** km/h: a moving average of the recent reported speeds (ETA) */
  speedKmh: number;
  officer?: string;
}

export interface NearestUnit {
  unit: string;
  kind: UnitKind;
  firm: string;
  lat: number;
  lon: number;
  ts: number;
  distanceM: number;
  /** seconds at the unit's recent speed, or the kind's default speed when it is (nearly) still */
  etaS: number;
  speedKmh: number;
  online: boolean;
  onDuty: boolean;
  /** the open incident the unit is assigned to */
  incident?: string;
  officer?: string;
}

export interface NearestQuery {
  lat: number;
  lon: number;
  kind?: UnitKind;
  limit: number;
  /** only units online and on duty */
  available: boolean;
  /** only this firm's units (a firm key) */
  firm?: string;
}

/** The speed an ETA assumes for a unit that is (nearly) still: on foot, or a vehicle in city traffic. */
const DEFAULT_SPEED_KMH: Record<UnitKind, number> = { body_camera: 5, sanitation: 20, muck_truck: 25 };
const MIN_MOVING_KMH = 3;
const OFFLINE_MIN_MS = 10 * 60_000;

/** The open incident a unit is assigned to in the world, if any. */
function openIncidentOf(world: World, unit: string): string | undefined {
  for (const i of world.incidentsOf(unit)) if (i.closedAt === undefined) return i.id;
  return undefined;
}

export class LiveUnits {
  /** one index per kind (a query by kind never filters the other kinds out one by one) */
  private readonly byKind = new Map<UnitKind, UnitIndex<UnitState>>();
  /** the kind each unit was last indexed under (a unit whose kind changes moves index) */
  private readonly kindOf = new Map<string, UnitKind>();
  /** the grids' reference latitude: the first fix's (the city's), fixed from then on */
  private refLat: number | undefined;

  constructor(
    private readonly deps: {
      world: () => World;
      now: () => number;
      /** report interval of a unit, seconds */
      intervalS: (unit: string) => number;
    },
  ) {}

  /** units indexed */
  get size(): number {
    return this.kindOf.size;
  }

  /** a unit's live entry */
  get(unit: string): UnitPoint<UnitState> | undefined {
    const kind = this.kindOf.get(unit);
    return kind === undefined ? undefined : this.byKind.get(kind)?.get(unit);
  }

  private indexOf(kind: UnitKind, lat: number): UnitIndex<UnitState> {
    let index = this.byKind.get(kind);
    if (index === undefined) {
      this.refLat ??= lat;
      index = new UnitIndex<UnitState>(this.refLat);
      this.byKind.set(kind, index);
    }
    return index;
  }

  onFixes(fixes: readonly Fix[]): void {
    for (const f of fixes) {
      if (!f.valid) continue;
      const prev = this.get(f.vehicle);
      if (prev !== undefined && prev.data.ts >= f.ts) continue; // late or duplicate: the live place stays
      const speed = f.speed ?? 0;
      const avg = prev === undefined ? speed : prev.data.speedKmh * 0.7 + speed * 0.3;
      const state: UnitState = { kind: f.kind, firm: f.firm, ts: f.ts, speedKmh: avg };
      const officer = f.officer ?? prev?.data.officer;
      if (officer !== undefined) state.officer = officer;
      const was = this.kindOf.get(f.vehicle);
      if (was !== undefined && was !== f.kind) this.byKind.get(was)?.remove(f.vehicle);
      this.kindOf.set(f.vehicle, f.kind);
      this.indexOf(f.kind, f.lat).upsert(f.vehicle, f.lon, f.lat, state);
    }
  }

  private online(id: string, s: UnitState, now: number): boolean {
    return now - s.ts <= Math.max(3 * this.deps.intervalS(id) * 1000, OFFLINE_MIN_MS);
  }

  private onDuty(id: string, s: UnitState, now: number, world: World): boolean {
    if (s.kind === 'body_camera') return dutyAt(world, id, s.officer, now) !== undefined;
    if (s.kind === 'sanitation') {
      const sweeps = world.sweepPlansOf(id);
      const points = world.collectionPointsOf(id);
      if (sweeps.length === 0 && points.length === 0) return true;
      return [...sweeps, ...points].some((p) => containing(p.windows, now) !== undefined);
    }
    return true;
  }

  /** The nearest units from the live grids (GET /dispatch/nearest). */
  nearest(q: NearestQuery): NearestUnit[] {
    return this.answer(q, 'grid');
  }

  /**
   * The same answer by a linear scan of every live unit, the kind checked per unit as the other filters
   * are: the baseline of bench/dispatch.ts (same filter, same distances, same top-k; only the search
   * differs).
   */
  scan(q: NearestQuery): NearestUnit[] {
    return this.answer(q, 'scan');
  }

  private answer(q: NearestQuery, how: 'grid' | 'scan'): NearestUnit[] {
    const now = this.deps.now();
    const world = this.deps.world();
    const accept = (u: UnitPoint<UnitState>) => {
      if (q.firm !== undefined && u.data.firm !== q.firm) return false;
      if (!q.available) return true;
      return (
        this.online(u.id, u.data, now) &&
        this.onDuty(u.id, u.data, now, world) &&
        openIncidentOf(world, u.id) === undefined
      );
    };
    const ofKind = (u: UnitPoint<UnitState>) => u.data.kind === q.kind && accept(u);
    // grid: the k nearest of each kind asked, merged; scan: every unit, the k nearest of the kind asked
    const found = (
      how === 'grid'
        ? (q.kind === undefined ? [...this.byKind.keys()] : [q.kind]).flatMap(
            (kind) => this.byKind.get(kind)?.nearest(q.lon, q.lat, q.limit, accept) ?? [],
          )
        : [...this.byKind.values()].flatMap((index) =>
            index.scan(q.lon, q.lat, q.limit, q.kind === undefined ? accept : ofKind),
          )
    )
      .sort((a, b) => a.distanceM - b.distanceM || (a.unit.id < b.unit.id ? -1 : 1))
      .slice(0, q.limit);
    return found.map(({ unit: u, distanceM }) => {
      const s = u.data;
      const speed = s.speedKmh >= MIN_MOVING_KMH ? s.speedKmh : DEFAULT_SPEED_KMH[s.kind];
      const out: NearestUnit = {
        unit: u.id,
        kind: s.kind,
        firm: s.firm,
        lat: u.lat,
        lon: u.lon,
        ts: s.ts,
        distanceM: Math.round(distanceM * 10) / 10,
        etaS: Math.round(distanceM / (speed / 3.6)),
        speedKmh: Math.round(s.speedKmh * 10) / 10,
        online: this.online(u.id, s, now),
        onDuty: this.onDuty(u.id, s, now, world),
      };
      const incident = openIncidentOf(world, u.id);
      if (incident !== undefined) out.incident = incident;
      if (s.officer !== undefined) out.officer = s.officer;
      return out;
    });
  }
}
