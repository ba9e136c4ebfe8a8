import { CellListBuilder, type CellLists, colOf, fitGrid, type GridSpec, inGrid, rowOf } from './grid.ts';
import { type LonLat, Ruler } from './ruler.ts';
import { type NearestOut, SegmentTree } from './segment-tree.ts';

/**
 * Sites (工地, 消纳场) and zones (禁行区, speed zones) as polygons with holes, indexed once per registry
 * change:
 * - `containing(point)`: a uniform grid whose cells are classified per polygon at build time as fully
 *   inside (answered with no geometry at all), boundary (exact test) or outside (not listed). Most fixes
 *   land in cells of the first or last kind; a boundary cell costs one exact test per polygon listed.
 * - the exact test is even-odd ray casting in projected metres (affine in lon/lat, so it answers as in
 *   lon/lat), over only the edges in the point's horizontal slab of that polygon, so big polygons stay
 *   cheap. A point on an edge (within EDGE_EPS_M, which only absorbs rounding) counts as inside, for the
 *   outer ring and for holes alike: the edge of a hole is the polygon's boundary too.
 * - `distanceToBoundaryM`: exact distance to the nearest edge of any ring (box tree, see segment-tree.ts),
 *   for hysteresis ("inside by more than X m").
 *
 * Geometry is expected valid (rings not self-intersecting, holes inside their shell, parts of a
 * MultiPolygon disjoint): validation belongs to registry time (turf). Parts are tested separately, so
 * overlapping parts still union correctly.
 */

/** GeoJSON Polygon coordinates: outer ring, then holes. Rings may be given closed or open. */
export type PolygonRings = readonly (readonly LonLat[])[];

export interface ZoneInput {
  readonly id: string;
  /** one or more polygons (a MultiPolygon is a list of polygons) */
  readonly polygons: readonly PolygonRings[];
}

/** GeoJSON geometry accepted by `polygonsOf`. */
export type PolygonGeometry =
  | { readonly type: 'Polygon'; readonly coordinates: PolygonRings }
  | { readonly type: 'MultiPolygon'; readonly coordinates: readonly PolygonRings[] };

/** The polygon list of a GeoJSON Polygon or MultiPolygon. */
export function polygonsOf(geometry: PolygonGeometry): readonly PolygonRings[] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

export interface PolygonIndexOptions {
  ruler?: Ruler;
  /** grid cell size in metres (default 250) */
  cellM?: number;
  /** cap on dense grid cells (default 4,000,000) */
  maxCells?: number;
}

const NONE: readonly number[] = Object.freeze([]);

/** A point this close to an edge (metres) is on it. Rounding slack only: GPS noise is handled by rules. */
export const EDGE_EPS_M = 1e-3;

interface Part {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  slabH: number;
  nSlabs: number;
  /** per slab, the range of its edges in slabXY (CSR offsets) */
  slabOff: Int32Array;
  /**
   * The slabs' edges as [xi, yi, xj, yj], slab after slab: an exact test reads one contiguous run
   * instead of chasing vertex indexes into the shared coordinate arrays.
   */
  slabXY: Float64Array;
}

export class PolygonIndex {
  readonly ruler: Ruler;
  private readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly segA: Int32Array;
  private readonly parts: Part[][] = [];
  private readonly trees: SegmentTree[] = [];
  private readonly grid: GridSpec;
  private readonly cells: CellLists;
  /**
   * The point of an exact test (projected x, y), a scratch: doubles passed as arguments to a call that
   * is not inlined are boxed (allocated), and this runs on every fix.
   */
  private readonly pt = new Float64Array(2);
  /** 0, 1, 2, ...: `containingIndexes` is `containingOf` these */
  private readonly order: number[] = [];

