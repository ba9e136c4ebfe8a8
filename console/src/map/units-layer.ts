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
 * by kind), a symbol layer for the heading of moving units and one for the kind's mark inside the circle. MapLibre tiles the source in its worker
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
/** Over this many units the heading and kind symbols wait for a closer zoom (fitSymbols). */
const LARGE_FLEET = 2000;
const SYMBOLS_MIN_ZOOM = { small: 10, large: 13 };

export class UnitsLayer {
  /** event received -> drawn, ms, per live event drawn */
  readonly lags: number[] = [];
  batches = 0;
  /** units on the map as of the last batch drawn (the benchmark's first render waits for all of them) */
  drawnUnits = 0;
  /** naive mode: setData calls not drawn yet */
  private sending = 0;
  private readonly onSource = new Set<number>();
  private dirty = new Set<string>();
  private stamps: number[] = [];
  private busy = false;
  private frame = 0;

  constructor(
    private readonly map: MapLibreMap,
    private readonly store: LiveStore,
    /** may change while the page runs (the benchmark measures both ways on one loaded page) */
    public mode: RenderMode = 'diff',
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
    for (const kind of Object.keys(KIND_COLORS) as UnitKind[])
      m.addImage(
        `cw-kind-${kind}`,
        kindMark(kind, KIND_MARK_PX * 2)
          .getContext('2d')!
          .getImageData(0, 0, KIND_MARK_PX * 2, KIND_MARK_PX * 2),
        { pixelRatio: 2 },
      );
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
      minzoom: SYMBOLS_MIN_ZOOM.small,
      filter: ['==', ['get', 'state'], 'moving'],
      layout: {
        'icon-image': 'cw-heading',
        'icon-rotate': ['coalesce', ['get', 'heading'], 0],
        'icon-rotation-alignment': 'map',
        // follows the circle's radius, so that the arrow stays just outside it
        'icon-size': ['interpolate', ['linear'], ['zoom'], 10, 0.6, 12, 0.75, 16, 1.1],
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
    // the kind as a white mark inside the circle (none for a muck truck), once the circles are big enough
    m.addLayer({
      id: 'units-kind',
      type: 'symbol',
      source: 'units',
      minzoom: SYMBOLS_MIN_ZOOM.small,
      filter: ['!=', ['get', 'kind'], 'muck_truck'],
      layout: {
        'icon-image': ['concat', 'cw-kind-', ['get', 'kind']],
        'icon-size': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 12, 0.7, 16, 1],
        'icon-allow-overlap': true,
        'icon-ignore-placement': true,
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
      'units-kind',
      (filter
        ? ['all', ['!=', ['get', 'kind'], 'muck_truck'], filter]
        : ['!=', ['get', 'kind'], 'muck_truck']) as FilterSpecification,
    );
    this.map.setFilter(
      'units-heading',
      (filter
        ? ['all', ['==', ['get', 'state'], 'moving'], filter]
        : ['==', ['get', 'state'], 'moving']) as FilterSpecification,
    );
  }

  setVisible(on: boolean): void {
    for (const id of ['units-circle', 'units-heading', 'units-kind'])
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
      this.drawnUnits = this.onSource.size;
      this.fitSymbols(this.onSource.size);
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
    this.sending++;
    try {
      await (this.map.getSource('units') as GeoJSONSource).setData({ type: 'FeatureCollection', features });
      await drawn(this.map, 'units');
      this.drawnUnits = features.length;
      this.fitSymbols(features.length);
      this.record(stamps);
    } finally {
      this.sending--;
    }
  }

  private largeFleet = false;

  /**
   * The heading arrows and kind marks are symbols, laid out by MapLibre's worker for every tile of the
   * source each time a batch changes it: drawn from the city-wide zoom for a fleet of up to
   * LARGE_FLEET units, only once zoomed in to a district for a larger one (10,000 arrows over a city
   * are clutter, and their layout is paid on every batch).
   */
  private fitSymbols(units: number): void {
    const large = units > LARGE_FLEET;
    if (large === this.largeFleet) return;
    this.largeFleet = large;
    const min = large ? SYMBOLS_MIN_ZOOM.large : SYMBOLS_MIN_ZOOM.small;
    for (const id of ['units-heading', 'units-kind']) this.map.setLayerZoomRange(id, min, 24);
  }

  /** Nothing waiting to be sent or drawn: the map shows the store. */
  settled(): boolean {
    return !this.busy && this.dirty.size === 0 && this.frame === 0 && this.sending === 0;
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

/**
 * A small arrow pointing north (rotated by the unit's heading), drawn on a canvas: no sprite server. The
 * icon is centred on the unit and the arrow sits in its top quarter, outside the unit's circle.
 */
function headingIcon(): ImageData {
  const size = 64;
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  const g = c.getContext('2d')!;
  g.fillStyle = '#212529';
  g.strokeStyle = '#ffffff';
  g.lineWidth = 2.5;
  g.beginPath();
  g.moveTo(size / 2, 2);
  g.lineTo(size / 2 + 9, 17);
  g.lineTo(size / 2 - 9, 17);
  g.closePath();
  g.stroke();
  g.fill();
  return g.getImageData(0, 0, size, size);
}

/** Size of a kind mark, CSS pixels. */
export const KIND_MARK_PX = 8;

/**
 * The mark drawn inside a unit's circle for its kind (white on the state colour): a sanitation vehicle a
 * bar (its brush), a body camera a ring (a lens), a muck truck nothing. The legend draws the same marks.
 */
export function kindMark(kind: UnitKind, px: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = px;
  c.height = px;
  const g = c.getContext('2d')!;
  g.fillStyle = '#ffffff';
  g.strokeStyle = '#ffffff';
  if (kind === 'sanitation') g.fillRect(px * 0.1, px * 0.36, px * 0.8, px * 0.28);
  if (kind === 'body_camera') {
    g.lineWidth = px * 0.16;
    g.beginPath();
    g.arc(px / 2, px / 2, px * 0.3, 0, 2 * Math.PI);
    g.stroke();
  }
  return c;
}
