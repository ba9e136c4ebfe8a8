import { compilePlans } from './compile-plans.ts';
import { PolygonIndex } from './geo/polygon-index.ts';
import { PolylineIndex } from './geo/polyline-index.ts';
import type {
  EntityRef,
  Permit,
  Position,
  RegistrySnapshot,
  Route,
  Site,
  Thresholds,
  VehicleProfile,
  Zone,
} from './model.ts';
import { DEFAULT_THRESHOLDS } from './thresholds/index.ts';
import type { RouteMatch, World } from './types.ts';

function copyZone(z: Zone): Zone {
  const copy: Zone = { ...z, windows: [...z.windows] };
  if (z.appliesTo) copy.appliesTo = [...z.appliesTo];
  return copy;
}

function copyRoute(r: Route): Route {
  return { ...r, limits: r.limits.map((l) => ({ ...l })) };
}

interface VehicleEntry {
  profile: VehicleProfile | undefined;
  permits: readonly Permit[];
}

interface RouteEntry {
  route: Route;
  /** registration index in the route index */
  index: number;
}

/**
 * Turns a registry snapshot into the indexed `World` the rules query. Runs once per registry change
 * (architecture principle 6): grids over route segments and polygons are built here, so a per-fix query
 * costs the same with 10 or 1,000 permits.
 */
