/**
 * What the platform tells the console page at GET /console/config.json: the optional raster basemap and
 * the coordinate system everything is drawn in. Shared by the server (console/server.ts, validated from
 * the CONSOLE_TILE_* settings in platform/config.ts) and the page (console/src/). Pure, no imports: the
 * browser bundle includes it.
 */

/** WGS84: OSM, Tianditu-style tiles. GCJ02: AMap, Tencent-style tiles (offset 300-700 m in Chinese cities). */
export const TILE_CRS = ['WGS84', 'GCJ02'] as const;
export type TileCrs = (typeof TILE_CRS)[number];

export interface ConsoleClientConfig {
  /** the coordinate system the map is drawn in: that of the tiles; WGS84 without tiles */
  displayCrs: TileCrs;
  /** optional raster basemap; without it the registry's layers are the basemap */
  tiles?: { urls: string[]; attribution?: string; maxZoom: number };
  /** the platform's version (package.json), shown in the page's footer */
  version: string;
}

/**
 * A comma list of tile URL templates (several for subdomains: MapLibre spreads requests over them), each
 * http(s) with {z}, {x} and {y}. The reason when it is not.
 */
export function parseTileUrls(text: string): string[] | string {
  const urls = text
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  if (urls.length === 0) return 'expected one or more tile URL templates, comma separated';
  for (const url of urls) {
    if (!/^https?:\/\/[^/\s]+/.test(url)) return `not an http(s) URL: ${url.slice(0, 80)}`;
    for (const p of ['{z}', '{x}', '{y}'])
      if (!url.includes(p))
        return `a tile URL template needs {z}, {x} and {y} (missing ${p}): ${url.slice(0, 80)}`;
  }
  return urls;
}

/** The origins of the tile URLs, for the page's Content-Security-Policy. */
export function tileOrigins(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const url of urls) {
    const m = /^(https?:\/\/[^/?#]+)/.exec(url.replaceAll(/\{[a-z-]+\}/g, 'x'));
    if (m?.[1]) out.add(m[1]);
  }
  return [...out];
}
