import {
  Map as MapLibreMap,
  NavigationControl,
  ScaleControl,
  type StyleSpecification,
  setWorkerUrl,
} from 'maplibre-gl';
import type { ConsoleClientConfig } from '../../client-config.ts';

/**
 * The one map every view draws on. Its basemap is the city's own registry layers (map/registry-layers.ts)
 * over a plain background, so it is useful with no tiles and no network; an optional raster basemap
 * comes from the configuration (CONSOLE_TILE_URL), in its own coordinate system (crs.ts). The style has
 * no glyphs URL (no font server is reachable offline): names are HTML labels, not map text.
 */

declare const __MAPLIBRE_WORKER_URL__: string;

/** Hefei, the demo city, until the registry's layers say where the city is. */
export const DEFAULT_CENTER: [number, number] = [117.25, 31.83];

export function createMap(container: HTMLElement, config: ConsoleClientConfig): MapLibreMap {
  // The worker is served beside the bundle (console/build.ts), never from a CDN.
  setWorkerUrl(__MAPLIBRE_WORKER_URL__);
  const style: StyleSpecification = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9edf1' } }],
  };
  if (config.tiles) {
    style.sources.basemap = {
      type: 'raster',
      tiles: config.tiles.urls,
      tileSize: 256,
      maxzoom: config.tiles.maxZoom,
      ...(config.tiles.attribution ? { attribution: config.tiles.attribution } : {}),
    };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  const map = new MapLibreMap({
    container,
    style,
    center: DEFAULT_CENTER,
    zoom: 11,
    attributionControl: config.tiles?.attribution ? { compact: true } : false,
    // Keeps the last frame readable for screenshots and for tests reading pixels.
    canvasContextAttributes: { preserveDrawingBuffer: true },
    fadeDuration: 0,
  });
  map.addControl(new NavigationControl({ showCompass: true }), 'top-right');
  map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-right');
  return map;
}

/** Resolves once the style is loaded (layers may be added). */
export function styleReady(map: MapLibreMap): Promise<void> {
  return map.isStyleLoaded()
    ? Promise.resolve()
    : new Promise((resolve) => map.once('load', () => resolve()));
}

/** Resolves at the first render after which the source's tiles are all loaded: what was set is drawn. */
export function drawn(map: MapLibreMap, source: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (map.getSource(source) !== undefined && !map.isSourceLoaded(source)) return;
      map.off('render', check);
      resolve();
    };
    map.on('render', check);
    map.triggerRepaint();
  });
}
