import { distanceToPolylineM, haversineM, type LatLon, type Polyline } from './tracks.ts';

/**
 * The little geometry the fleet simulator needs about the world it drives in (the ground-truth oracle
 * and the injection builders): containment in GeoJSON polygons, depth inside them, the nearest point of
 * a line. Planar at city scale, on true (noise-free) positions. Kept apart from geofence/ on purpose,
 * types included: the truth must not be computed by the code it is there to check (the oracle and what
 * it imports never import geofence/; test/simulators/oracle-independence.test.ts checks it).
 */

/** [longitude, latitude], WGS-84 (the GeoJSON order the scenario files and the registry use) */
export type Position = [lon: number, lat: number];
/** GeoJSON Polygon coordinates: outer ring first, then holes */
export type PolygonCoords = Position[][];

export const toLatLon = (p: Position): LatLon => ({ lat: p[1], lon: p[0] });
export const toPosition = (p: LatLon): Position => [p.lon, p.lat];

/** Even-odd ray casting on one ring (lon/lat treated as planar: fine at city scale). */
function inRing(ring: readonly Position[], lon: number, lat: number): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i]!;
    const b = ring[j]!;
    if (a[1] > lat !== b[1] > lat && lon < ((b[0] - a[0]) * (lat - a[1])) / (b[1] - a[1]) + a[0]) {
      inside = !inside;
    }
  }
  return inside;
}

/** Inside the outer ring and outside every hole. */
export function inPolygon(poly: PolygonCoords, p: LatLon): boolean {
  const [outer, ...holes] = poly;
  if (!outer || !inRing(outer, p.lon, p.lat)) return false;
  return !holes.some((h) => inRing(h, p.lon, p.lat));
}

export function inAnyPolygon(polys: readonly PolygonCoords[], p: LatLon): boolean {
  return polys.some((poly) => inPolygon(poly, p));
}

/** Distance from p to the nearest edge of the polygons, metres. */
export function edgeDistanceM(polys: readonly PolygonCoords[], p: LatLon): number {
  let best = Number.POSITIVE_INFINITY;
  for (const poly of polys)
    for (const ring of poly) best = Math.min(best, distanceToPolylineM(p, ring.map(toLatLon)));
  return best;
}

/** Signed depth: positive inside (distance to the edge), negative outside. */
export function depthM(polys: readonly PolygonCoords[], p: LatLon): number {
  const d = edgeDistanceM(polys, p);
  return inAnyPolygon(polys, p) ? d : -d;
}

/** Vertex average of the first polygon's outer ring (closing vertex left out): a point inside a convex site. */
export function centroidOf(polys: readonly PolygonCoords[]): LatLon {
  const ring = polys[0]?.[0] ?? [];
  const pts = ring.length > 1 ? ring.slice(0, -1) : ring;
  const lat = pts.reduce((s, p) => s + p[1], 0) / Math.max(1, pts.length);
  const lon = pts.reduce((s, p) => s + p[0], 0) / Math.max(1, pts.length);
  return { lat, lon };
}

export interface NearestOnLine {
  distanceM: number;
  /** index of the segment (vertex i to i+1) */
  segment: number;
  /** distance along the line to the nearest point, metres */
  alongM: number;
}

/** The nearest point of a polyline to p (planar around p). */
export function nearestOnLine(line: Polyline, p: LatLon): NearestOnLine {
  let best: NearestOnLine = { distanceM: Number.POSITIVE_INFINITY, segment: 0, alongM: 0 };
  const k = Math.cos((p.lat * Math.PI) / 180);
  for (let i = 0; i + 1 < line.points.length; i++) {
    const a = line.points[i]!;
    const b = line.points[i + 1]!;
    const ax = (a.lon - p.lon) * k;
    const ay = a.lat - p.lat;
    const dx = (b.lon - a.lon) * k;
    const dy = b.lat - a.lat;
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2)) : 0;
    const q = { lat: a.lat + t * (b.lat - a.lat), lon: a.lon + t * (b.lon - a.lon) };
    const d = haversineM(p, q);
    if (d < best.distanceM) {
      const seg = (line.cumulative[i + 1] as number) - (line.cumulative[i] as number);
      best = { distanceM: d, segment: i, alongM: (line.cumulative[i] as number) + t * seg };
    }
  }
  return best;
}

/** The point `m` metres from `from` towards `to`. */
export function towards(from: LatLon, to: LatLon, m: number): LatLon {
  const total = haversineM(from, to);
  if (total === 0) return from;
  const f = m / total;
  return { lat: from.lat + (to.lat - from.lat) * f, lon: from.lon + (to.lon - from.lon) * f };
}
