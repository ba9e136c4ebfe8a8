import {
  type DataDrivenPropertyValueSpecification,
  type GeoJSONSource,
  type Map as MapLibreMap,
  Marker,
} from 'maplibre-gl';
import { get } from '../api.ts';
import { coordsToDisplay } from '../crs.ts';
import { h } from '../dom.ts';

/**
 * The city's own layers from the compliance registry (GET /sites, /routes, /zones, as GeoJSON in
 * WGS-84): restricted and speed zones, construction (origin) and disposal sites, route corridors drawn
 * at their width in metres. They are the console's basemap, each group toggleable, with HTML labels.
 * A permit's own sites and route can be highlighted (views/registry.ts).
 */

// biome-ignore lint/suspicious/noExplicitAny: GeoJSON from the API, read field by field
export type Feature = { type: 'Feature'; id: string; geometry: any; properties: Record<string, any> };
export interface Collection {
  type: 'FeatureCollection';
  features: Feature[];
}

export type LayerGroup = 'zones' | 'sites' | 'routes' | 'labels';

const GROUP_LAYERS: Record<Exclude<LayerGroup, 'labels'>, string[]> = {
  zones: ['reg-zones-fill', 'reg-zones-line'],
  sites: ['reg-sites-fill', 'reg-sites-line'],
  routes: ['reg-routes-corridor', 'reg-routes-line'],
};

/** Metres per pixel at zoom 0 at the equator (512-px tiles as MapLibre draws them). */
const M_PER_PX_Z0 = 78_271.517;

export class RegistryLayers {
  sites: Feature[] = [];
  routes: Feature[] = [];
  zones: Feature[] = [];
  private labels: Marker[] = [];
  private readonly visible: Record<LayerGroup, boolean> = {
    zones: true,
    sites: true,
    routes: true,
    labels: true,
  };

  constructor(private readonly map: MapLibreMap) {}

  /** Adds the sources and layers (below the units). */
  install(): void {
    const m = this.map;
    const empty = { type: 'FeatureCollection', features: [] } as GeoJSON.FeatureCollection;
    m.on('moveend', () => this.declutter());
    for (const id of ['reg-zones', 'reg-sites', 'reg-routes', 'reg-highlight'])
      m.addSource(id, { type: 'geojson', data: empty });
    m.addLayer({
      id: 'reg-zones-fill',
      type: 'fill',
      source: 'reg-zones',
      paint: {
        'fill-color': ['match', ['get', 'kind'], 'restricted', '#d9363e', '#f08c00'],
        'fill-opacity': 0.14,
      },
    });
    m.addLayer({
      id: 'reg-zones-line',
      type: 'line',
      source: 'reg-zones',
      paint: {
        'line-color': ['match', ['get', 'kind'], 'restricted', '#d9363e', '#f08c00'],
        'line-width': 1.5,
        'line-dasharray': [3, 2],
      },
    });
    m.addLayer({
      id: 'reg-sites-fill',
      type: 'fill',
      source: 'reg-sites',
      paint: {
        'fill-color': ['match', ['get', 'kind'], 'origin', '#8d5a2b', '#2f8f5b'],
        'fill-opacity': 0.22,
      },
    });
    m.addLayer({
      id: 'reg-sites-line',
      type: 'line',
      source: 'reg-sites',
      paint: { 'line-color': ['match', ['get', 'kind'], 'origin', '#8d5a2b', '#2f8f5b'], 'line-width': 1.5 },
    });
    // The corridor at its true width: corridorM metres in pixels at each zoom (Web Mercator, at the
    // city's latitude, set when the routes load).
    m.addLayer({
      id: 'reg-routes-corridor',
      type: 'line',
      source: 'reg-routes',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#2b6cb0', 'line-opacity': 0.18, 'line-width': this.corridorWidth(31.8) },
    });
    m.addLayer({
      id: 'reg-routes-line',
      type: 'line',
      source: 'reg-routes',
      paint: { 'line-color': '#2b6cb0', 'line-width': 1.5, 'line-dasharray': [4, 2] },
    });
    m.addLayer({
      id: 'reg-highlight-line',
      type: 'line',
      source: 'reg-highlight',
      paint: { 'line-color': '#f5a623', 'line-width': 4, 'line-opacity': 0.9 },
    });
  }

  /** `['interpolate', exponential 2, zoom, ...]`: the corridor (corridorM each side) in pixels at this latitude. */
  private corridorWidth(lat: number): DataDrivenPropertyValueSpecification<number> {
    const perPx = (z: number) => (M_PER_PX_Z0 * Math.cos((lat * Math.PI) / 180)) / 2 ** z;
    return [
      'interpolate',
      ['exponential', 2],
      ['zoom'],
      8,
      ['max', 1, ['/', ['*', 2, ['coalesce', ['get', 'corridorM'], 50]], perPx(8)]],
      22,
      ['/', ['*', 2, ['coalesce', ['get', 'corridorM'], 50]], perPx(22)],
    ];
  }

