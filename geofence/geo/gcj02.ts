import gcoordModule from 'gcoord';
import type { LonLat } from './ruler.ts';

/**
 * GCJ-02 ("Mars coordinates" of Chinese web maps, offset 300-700 m from WGS-84 in cities) to WGS-84 for
 * geometry a firm or a department draws on such a map (routes, sites, zones). The engine computes in
 * WGS-84 only (domain.md), so conversion happens once, at registry time, through these functions.
 * gcoord's inverse is iterative and accurate to well under a metre; outside China GCJ-02 equals WGS-84
 * and the input comes back unchanged.
 */

// gcoord ships CommonJS with a type file that declares no exports; describe the members we use
// (same pattern as ingest/normalize.ts).
interface Gcoord {
  transform(input: [number, number], from: string, to: string): [number, number];
  GCJ02: string;
  WGS84: string;
}
const gcoord = gcoordModule as unknown as Gcoord;

/** One position `[lon, lat]` from GCJ-02 to WGS-84. */
export function gcj02ToWgs84(p: LonLat): [number, number] {
  return gcoord.transform([p[0], p[1]], gcoord.GCJ02, gcoord.WGS84);
}

/** One position from WGS-84 to GCJ-02 (for display on Chinese web maps, and for tests). */
export function wgs84ToGcj02(p: LonLat): [number, number] {
  return gcoord.transform([p[0], p[1]], gcoord.WGS84, gcoord.GCJ02);
}

/** A polyline (route) or a ring, position by position. */
export function gcj02LineToWgs84(line: readonly LonLat[]): [number, number][] {
  return line.map(gcj02ToWgs84);
}

/** GeoJSON Polygon coordinates (outer ring, then holes). */
export function gcj02PolygonToWgs84(rings: readonly (readonly LonLat[])[]): [number, number][][] {
  return rings.map(gcj02LineToWgs84);
}

/** GeoJSON MultiPolygon coordinates (a list of polygons). */
export function gcj02MultiPolygonToWgs84(
  polygons: readonly (readonly (readonly LonLat[])[])[],
): [number, number][][][] {
  return polygons.map(gcj02PolygonToWgs84);
}
