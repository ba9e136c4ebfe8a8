import type { Route as PermitRoute, Site } from '../../geofence/model.ts';
import type { Edition } from './codec/header.ts';
import { AREA_ATTR, encode8604, type PolygonArea } from './codec/msg-8604.ts';
import { encode8606, ROUTE_ATTR, type Route, type RoutePoint, SECTION_ATTR } from './codec/msg-8606.ts';

/**
 * A permit's route and sites as the terminal's own route and areas (0x8606, 0x8604), so that its route
 * alarms (alarm bits 21 进出路线 and 23 路线偏离) follow the permit the platform judges by. Pure.
 *
 * Ids: JT/T 808 route and area ids are DWORDs, the registry's are strings: the DWORD is the FNV-1a hash
 * of the registry id, stable across pushes, so a push replaces the terminal's earlier copy (§8 设置路线:
 * a route with the same id is updated).
 */

export function dwordId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The route: every vertex a turning point, the section to the next vertex as wide as the corridor
 * (1-255 m), its speed limits (day, and night in 2019) where the route has a limit on that stretch.
 * Alarms on leaving go to the driver and the platform.
 */
export function routeCommand(route: PermitRoute, edition: Edition): Buffer {
  const points: RoutePoint[] = route.line.map(([lon, lat], i) => {
    const limit = route.limits.find((l) => i >= l.from && i < l.to);
    const p: RoutePoint = {
      pointId: i + 1,
      sectionId: i + 1,
      lat,
      lon,
      width: Math.min(255, Math.max(1, Math.round(route.corridorM))),
      attributes: 0,
    };
    if (limit?.speedLimitKmh !== undefined) {
      p.attributes |= SECTION_ATTR.speedLimit;
      p.maxSpeed = Math.round(limit.speedLimitKmh);
      // the platform's OVERSPEED waits 10 s too (domain.md)
      p.overspeedS = 10;
      p.nightMaxSpeed = Math.round(limit.nightLimitKmh ?? limit.speedLimitKmh);
    }
    return p;
  });
  const r: Route = {
    id: dwordId(route.id),
    attributes: ROUTE_ATTR.exitToDriver | ROUTE_ATTR.exitToPlatform,
    points,
    name: route.name.slice(0, 60),
  };
  return encode8606(r, edition);
}

/** A site as a polygon area (its first polygon's outer ring); alarms on entry and exit to the platform. */
export function areaCommand(site: Site, edition: Edition): Buffer {
  const ring = site.polygons[0]?.[0] ?? [];
  // a closed ring repeats its first vertex: the terminal closes the polygon itself
  const open =
    ring.length > 1 && ring[0]![0] === ring[ring.length - 1]![0] && ring[0]![1] === ring[ring.length - 1]![1]
      ? ring.slice(0, -1)
      : ring;
  const south = open.some(([, lat]) => lat < 0);
  const west = open.some(([lon]) => lon < 0);
  const area: PolygonArea = {
    id: dwordId(site.id),
    attributes:
      AREA_ATTR.entryToPlatform |
      AREA_ATTR.exitToPlatform |
      (south ? AREA_ATTR.south : 0) |
      (west ? AREA_ATTR.west : 0),
    vertices: open.map(([lon, lat]) => ({ lat, lon })),
    name: site.name.slice(0, 60),
  };
  return encode8604(area, edition);
}
