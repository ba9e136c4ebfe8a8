import { PolygonIndex } from './geo/polygon-index.ts';
import { PolylineIndex } from './geo/polyline-index.ts';
import {
  DEFAULT_THRESHOLDS,
  type EntityRef,
  type Permit,
  type Position,
  type RegistrySnapshot,
  type Route,
  type Site,
  type Thresholds,
  type VehicleProfile,
  type Zone,
} from './model.ts';
import type { RouteMatch, World } from './types.ts';

/**
 * Turns a registry snapshot into the indexed `World` the rules query. Runs once per registry change
 * (architecture principle 6): grids over route segments and polygons are built here, so a per-fix query
 * costs the same with 10 or 1,000 permits.
 */
export function compileWorld(snapshot: RegistrySnapshot): World {
  const sites = new Map<string, Site>(snapshot.sites.map((s) => [s.id, s]));
  const routes = new Map<string, Route>(snapshot.routes.map((r) => [r.id, r]));
  const zones = new Map<string, Zone>(snapshot.zones.map((z) => [z.id, z]));
  const vehicles = new Map<string, VehicleProfile>(snapshot.vehicles.map((v) => [v.id, v]));

  const permitsByVehicle = new Map<string, Permit[]>();
  for (const permit of snapshot.permits) {
    for (const vehicle of permit.vehicles) {
      const list = permitsByVehicle.get(vehicle);
      if (list) list.push(permit);
      else permitsByVehicle.set(vehicle, [permit]);
    }
  }
  // Deterministic order (by id) so "the first valid permit" never depends on registry insertion order.
  for (const list of permitsByVehicle.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const routeIndex =
    snapshot.routes.length > 0
      ? new PolylineIndex(snapshot.routes.map((r) => ({ id: r.id, line: r.line, halfWidthM: r.corridorM })))
      : undefined;
  const siteIndex =
    snapshot.sites.length > 0
      ? new PolygonIndex(snapshot.sites.map((s) => ({ id: s.id, polygons: s.polygons })))
      : undefined;
  const zoneIndex =
    snapshot.zones.length > 0
      ? new PolygonIndex(snapshot.zones.map((z) => ({ id: z.id, polygons: z.polygons })))
      : undefined;

  const cityThresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...snapshot.thresholds.values };
  const mergedByPermit = new WeakMap<Permit, Thresholds>();
  const noPermits: readonly Permit[] = [];
  const noSites: readonly Site[] = [];
  const noZones: readonly Zone[] = [];
  const thresholdsRef: EntityRef = {
    kind: 'thresholds',
    id: snapshot.thresholds.id,
    version: snapshot.thresholds.version,
  };

  return {
    sitesAt(pos: Position): readonly Site[] {
      if (!siteIndex) return noSites;
      const ids = siteIndex.containing(pos);
      return ids.length === 0 ? noSites : ids.map((id) => sites.get(id)!);
    },
    zonesAt(pos: Position): readonly Zone[] {
      if (!zoneIndex) return noZones;
      const ids = zoneIndex.containing(pos);
      return ids.length === 0 ? noZones : ids.map((id) => zones.get(id)!);
    },
    routeDistance(routeId: string, pos: Position, hint?: number): RouteMatch | undefined {
      const hit = routeIndex?.distanceToRoute(routeId, pos, hint ?? -1);
      return hit
        ? { distanceM: hit.distanceM, segmentIndex: hit.segmentIndex, alongM: hit.alongM }
        : undefined;
    },
    siteBoundaryDistance(siteId: string, pos: Position): number {
      return siteIndex?.has(siteId) ? siteIndex.distanceToBoundaryM(siteId, pos) : Number.POSITIVE_INFINITY;
    },
    permitsOf: (vehicle) => permitsByVehicle.get(vehicle) ?? noPermits,
    site: (id) => sites.get(id),
    route: (id) => routes.get(id),
    zone: (id) => zones.get(id),
    vehicle: (id) => vehicles.get(id),
    thresholds(permit?: Permit): Thresholds {
      if (!permit?.thresholds) return cityThresholds;
      let merged = mergedByPermit.get(permit);
      if (!merged) {
        merged = { ...cityThresholds, ...permit.thresholds };
        mergedByPermit.set(permit, merged);
      }
      return merged;
    },
    thresholdsRef,
  };
}
