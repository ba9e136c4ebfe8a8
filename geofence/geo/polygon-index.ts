import { type CellLists, colOf, extentOf, fitGrid, type GridSpec, inGrid, rowOf } from './grid.ts';
import { classifyCells } from './polygon-cells.ts';
import { buildPart, type PolygonPart, partContains } from './polygon-part.ts';
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

export { EDGE_EPS_M } from './polygon-part.ts';

export class PolygonIndex {
  readonly ruler: Ruler;
  private readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly segA: Int32Array;
  private readonly parts: PolygonPart[][] = [];
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
    const zoneSeg: Array<[number, number]> = [];
    for (const polys of closed) {
      const zs0 = s;
      const parts: PolygonPart[] = [];
      for (const rings of polys) {
        const ps0 = s;
        for (const ring of rings) {
          for (let i = 0; i < ring.length; i++) {
            const [x, y] = this.ruler.project(ring[i]!);
            this.xs[v] = x;
            this.ys[v] = y;
            if (i > 0) this.segA[s++] = v - 1;
            v++;
          }
        }
        parts.push(buildPart(this.xs, this.ys, this.segA, ps0, s));
      }
      this.parts.push(parts);
      zoneSeg.push([zs0, s]);
      this.trees.push(new SegmentTree(this.xs, this.ys, this.segA, zs0, s));
    }

    // 1 m margin so points on an edge at the extent's border still find their cell
    const { minX, minY, maxX, maxY } = extentOf(this.xs, this.ys, v);
    this.grid = fitGrid(
      minX - 1,
      minY - 1,
      maxX + 1,
      maxY + 1,
      opts.cellM ?? 250,
      opts.maxCells ?? 4_000_000,
    );
    this.cells = classifyCells(this.grid, zoneSeg, {
      xs: this.xs,
      ys: this.ys,
      segA: this.segA,
      parts: this.parts,
      centreInside: (z, x, y) => this.centreInside(z, x, y),
    });
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
    for (let i = 0; i < parts.length; i++) if (partContains(parts[i]!, this.pt)) return true;
    return false;
  }

  private centreInside(z: number, x: number, y: number): boolean {
    this.pt[0] = x;
    this.pt[1] = y;
    return this.zoneContains(z);
  }
}

function* allVertices(zones: readonly ZoneInput[]): Iterable<LonLat> {
  for (const z of zones) for (const rings of z.polygons) for (const ring of rings) yield* ring;
}
