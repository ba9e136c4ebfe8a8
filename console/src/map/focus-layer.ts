import type { FilterSpecification, GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { coordsToDisplay } from '../crs.ts';

/**
 * What a view puts in front of everything else: a violation's positions, a replayed track with its
 * violation segments and the replay marker, an evidence package's track and geometry. One set of
 * sources and layers, above the units; coordinates in WGS-84, converted for display here.
 */

export type FocusRole =
  | 'track'
  | 'violation-segment'
  | 'violation-point'
  | 'marker'
  | 'entity-area'
  | 'entity-line'
  | 'start'
  | 'end';

export interface FocusFeature {
  role: FocusRole;
  geometry: { type: string; coordinates: unknown };
  properties?: Record<string, unknown>;
}

export class FocusLayer {
  constructor(private readonly map: MapLibreMap) {}

  install(): void {
    const m = this.map;
    const empty = { type: 'FeatureCollection', features: [] } as GeoJSON.FeatureCollection;
    m.addSource('focus', { type: 'geojson', data: empty });
    m.addSource('focus-marker', { type: 'geojson', data: empty });
    const role = (r: FocusRole) => ['==', ['get', 'role'], r] as FilterSpecification;
    m.addLayer({
      id: 'focus-entity-area',
      type: 'fill',
      source: 'focus',
      filter: role('entity-area'),
      paint: { 'fill-color': '#f08c00', 'fill-opacity': 0.18, 'fill-outline-color': '#d9480f' },
    });
    m.addLayer({
      id: 'focus-entity-line',
      type: 'line',
      source: 'focus',
      filter: role('entity-line'),
      paint: { 'line-color': '#1c5fb8', 'line-width': 3, 'line-opacity': 0.6 },
    });
    m.addLayer({
      id: 'focus-track',
      type: 'line',
      source: 'focus',
      filter: role('track'),
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': '#364fc7', 'line-width': 3 },
    });
    m.addLayer({
      id: 'focus-violation-segment',
      type: 'line',
      source: 'focus',
      filter: role('violation-segment'),
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': '#e03131', 'line-width': 5 },
    });
    m.addLayer({
      id: 'focus-points',
      type: 'circle',
      source: 'focus',
      filter: ['in', ['get', 'role'], ['literal', ['violation-point', 'start', 'end']]],
      paint: {
        'circle-radius': 7,
        'circle-color': ['match', ['get', 'role'], 'start', '#2f9e44', 'end', '#495057', '#e03131'],
        'circle-stroke-color': '#fff',
        'circle-stroke-width': 2,
      },
    });
    m.addLayer({
      id: 'focus-marker',
      type: 'circle',
      source: 'focus-marker',
      paint: {
        'circle-radius': 8,
        'circle-color': '#f59f00',
        'circle-stroke-color': '#212529',
        'circle-stroke-width': 2,
      },
    });
  }

  set(features: FocusFeature[]): void {
    (this.map.getSource('focus') as GeoJSONSource | undefined)?.setData({
      type: 'FeatureCollection',
      features: features.map((f) => ({
        type: 'Feature',
        geometry: { type: f.geometry.type, coordinates: coordsToDisplay(f.geometry.coordinates) },
        properties: { ...f.properties, role: f.role },
      })) as GeoJSON.Feature[],
    });
  }

  /** The moving marker (replay): one point, WGS-84, or none. */
  marker(at: [number, number] | undefined): void {
    (this.map.getSource('focus-marker') as GeoJSONSource | undefined)?.setData({
      type: 'FeatureCollection',
      features: at
        ? [{ type: 'Feature', geometry: { type: 'Point', coordinates: coordsToDisplay(at) }, properties: {} }]
        : [],
    });
  }

  clear(): void {
    this.set([]);
    this.marker(undefined);
  }
}

/** Room for the card on the map's right when something is framed beside it. */
export const CARD_PADDING = { top: 80, bottom: 80, left: 80, right: 480 };

/** Bounds of some WGS-84 coordinates, in display coordinates. */
export function boundsOf(coords: number[][]): [[number, number], [number, number]] | undefined {
  if (coords.length === 0) return undefined;
  const d = coordsToDisplay(coords) as number[][];
  const lons = d.map((p) => p[0]!);
  const lats = d.map((p) => p[1]!);
  return [
    [Math.min(...lons), Math.min(...lats)],
    [Math.max(...lons), Math.max(...lats)],
  ];
}