  /** Loads (or reloads) the three collections; returns their bounds in map coordinates. */
  async load(): Promise<[[number, number], [number, number]] | undefined> {
    const [sites, routes, zones] = await Promise.all([
      get<Collection>('/sites').catch(() => ({ features: [] }) as unknown as Collection),
      get<Collection>('/routes').catch(() => ({ features: [] }) as unknown as Collection),
      get<Collection>('/zones').catch(() => ({ features: [] }) as unknown as Collection),
    ]);
    this.sites = sites.features;
    this.routes = routes.features;
    this.zones = zones.features;
    this.setData('reg-sites', this.sites);
    this.setData('reg-routes', this.routes);
    this.setData('reg-zones', this.zones);
    const lats = this.routes.flatMap((f) => (f.geometry.coordinates as number[][]).map((c) => c[1]!));
    if (lats.length > 0) {
      const mid = lats.reduce((a, b) => a + b, 0) / lats.length;
      this.map.setPaintProperty('reg-routes-corridor', 'line-width', this.corridorWidth(mid));
    }
    this.renderLabels();
    return this.bounds();
  }

  private setData(source: string, features: Feature[]): void {
    (this.map.getSource(source) as GeoJSONSource).setData({
      type: 'FeatureCollection',
      features: features.map((f) => ({
        type: 'Feature',
        geometry: { type: f.geometry.type, coordinates: coordsToDisplay(f.geometry.coordinates) },
        // the id as a property: filters and highlights match on it (string ids are not feature ids)
        properties: { ...f.properties, rid: f.id },
      })),
    } as GeoJSON.FeatureCollection);
  }

  /** Highlights these features (a permit's sites and route), or none. */
  highlight(features: Feature[]): void {
    (this.map.getSource('reg-highlight') as GeoJSONSource).setData({
      type: 'FeatureCollection',
      features: features.map((f) => ({
        type: 'Feature',
        geometry:
          f.geometry.type === 'LineString'
            ? { type: 'LineString', coordinates: coordsToDisplay(f.geometry.coordinates) }
            : {
                type: 'MultiLineString',
                coordinates: coordsToDisplay(
                  f.geometry.type === 'Polygon' ? f.geometry.coordinates : f.geometry.coordinates.flat(),
                ),
              },
        properties: { rid: f.id },
      })),
    } as GeoJSON.FeatureCollection);
  }

  setVisible(group: LayerGroup, on: boolean): void {
    this.visible[group] = on;
    if (group === 'labels') {
      for (const m of this.labels) m.getElement().hidden = !on;
      this.declutter();
      return;
    }
    for (const id of GROUP_LAYERS[group])
      this.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
    this.renderLabels();
  }

  isVisible(group: LayerGroup): boolean {
    return this.visible[group];
  }

  /** A label per feature of each visible group: at a polygon's first ring's centre, a route's middle vertex. */
  private renderLabels(): void {
    for (const m of this.labels) m.remove();
    this.labels = [];
    const add = (f: Feature, cls: string) => {
      const at = labelPoint(f);
      if (!at) return;
      const el = h('div', { class: `map-label ${cls}`, 'data-rid': f.id }, String(f.properties.name ?? f.id));
      el.hidden = !this.visible.labels;
      this.labels.push(new Marker({ element: el }).setLngLat(coordsToDisplay(at)).addTo(this.map));
    };
    if (this.visible.zones) for (const f of this.zones) add(f, `zone ${f.properties.kind}`);
    if (this.visible.sites) for (const f of this.sites) add(f, `site ${f.properties.kind}`);
    if (this.visible.routes) for (const f of this.routes) add(f, 'route');
    this.declutter();
  }

  /**
   * HTML labels do not take part in MapLibre's collision detection: a label that would cover one placed
   * before it (zones first, then sites, then the routes' long names) is hidden until the map moves or
   * zooms so that it fits, as map text would be.
   */
  private declutter(): void {
    const placed: DOMRect[] = [];
    for (const m of this.labels) {
      const el = m.getElement();
      el.classList.remove('collides');
      if (el.hidden) continue;
      const r = el.getBoundingClientRect();
      const hit = placed.some(
        (p) => r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top,
      );
      if (hit) el.classList.add('collides');
      else placed.push(r);
    }
  }

  bounds(): [[number, number], [number, number]] | undefined {
    const pts: number[][] = [];
    const walk = (c: unknown) => {
      if (Array.isArray(c) && typeof c[0] === 'number') pts.push(c as number[]);
      else if (Array.isArray(c)) c.forEach(walk);
    };
    for (const f of [...this.sites, ...this.routes, ...this.zones])
      walk(coordsToDisplay(f.geometry.coordinates));
    if (pts.length === 0) return undefined;
    const lons = pts.map((p) => p[0]!);
    const lats = pts.map((p) => p[1]!);
    return [
      [Math.min(...lons), Math.min(...lats)],
      [Math.max(...lons), Math.max(...lats)],
    ];
  }

  byId(kind: 'site' | 'route' | 'zone', id: string): Feature | undefined {
    const list = kind === 'site' ? this.sites : kind === 'route' ? this.routes : this.zones;
    return list.find((f) => f.id === id);
  }
}

/** Where a feature's label goes (WGS-84). */
export function labelPoint(f: Feature): [number, number] | undefined {
  const g = f.geometry;
  if (g.type === 'LineString') {
    const line = g.coordinates as [number, number][];
    return line[Math.floor(line.length / 2)];
  }
  const ring = (g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0]?.[0]) as
    | [number, number][]
    | undefined;
  if (!ring || ring.length === 0) return undefined;
  const pts = ring.slice(0, -1);
  return [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];
}