  constructor(zones: readonly ZoneInput[], opts: PolygonIndexOptions = {}) {
    this.ruler = opts.ruler ?? Ruler.around(allVertices(zones));
    // closed rings, validated
    const closed: LonLat[][][][] = [];
    let nVert = 0;
    let nSeg = 0;
    for (const z of zones) {
      if (this.byId.has(z.id)) throw new Error(`duplicate zone id ${z.id}`);
      if (z.polygons.length === 0) throw new Error(`zone ${z.id} has no polygon`);
      this.byId.set(z.id, this.ids.length);
      this.order.push(this.ids.length);
      this.ids.push(z.id);
      const polys = z.polygons.map((rings) => {
        if (rings.length === 0) throw new Error(`zone ${z.id}: polygon without rings`);
        return rings.map((ring) => {
          for (const p of ring) {
            if (!Number.isFinite(p[0]) || !Number.isFinite(p[1]))
              throw new RangeError(`zone ${z.id}: bad vertex`);
          }
          const first = ring[0];
          const last = ring[ring.length - 1];
          const out: LonLat[] =
            first && last && (first[0] !== last[0] || first[1] !== last[1]) ? [...ring, first] : [...ring];
          if (out.length < 4) throw new Error(`zone ${z.id}: a ring needs at least three distinct vertices`);
          nVert += out.length;
          nSeg += out.length - 1;
          return out;
        });
      });
      closed.push(polys);
    }

    this.xs = new Float64Array(nVert);
    this.ys = new Float64Array(nVert);
    this.segA = new Int32Array(nSeg);
    let v = 0;
    let s = 0;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    const zoneSeg: Array<[number, number]> = [];
    for (const polys of closed) {
      const zs0 = s;
      const parts: Part[] = [];
      for (const rings of polys) {
        const ps0 = s;
        for (const ring of rings) {
          for (let i = 0; i < ring.length; i++) {
            const [x, y] = this.ruler.project(ring[i]!);
            this.xs[v] = x;
            this.ys[v] = y;
            if (x < minX) minX = x;
            if (x > maxX) maxX = x;
            if (y < minY) minY = y;
            if (y > maxY) maxY = y;
            if (i > 0) this.segA[s++] = v - 1;
            v++;
          }
        }
        parts.push(this.buildPart(ps0, s));
      }
      this.parts.push(parts);
      zoneSeg.push([zs0, s]);
      this.trees.push(new SegmentTree(this.xs, this.ys, this.segA, zs0, s));
    }

    // 1 m margin so points on an edge at the extent's border still find their cell
    this.grid = fitGrid(
      minX - 1,
      minY - 1,
      maxX + 1,
      maxY + 1,
      opts.cellM ?? 250,
      opts.maxCells ?? 4_000_000,
    );
    this.cells = this.classifyCells(zoneSeg);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Ids of every polygon containing the point (edges count as inside), in registration order. */
  containing(point: LonLat): string[] {
    return this.containingIndexes(point).map((z) => this.ids[z]!);
  }

  /**
   * Registration indexes of every polygon containing the point, ascending; a shared frozen empty array
   * when none (most fixes), so the per-fix query allocates nothing then.
   */
  containingIndexes(point: LonLat): readonly number[] {
    return this.containingOf(point, this.order, NONE);
  }

  /**
   * `items[z]` for every polygon z containing the point (ascending z), `none` when there is none: the
   * compiled world's per-fix sites and zones, built without an intermediate list of indexes.
   */
  containingOf<T>(point: LonLat, items: readonly T[], none: readonly T[]): readonly T[] {
    const px = this.ruler.projectX(point[0]);
    const py = this.ruler.projectY(point[1]);
    const g = this.grid;
    if (!inGrid(g, px, py)) return none;
    const cell = rowOf(g, py) * g.nx + colOf(g, px);
    const { offsets, values } = this.cells;
    const end = offsets[cell + 1]!;
    let out: T[] | undefined;
    this.pt[0] = px;
    this.pt[1] = py;
    for (let i = offsets[cell]!; i < end; i++) {
      const e = values[i]!;
      const z = e >> 1;
      if ((e & 1) === 1 || this.zoneContains(z)) {
        if (out === undefined) out = [items[z]!];
        else out.push(items[z]!);
      }
    }
    return out ?? none;
  }

  /** Whether one polygon contains the point (edges count as inside); false for an unknown id. */
  contains(id: string, point: LonLat): boolean {
    const z = this.byId.get(id);
    if (z === undefined) return false;
    this.pt[0] = this.ruler.projectX(point[0]);
    this.pt[1] = this.ruler.projectY(point[1]);
    return this.zoneContains(z);
  }

  /** Metres from the point to the nearest edge of the polygon (any ring); NaN for an unknown id. */
  distanceToBoundaryM(id: string, point: LonLat): number {
    const z = this.byId.get(id);
    if (z === undefined) return Number.NaN;
    const [px, py] = this.ruler.project(point);
    const out: NearestOut = { seg: -1, t: 0, d2: Infinity };
    this.trees[z]!.nearest(
      px,
      py,
      this.ruler.kxAt(point[1]) / this.ruler.kx,
      this.ruler.kyAt(point[1]) / this.ruler.ky,
      -1,
      out,
    );
    return Math.sqrt(out.d2);
  }

  /**
   * Boundary distance with a sign: negative inside, positive outside (0 on the edge). Hysteresis reads
   * "entered" as < -X and "left" as > +X.
   */
  signedDistanceM(id: string, point: LonLat): number {
    const d = this.distanceToBoundaryM(id, point);
    return this.contains(id, point) ? -d : d;
  }

  /** Whether polygon z contains the point in `pt` (a scratch, so no doubles are passed: see `pt`). */
  private zoneContains(z: number): boolean {
    const parts = this.parts[z]!;
    for (let i = 0; i < parts.length; i++) if (this.partContains(parts[i]!)) return true;
    return false;
  }

  private partContains(part: Part): boolean {
    const E = EDGE_EPS_M;
    const px = this.pt[0]!;
    const py = this.pt[1]!;
    if (px < part.minX - E || px > part.maxX + E || py < part.minY - E || py > part.maxY + E) return false;
    let slab = Math.floor((py - part.minY) / part.slabH);
    if (slab < 0) slab = 0;
    else if (slab >= part.nSlabs) slab = part.nSlabs - 1;
    const xy = part.slabXY;
    let inside = false;
    const end = part.slabOff[slab + 1]!;
    for (let i = part.slabOff[slab]!; i < end; i++) {
      const xi = xy[4 * i]!;
      const yi = xy[4 * i + 1]!;
      const xj = xy[4 * i + 2]!;
      const yj = xy[4 * i + 3]!;
      // on the edge (within E): inside, whatever the parity says
      if (
        px >= Math.min(xi, xj) - E &&
        px <= Math.max(xi, xj) + E &&
        py >= Math.min(yi, yj) - E &&
        py <= Math.max(yi, yj) + E
      ) {
        const dx = xj - xi;
        const dy = yj - yi;
        const len2 = dx * dx + dy * dy;
        let t = len2 > 0 ? ((px - xi) * dx + (py - yi) * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const qx = xi + t * dx - px;
        const qy = yi + t * dy - py;
        if (qx * qx + qy * qy <= E * E) return true;
      }
      // the horizontal ray to +x crosses this edge (half-open in y, so a vertex is counted once)
      if (yi > py !== yj > py && px < xi + ((py - yi) * (xj - xi)) / (yj - yi)) inside = !inside;
    }
    return inside;
  }

  private centreInside(z: number, x: number, y: number): boolean {
    this.pt[0] = x;
    this.pt[1] = y;
    return this.zoneContains(z);
  }

  /** Edges of one polygon (all its rings) bucketed into horizontal slabs, so ray casting scans ~sqrt(n). */
  private buildPart(s0: number, s1: number): Part {
    const E = EDGE_EPS_M;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let k = s0; k < s1; k++) {
      const a = this.segA[k]!;
      minX = Math.min(minX, this.xs[a]!, this.xs[a + 1]!);
      maxX = Math.max(maxX, this.xs[a]!, this.xs[a + 1]!);
      minY = Math.min(minY, this.ys[a]!, this.ys[a + 1]!);
      maxY = Math.max(maxY, this.ys[a]!, this.ys[a + 1]!);
    }
    const nSlabs = Math.max(1, Math.min(4096, Math.ceil((s1 - s0) / 4)));
    const slabH = maxY > minY ? (maxY - minY) / nSlabs : 1;
    const slabOf = (y: number) => {
      const i = Math.floor((y - minY) / slabH);
      return i < 0 ? 0 : i >= nSlabs ? nSlabs - 1 : i;
    };
    const b = new CellListBuilder(nSlabs);
    for (let k = s0; k < s1; k++) {
      const a = this.segA[k]!;
      const lo = slabOf(Math.min(this.ys[a]!, this.ys[a + 1]!) - E);
      const hi = slabOf(Math.max(this.ys[a]!, this.ys[a + 1]!) + E);
      for (let i = lo; i <= hi; i++) b.add(i, k);
    }
    const { offsets, values } = b.build();
    const slabXY = new Float64Array(values.length * 4);
    for (let i = 0; i < values.length; i++) {
      const a = this.segA[values[i]!]!;
      slabXY[4 * i] = this.xs[a]!;
      slabXY[4 * i + 1] = this.ys[a]!;
      slabXY[4 * i + 2] = this.xs[a + 1]!;
      slabXY[4 * i + 3] = this.ys[a + 1]!;
    }
    return { minX, minY, maxX, maxY, slabH, nSlabs, slabOff: offsets, slabXY };
  }

  /**
   * Grid entries: per polygon, cells touched by an edge (within EDGE_EPS_M) are "boundary" (value
   * 2z); the other cells of its bounding box are uniformly inside or outside, decided by their centre:
   * inside ones are listed as 2z + 1, outside ones not at all.
   */
  private classifyCells(zoneSeg: ReadonlyArray<readonly [number, number]>): CellLists {
    const g = this.grid;
    const E = EDGE_EPS_M;
    const builder = new CellListBuilder(g.nx * g.ny);
    for (let z = 0; z < zoneSeg.length; z++) {
      const [s0, s1] = zoneSeg[z]!;
      let minX = Infinity;
      let minY = Infinity;
      let maxX = -Infinity;
      let maxY = -Infinity;
      for (const p of this.parts[z]!) {
        minX = Math.min(minX, p.minX);
        minY = Math.min(minY, p.minY);
        maxX = Math.max(maxX, p.maxX);
        maxY = Math.max(maxY, p.maxY);
      }
      const c0 = colOf(g, minX - E);
      const c1 = colOf(g, maxX + E);
      const r0 = rowOf(g, minY - E);
      const r1 = rowOf(g, maxY + E);
      const w = c1 - c0 + 1;
      const boundary = new Uint8Array(w * (r1 - r0 + 1));
      for (let k = s0; k < s1; k++) {
        const a = this.segA[k]!;
        const x0 = this.xs[a]!;
        const y0 = this.ys[a]!;
        const x1 = this.xs[a + 1]!;
        const y1 = this.ys[a + 1]!;
        const ra = rowOf(g, Math.min(y0, y1) - E);
        const rb = rowOf(g, Math.max(y0, y1) + E);
        for (let row = ra; row <= rb; row++) {
          // the part of the edge within this row's band (widened by E), as an x-range
          const lo = Math.max(Math.min(y0, y1), g.y0 + row * g.cellM - E);
          const hi = Math.min(Math.max(y0, y1), g.y0 + (row + 1) * g.cellM + E);
          let xa: number;
          let xb: number;
          if (y1 === y0 || lo > hi) {
            xa = Math.min(x0, x1);
            xb = Math.max(x0, x1);
          } else {
            const ua = x0 + ((lo - y0) * (x1 - x0)) / (y1 - y0);
            const ub = x0 + ((hi - y0) * (x1 - x0)) / (y1 - y0);
            xa = Math.min(ua, ub);
            xb = Math.max(ua, ub);
          }
          const ca = Math.max(c0, colOf(g, xa - E));
          const cb = Math.min(c1, colOf(g, xb + E));
          for (let col = ca; col <= cb; col++) boundary[(row - r0) * w + (col - c0)] = 1;
        }
      }
      for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          const cell = row * g.nx + col;
          if (boundary[(row - r0) * w + (col - c0)] === 1) builder.add(cell, 2 * z);
          else if (this.centreInside(z, g.x0 + (col + 0.5) * g.cellM, g.y0 + (row + 0.5) * g.cellM)) {
            builder.add(cell, 2 * z + 1);
          }
        }
      }
    }
    return builder.build();
  }
}

function* allVertices(zones: readonly ZoneInput[]): Iterable<LonLat> {
  for (const z of zones) for (const rings of z.polygons) for (const ring of rings) yield* ring;
}
