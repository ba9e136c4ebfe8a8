import { localMsOfDay } from '../../geofence/geo/windows.ts';
import { firstStartingAt } from '../../geofence/plan-windows.ts';
import type { CollectionPoint, DutyPlan, SweepPlan, UploadStation } from '../../geofence/plans.ts';
import { RELATIVE_WINDOW, type ScenarioFile } from '../scenario/file-schema.ts';
import { centroidOf, inAnyPolygon, toLatLon } from '../shared/geo.ts';
import { createRng, hashString } from '../shared/rng.ts';
import { haversineM, type LatLon, Polyline, patrolLoop } from '../shared/tracks.ts';

/**
 * The plans of a scenario (issue 15) made concrete for one run: the registry entities to provision
 * (windows relative to the run's start turned into the daily windows the registry stores), and what each
 * planned unit does in the run (a collection round's stops with their window occurrences, a sweeper's
 * plan line and shifts, an officer's grid, patrol loop, upload station and shifts). Pure and
 * deterministic in (scenario, start, duration).
 */

export interface Span {
  start: number;
  end: number;
}

export interface SimPlans {
  collectionPoints: CollectionPoint[];
  sweepPlans: SweepPlan[];
  dutyPlans: DutyPlan[];
  uploadStations: UploadStation[];
}

export interface CollectionRole {
  kind: 'collection';
  stops: Array<{ point: string; pos: LatLon; radiusM: number; window: Span }>;
}
export interface SweepRole {
  kind: 'sweep';
  plan: string;
  line: Polyline;
  shifts: Span[];
}
export interface PatrolRole {
  kind: 'patrol';
  plan: string;
  grid: SweepPlanGrid;
  loop: Polyline;
  station: LatLon;
  shifts: Span[];
}
export type SweepPlanGrid = DutyPlan['polygons'];
export type PlanRole = CollectionRole | SweepRole | PatrolRole;

const MIN_MS = 60_000;
const pad = (n: number) => String(n).padStart(2, '0');
const hhmm = (minuteOfDay: number) => {
  const m = ((minuteOfDay % 1440) + 1440) % 1440;
  return `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
};

/** A scenario window as the registry's daily "HH:MM-HH:MM" (a relative one from the run's start). */
export function resolveWindow(text: string, startTs: number): string {
  const rel = RELATIVE_WINDOW.exec(text);
  if (!rel) return text;
  const base = Math.ceil(startTs / MIN_MS) * MIN_MS;
  const baseMin = Math.round(localMsOfDay(base) / MIN_MS);
  const from = Number(rel[1]) * 60 + Number(rel[2]);
  const to = Number(rel[3]) * 60 + Number(rel[4]);
  return `${hhmm(baseMin + from)}-${hhmm(baseMin + to)}`;
}

/** The occurrences of daily windows that start inside [from, to). */
export function occurrencesIn(windows: readonly string[], from: number, to: number): Span[] {
  const out: Span[] = [];
  for (let t = from, i = 0; i < 1000; i++) {
    const o = firstStartingAt(windows, t);
    if (o === undefined || o.start >= to) break;
    out.push(o);
    t = o.start + 1;
  }
  return out;
}

/** Every unit's role and the plans to provision. */
export function buildPlans(
  s: ScenarioFile,
  startTs: number,
  durationMs: number,
): { plans: SimPlans; roles: Map<string, PlanRole> } {
  const endTs = startTs + durationMs;
  const src = s.plans ?? { collectionPoints: [], sweepPlans: [], dutyPlans: [], uploadStations: [] };
  const win = (ws: readonly string[]) => ws.map((w) => resolveWindow(w, startTs));
  const plans: SimPlans = {
    collectionPoints: src.collectionPoints.map((p) => ({
      id: p.id,
      version: 1,
      firm: p.firm,
      name: p.name,
      position: p.position,
      radiusM: p.radiusM ?? 30,
      windows: win(p.windows),
      vehicles: p.vehicles,
      ...(p.binsExpected !== undefined ? { binsExpected: p.binsExpected } : {}),
    })),
    sweepPlans: src.sweepPlans.map((p) => ({
      id: p.id,
      version: 1,
      firm: p.firm,
      name: p.name,
      lines: [p.geometry.coordinates],
      corridorM: p.corridorM ?? 20,
      windows: win(p.windows),
      vehicles: p.vehicles,
    })),
    dutyPlans: src.dutyPlans.map((p) => ({
      id: p.id,
      version: 1,
      firm: p.firm,
      name: p.name,
      polygons: p.geometry.type === 'Polygon' ? [p.geometry.coordinates] : p.geometry.coordinates,
      windows: win(p.windows),
      cameras: p.cameras,
      officers: p.officers,
    })),
    uploadStations: src.uploadStations.map((u) => ({
      id: u.id,
      version: 1,
      name: u.name,
      position: u.position,
      radiusM: u.radiusM ?? 50,
    })),
  };

  const roles = new Map<string, PlanRole>();
  // collection rounds: every point of the vehicle, one stop per window occurrence in the run, in time order
  const stops = new Map<string, CollectionRole['stops']>();
  for (const p of plans.collectionPoints)
    for (const v of p.vehicles)
      for (const window of occurrencesIn(p.windows, startTs, endTs))
        stops.set(v, [
          ...(stops.get(v) ?? []),
          { point: p.id, pos: toLatLon(p.position), radiusM: p.radiusM, window },
        ]);
  for (const [v, list] of stops) {
    list.sort((a, b) => a.window.start - b.window.start || a.point.localeCompare(b.point));
    roles.set(v, { kind: 'collection', stops: list });
  }
  for (const p of plans.sweepPlans)
    for (const v of p.vehicles)
      if (!roles.has(v))
        roles.set(v, {
          kind: 'sweep',
          plan: p.id,
          line: new Polyline(p.lines[0]!.map(toLatLon)),
          shifts: occurrencesIn(p.windows, startTs, endTs),
        });
  const stations = plans.uploadStations.map((u) => toLatLon(u.position));
  for (const p of plans.dutyPlans) {
    const centre = centroidOf(p.polygons);
    const station = [...stations].sort((a, b) => haversineM(a, centre) - haversineM(b, centre))[0] ?? centre;
    const cameras = [
      ...p.cameras,
      ...s.devices
        .filter((d) => d.kind === 'body_camera' && d.officer !== undefined && p.officers.includes(d.officer))
        .map((d) => d.id),
    ];
    for (const c of cameras) {
      if (roles.has(c)) continue;
      const device = s.devices.find((d) => d.id === c);
      const loop = device?.patrol
        ? new Polyline(device.patrol.coordinates.map(toLatLon))
        : defaultLoop(p.id, c, centre, p.polygons);
      roles.set(c, {
        kind: 'patrol',
        plan: p.id,
        grid: p.polygons,
        loop,
        station,
        shifts: occurrencesIn(p.windows, startTs, endTs),
      });
    }
  }
  return { plans, roles };
}

/** A patrol loop round the grid's middle, shrunk until it lies inside the grid. */
function defaultLoop(plan: string, camera: string, centre: LatLon, grid: SweepPlanGrid): Polyline {
  const rng = createRng(hashString(`patrol/${plan}/${camera}`));
  for (let r = 400; r >= 50; r *= 0.8) {
    const loop = patrolLoop(rng, centre, r);
    if (loop.points.every((p) => inAnyPolygon(grid, p))) return loop;
  }
  return patrolLoop(rng, centre, 40);
}