export function compileWorld(snapshot: RegistrySnapshot): World {
  // Compact copies of the entities the rules read on every fix, made here in one go so that they lie
  // next to each other in memory: the registry's own objects sit between megabytes of geometry (a route's
  // vertices, a site's rings), and with thousands of vehicles interleaved every per-fix read of one was a
  // cache and TLB miss. They are made permit by permit (its routes, its sites, itself, its vehicles), so
  // what one vehicle's fix reads is mostly in a few neighbouring cache lines. Same field values; geometry
  // (lines, polygons) is shared, not copied.
  const siteList: Site[] = new Array(snapshot.sites.length);
  const routeList: Route[] = new Array(snapshot.routes.length);
  const siteIndex0 = new Map(snapshot.sites.map((x, i) => [x.id, i]));
  const routeIndex0 = new Map(snapshot.routes.map((x, i) => [x.id, i]));
  const profile0 = new Map(snapshot.vehicles.map((v) => [v.id, v]));
  const noPermits: readonly Permit[] = Object.freeze([]);
  const vehicles = new Map<string, VehicleEntry>();
  const siteAt = (i: number): Site => {
    siteList[i] ??= { ...snapshot.sites[i]! };
    return siteList[i]!;
  };
  const routeAt = (i: number): Route => {
    routeList[i] ??= copyRoute(snapshot.routes[i]!);
    return routeList[i]!;
  };
  const vehicleAt = (id: string): VehicleEntry => {
    let entry = vehicles.get(id);
    if (entry === undefined) {
      const profile = profile0.get(id);
      entry = { profile: profile && { ...profile }, permits: noPermits };
      vehicles.set(id, entry);
    }
    return entry;
  };
  for (const p of snapshot.permits) {
    // a permit's ids become the very strings of the copies: "is this one of its sites" compares pointers
    const routeId = (id: string) => {
      const i = routeIndex0.get(id);
      return i === undefined ? id : routeAt(i).id;
    };
    const siteId = (id: string) => {
      const i = siteIndex0.get(id);
      return i === undefined ? id : siteAt(i).id;
    };
    const permit: Permit = {
      ...p,
      routes: p.routes.map(routeId),
      origins: p.origins.map(siteId),
      disposals: p.disposals.map(siteId),
      windows: [...p.windows],
    };
    for (const v of p.vehicles) {
      const entry = vehicleAt(v);
      entry.permits = entry.permits === noPermits ? [permit] : [...entry.permits, permit];
    }
  }
  for (let i = 0; i < siteList.length; i++) siteAt(i);
  for (let i = 0; i < routeList.length; i++) routeAt(i);
  for (const v of snapshot.vehicles) vehicleAt(v.id);
  const zoneList = snapshot.zones.map(copyZone);
  const sites = new Map<string, Site>(siteList.map((x) => [x.id, x]));
  const zones = new Map<string, Zone>(zoneList.map((z) => [z.id, z]));
  // route id -> the route and its registration index in the route index (resolved once per fix: memo below)
  const routes = new Map<string, RouteEntry>(routeList.map((r, index) => [r.id, { route: r, index }]));
  for (const entry of vehicles.values()) {
    // Deterministic order (by id) so "the first valid permit" never depends on registry insertion order.
    if (entry.permits.length > 1) {
      (entry.permits as Permit[]).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
  }
  const unknownVehicle: VehicleEntry = { profile: undefined, permits: noPermits };

  // One-entry memos: the engine asks for a vehicle's permits and then its profile, and for a route and
  // then its distance, with the same id, so the second lookup is free. Derived values only.
  let memoVehicle: string | undefined;
  let memoVehicleEntry = unknownVehicle;
  const vehicleEntry = (id: string): VehicleEntry => {
    if (id !== memoVehicle) {
      memoVehicleEntry = vehicles.get(id) ?? unknownVehicle;
      memoVehicle = id;
    }
    return memoVehicleEntry;
  };
  let memoRoute: string | undefined;
  let memoRouteEntry: RouteEntry | undefined;
  const routeEntry = (id: string): RouteEntry | undefined => {
    if (id !== memoRoute) {
      memoRouteEntry = routes.get(id);
      memoRoute = id;
    }
    return memoRouteEntry;
  };

  const routeIndex =
    snapshot.routes.length > 0
      ? new PolylineIndex(snapshot.routes.map((r) => ({ id: r.id, line: r.line, halfWidthM: r.corridorM })))
      : undefined;
  // 100 m cells (not the index's 250 m default): a fix in a cell crossed by an edge needs an exact test,
  // and at 250 m that was every second fix in the bench city, at 100 m one in five; a few MB of grid.
  const siteIndex =
    snapshot.sites.length > 0
      ? new PolygonIndex(
          snapshot.sites.map((s) => ({ id: s.id, polygons: s.polygons })),
          { cellM: 100 },
        )
      : undefined;
  const zoneIndex =
    snapshot.zones.length > 0
      ? new PolygonIndex(
          snapshot.zones.map((z) => ({ id: z.id, polygons: z.polygons })),
          { cellM: 100 },
        )
      : undefined;

  const cityThresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...snapshot.thresholds.values };
  const mergedByPermit = new WeakMap<Permit, Thresholds>();
  const noSites: readonly Site[] = Object.freeze([]);
  const noZones: readonly Zone[] = Object.freeze([]);
  const thresholdsRef: EntityRef = {
    kind: 'thresholds',
    id: snapshot.thresholds.id,
    version: snapshot.thresholds.version,
  };

  const plans = compilePlans(snapshot);

  return {
    ...plans,
    sitesAt(pos: Position): readonly Site[] {
      return siteIndex ? siteIndex.containingOf(pos, siteList, noSites) : noSites;
    },
    zonesAt(pos: Position): readonly Zone[] {
      return zoneIndex ? zoneIndex.containingOf(pos, zoneList, noZones) : noZones;
    },
    routeDistance(routeId: string, pos: Position, hint?: number): RouteMatch | undefined {
      const entry = routeEntry(routeId);
      // the index's hit is a fresh object with the RouteMatch fields (and a few more): no copy needed
      return entry && routeIndex ? routeIndex.distanceToRouteAt(entry.index, pos, hint ?? -1) : undefined;
    },
    siteBoundaryDistance(siteId: string, pos: Position): number {
      return siteIndex?.has(siteId) ? siteIndex.distanceToBoundaryM(siteId, pos) : Number.POSITIVE_INFINITY;
    },
    permitsOf: (vehicle) => vehicleEntry(vehicle).permits,
    site: (id) => sites.get(id),
    route: (id) => routeEntry(id)?.route,
    zone: (id) => zones.get(id),
    vehicle: (id) => vehicleEntry(id).profile,
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
