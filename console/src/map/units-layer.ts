import type {
  ExpressionSpecification,
  FilterSpecification,
  GeoJSONSource,
  GeoJSONSourceDiff,
  Map as MapLibreMap,
} from 'maplibre-gl';
import { toDisplay } from '../crs.ts';
import type { LiveStore, Unit, UnitKind, UnitState } from '../store.ts';
import { drawn } from './map.ts';

/**
 * Every unit on the map, on the GPU: one GeoJSON source drawn by a circle layer (colour by state, ring
 * by kind) and a symbol layer for the heading of moving units. MapLibre tiles the source in its worker
 * and the GPU draws the tiles, so 10,000 units cost the main thread almost nothing to draw.
 *
 * Updates are batched: the store reports each changed unit; the layer collects them and, once the
 * previous batch is drawn, sends one diff (`updateData`: only the changed features cross to the worker)
 * for everything that changed meanwhile. At 2,000 fixes a second that is a few hundred changes per
 * batch, a few batches a second, and a marker always ends where the unit's last fix is.
 *
 * `mode: 'naive'` is the benchmark's baseline (bench/console.ts): `setData` with the whole collection for
 * every batch of events the stream delivers, which is what a page does that redraws from its store on
 * every message.
 */

export type RenderMode = 'diff' | 'naive';

export const STATE_COLORS: Record<UnitState, string> = {
  moving: '#2f9e44',
  stopped: '#1c7ed6',
  offline: '#868e96',
  violation: '#e03131',
};
export const KIND_COLORS: Record<UnitKind, string> = {
  muck_truck: '#3b2f2f',
  sanitation: '#0b7285',
  body_camera: '#7048e8',
};

export interface LayerFilter {
  firm?: string;
  kind?: UnitKind;
  state?: UnitState;
  /** lower-case substring of the unit id or plate */
  q?: string;
}

/** Lag samples kept (a ring): the benchmark reads them. */
const MAX_SAMPLES = 200_000;

export class UnitsLayer {
  /** event received -> drawn, ms, per live event drawn */
  readonly lags: number[] = [];
  batches = 0;
  private readonly onSource = new Set<number>();
  private dirty = new Set<string>();
  private stamps: number[] = [];
  private busy = false;
  private frame = 0;

  constructor(
    private readonly map: MapLibreMap,
    private readonly store: LiveStore,
    readonly mode: RenderMode = 'diff',
  ) {}

