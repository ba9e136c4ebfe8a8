import gcoord from 'gcoord';
import type { TileCrs } from '../client-config.ts';

/**
 * The coordinate system the map is drawn in. The API and the store are WGS-84; with GCJ-02 basemap tiles
 * (AMap, Tencent) everything drawn (units, tracks, corridors, sites, zones) is converted to GCJ-02 first,
 * so a truck on a road is drawn on that road and not 300-700 m beside it. Shapes drawn on such a map are
 * GCJ-02 and are saved with `?crs=GCJ02` (the registry converts them back). Outside China both are equal.
 */

type LonLat = [number, number];
let display: TileCrs = 'WGS84';

export function setDisplayCrs(crs: TileCrs): void {
  display = crs;
}

export function displayCrs(): TileCrs {
  return display;
}

/** WGS-84 `[lon, lat]` to the map's coordinates. */
export function toDisplay(p: readonly number[]): LonLat {
  if (display === 'WGS84') return [p[0]!, p[1]!];
  return gcoord.transform([p[0]!, p[1]!] as LonLat, gcoord.WGS84, gcoord.GCJ02) as LonLat;
}

/** Every position of a GeoJSON geometry's coordinates (any depth) to the map's coordinates. */
export function coordsToDisplay<T>(coords: T): T {
  if (display === 'WGS84') return coords;
  const walk = (c: unknown): unknown =>
    Array.isArray(c) && typeof c[0] === 'number' ? toDisplay(c as number[]) : (c as unknown[]).map(walk);
  return walk(coords) as T;
}
