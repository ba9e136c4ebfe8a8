import { PolygonIndex } from './geo/polygon-index.ts';
import { PolylineIndex } from './geo/polyline-index.ts';
import { metresPerDegree } from './geo/ruler.ts';
import type { Position, RegistrySnapshot } from './model.ts';
import {
  type CollectionPoint,
  type DutyPlan,
  type Incident,
  SWEEP_PIECE_M,
  type SweepLayout,
  type SweepMatch,
  type SweepPlan,
  type UploadStation,
} from './plans.ts';
import type { PlanRefKind, World } from './types.ts';

/**
 * The plans' part of the compiled World (issue 15), built once per registry change like the rest of
 * compile.ts: by-unit lookups, one polyline index over every sweep stretch, one polygon index over the
 * duty grids. Per-fix queries cost the same with 10 or 10,000 plans.
 */

type PlanWorld = Pick<
  World,
  | 'collectionPointsOf'
  | 'sweepPlansOf'
  | 'sweepMatch'
  | 'sweepLayout'
  | 'dutyPlansOf'
  | 'gridDistance'
  | 'uploadStationAt'
  | 'planEntity'
  | 'incidentsOf'
>;

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function byUnit<T extends { id: string }>(items: readonly T[], unitsOf: (t: T) => readonly string[]) {
  const map = new Map<string, T[]>();
  for (const item of [...items].sort(byId)) {
    for (const u of new Set(unitsOf(item))) {
      const list = map.get(u);
      if (list === undefined) map.set(u, [item]);
      else list.push(item);
    }
  }
  return map;
}

const NONE: readonly never[] = Object.freeze([]);

export function compilePlans(snapshot: RegistrySnapshot): PlanWorld {
  const points = snapshot.collectionPoints ?? [];
  const sweeps = snapshot.sweepPlans ?? [];
  const duties = snapshot.dutyPlans ?? [];
  const stations = snapshot.uploadStations ?? [];
  const incidents = snapshot.incidents ?? [];
  // by unit, in assignment order (incidentAt takes the first that holds an instant)
  const incidentsOf = new Map<string, Incident[]>();
  for (const i of [...incidents].sort((a, b) => (a.assignedAt ?? 0) - (b.assignedAt ?? 0) || byId(a, b))) {
    if (i.unit === undefined || i.assignedAt === undefined) continue;
    const list = incidentsOf.get(i.unit);
    if (list === undefined) incidentsOf.set(i.unit, [i]);
    else list.push(i);
  }
  const pointsOf = byUnit(points, (p) => p.vehicles);
  const sweepsOf = byUnit(sweeps, (p) => p.vehicles);
  const dutiesOfCamera = byUnit(duties, (p) => p.cameras);
  const dutiesOfOfficer = byUnit(duties, (p) => p.officers);
  const entities = new Map<string, CollectionPoint | SweepPlan | DutyPlan | UploadStation | Incident>();
  for (const p of points) entities.set(`collection_point:${p.id}`, p);
  for (const p of sweeps) entities.set(`sweep_plan:${p.id}`, p);
  for (const p of duties) entities.set(`duty_plan:${p.id}`, p);
  for (const p of stations) entities.set(`upload_station:${p.id}`, p);
  for (const i of incidents) entities.set(`incident:${i.id}`, i);

  // every stretch of every sweep plan in one index; a plan's stretches are entries first..first+n-1
  const stretches = sweeps.flatMap((p) =>
    p.lines.map((line, i) => ({ id: `${p.id}\u0000${i}`, line, halfWidthM: p.corridorM })),
  );
  const lineIndex = stretches.length > 0 ? new PolylineIndex(stretches) : undefined;
  const firstEntry = new Map<string, number>();
  const layouts = new Map<string, SweepLayout>();
  let entry = 0;
  for (const p of sweeps) {
    firstEntry.set(p.id, entry);
    const offsets: number[] = [];
    const lengthsM: number[] = [];
    let pieces = 0;
    let totalM = 0;
    for (let i = 0; i < p.lines.length; i++) {
      const len = lineIndex?.lengthM(`${p.id}\u0000${i}`) ?? 0;
      offsets.push(pieces);
      lengthsM.push(len);
      pieces += Math.max(1, Math.ceil(len / SWEEP_PIECE_M));
      totalM += len;
    }
    layouts.set(p.id, { offsets, lengthsM, totalPieces: pieces, totalM });
    entry += p.lines.length;
  }
  const sweepById = new Map(sweeps.map((p) => [p.id, p]));

  const gridIndex =
    duties.length > 0
      ? new PolygonIndex(
          duties.map((d) => ({ id: d.id, polygons: d.polygons })),
          { cellM: 100 },
        )
      : undefined;

  return {
    collectionPointsOf: (vehicle) => pointsOf.get(vehicle) ?? NONE,
    sweepPlansOf: (vehicle) => sweepsOf.get(vehicle) ?? NONE,
    sweepMatch(planId: string, pos: Position): SweepMatch | undefined {
      const plan = sweepById.get(planId);
      const first = firstEntry.get(planId);
      if (plan === undefined || first === undefined || lineIndex === undefined) return undefined;
      let best: SweepMatch | undefined;
      for (let i = 0; i < plan.lines.length; i++) {
        const hit = lineIndex.distanceToRouteAt(first + i, pos, -1);
        if (best === undefined || hit.distanceM < best.distanceM) {
          best = { line: i, distanceM: hit.distanceM, alongM: hit.alongM };
        }
      }
      return best;
    },
    sweepLayout: (planId) => layouts.get(planId),
    dutyPlansOf(unit: string, officer: string | undefined): readonly DutyPlan[] {
      const a = dutiesOfCamera.get(unit) ?? NONE;
      if (officer === undefined) return a;
      const b = dutiesOfOfficer.get(officer);
      if (b === undefined) return a;
      if (a.length === 0) return b;
      return [...new Set([...a, ...b])].sort(byId);
    },
    gridDistance: (planId, pos) =>
      gridIndex?.has(planId) ? gridIndex.signedDistanceM(planId, pos) : Number.POSITIVE_INFINITY,
    uploadStationAt(pos: Position): UploadStation | undefined {
      let best: UploadStation | undefined;
      let bestM = Number.POSITIVE_INFINITY;
      const { kx, ky } = metresPerDegree(pos[1]);
      for (const s of stations) {
        const d = Math.hypot((pos[0] - s.position[0]) * kx, (pos[1] - s.position[1]) * ky);
        if (d <= s.radiusM && d < bestM) {
          best = s;
          bestM = d;
        }
      }
      return best;
    },
    planEntity: (kind: PlanRefKind, id: string) => entities.get(`${kind}:${id}`),
    incidentsOf: (unit) => incidentsOf.get(unit) ?? NONE,
  };
}