  install(): void {
    const m = this.map;
    m.addSource('units', {
      type: 'geojson',
      data: { type: 'FeatureCollection', features: [] },
      // points only: no simplification, small tiles buffer
      buffer: 8,
      tolerance: 0,
    });
    m.addImage('cw-heading', headingIcon(), { pixelRatio: 2 });
    const stateColor: ExpressionSpecification = [
      'match',
      ['get', 'state'],
      ...Object.entries(STATE_COLORS).flat(),
      '#868e96',
    ] as unknown as ExpressionSpecification;
    const kindColor = [
      'match',
      ['get', 'kind'],
      ...Object.entries(KIND_COLORS).flat(),
      '#333',
    ] as unknown as ExpressionSpecification;
    m.addLayer({
      id: 'units-heading',
      type: 'symbol',
      source: 'units',
      minzoom: 12,
      filter: ['==', ['get', 'state'], 'moving'],
      layout: {
        'icon-image': 'cw-heading',
        'icon-rotate': ['coalesce', ['get', 'heading'], 0],
        'icon-rotation-alignment': 'map',
        'icon-allow-overlap': true,
        'icon-ignore-placement': true,
      },
    });
    m.addLayer({
      id: 'units-circle',
      type: 'circle',
      source: 'units',
      paint: {
        'circle-color': stateColor,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 2.5, 12, 5, 16, 8],
        'circle-stroke-color': kindColor,
        'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 8, 0.5, 12, 1.5, 16, 2.5],
      },
    });
    m.addSource('unit-selected', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    m.addLayer({
      id: 'unit-selected',
      type: 'circle',
      source: 'unit-selected',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 8, 16, 16],
        'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': '#f5a623',
        'circle-stroke-width': 3,
      },
    });
    this.store.onUnits((changed, stamps) => this.changed(changed, stamps));
  }

  /** Shows only the units matching the filter (on the GPU: a layer filter, nothing re-sent). */
  setFilter(f: LayerFilter): void {
    const all: unknown[] = ['all'];
    if (f.firm) all.push(['==', ['get', 'firm'], f.firm]);
    if (f.kind) all.push(['==', ['get', 'kind'], f.kind]);
    if (f.state) all.push(['==', ['get', 'state'], f.state]);
    if (f.q) all.push(['in', f.q, ['get', 'q']]);
    const filter = (all.length > 1 ? all : null) as FilterSpecification | null;
    this.map.setFilter('units-circle', filter);
    this.map.setFilter(
      'units-heading',
      (filter
        ? ['all', ['==', ['get', 'state'], 'moving'], filter]
        : ['==', ['get', 'state'], 'moving']) as FilterSpecification,
    );
  }

  setVisible(on: boolean): void {
    for (const id of ['units-circle', 'units-heading'])
      this.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }

  /** Rings the selected unit (or none), following it as it moves. */
  select(id: string | undefined): void {
    this.selected = id;
    this.drawSelected();
  }

  private selected: string | undefined;

  private drawSelected(): void {
    const u = this.selected ? this.store.units.get(this.selected) : undefined;
    (this.map.getSource('unit-selected') as GeoJSONSource | undefined)?.setData({
      type: 'FeatureCollection',
      features: u ? [this.feature(u)] : [],
    });
  }

  private feature(u: Unit): GeoJSON.Feature {
    return {
      type: 'Feature',
      id: u.seq,
      geometry: { type: 'Point', coordinates: toDisplay([u.pos.lon, u.pos.lat]) },
      properties: {
        unit: u.id,
        kind: u.pos.kind,
        firm: u.pos.firm,
        state: u.state,
        heading: u.pos.heading ?? 0,
        q: `${u.id} ${u.pos.plate ?? ''}`.toLowerCase(),
      },
    };
  }

  private changed(changed: ReadonlySet<string>, stamps: readonly number[]): void {
    if (this.selected !== undefined && changed.has(this.selected)) this.drawSelected();
    if (this.mode === 'naive') {
      void this.sendAll(stamps);
      return;
    }
    for (const id of changed) this.dirty.add(id);
    for (const s of stamps) this.stamps.push(s);
    this.schedule();
  }

  private schedule(): void {
    if (this.busy || this.frame !== 0 || this.dirty.size === 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      void this.flush();
    });
  }

  /** One diff for everything changed since the last batch; the next waits until this one is drawn. */
  private async flush(): Promise<void> {
    if (this.busy || this.dirty.size === 0) return;
    this.busy = true;
    const ids = this.dirty;
    const stamps = this.stamps;
    this.dirty = new Set();
    this.stamps = [];
    const diff: GeoJSONSourceDiff = { add: [], update: [] };
    for (const id of ids) {
      const u = this.store.units.get(id);
      if (!u) continue;
      if (!this.onSource.has(u.seq)) {
        this.onSource.add(u.seq);
        diff.add!.push(this.feature(u));
        continue;
      }
      diff.update!.push({
        id: u.seq,
        newGeometry: { type: 'Point', coordinates: toDisplay([u.pos.lon, u.pos.lat]) },
        addOrUpdateProperties: [
          { key: 'state', value: u.state },
          { key: 'heading', value: u.pos.heading ?? 0 },
          { key: 'q', value: `${u.id} ${u.pos.plate ?? ''}`.toLowerCase() },
        ],
      });
    }
    try {
      await (this.map.getSource('units') as GeoJSONSource).updateData(diff);
      await drawn(this.map, 'units');
      this.record(stamps);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** The baseline: the whole collection, again, for this batch of events. */
  private async sendAll(stamps: readonly number[]): Promise<void> {
    const features: GeoJSON.Feature[] = [];
    for (const u of this.store.units.values()) features.push(this.feature(u));
    await (this.map.getSource('units') as GeoJSONSource).setData({ type: 'FeatureCollection', features });
    await drawn(this.map, 'units');
    this.record(stamps);
  }

  private record(stamps: readonly number[]): void {
    this.batches++;
    const now = performance.now();
    for (const s of stamps) {
      if (this.lags.length >= MAX_SAMPLES) this.lags.shift();
      this.lags.push(now - s);
    }
  }
}

/** A small arrow pointing north (rotated by the unit's heading), drawn on a canvas: no sprite server. */
function headingIcon(): ImageData {
  const size = 40;
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  const g = c.getContext('2d')!;
  g.fillStyle = '#1b5e20';
  g.strokeStyle = '#ffffff';
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(size / 2, 1);
  g.lineTo(size / 2 + 7, 13);
  g.lineTo(size / 2 - 7, 13);
  g.closePath();
  g.fill();
  g.stroke();
  return g.getImageData(0, 0, size, size);
}
