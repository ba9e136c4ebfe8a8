import { CellListBuilder, type CellLists, colOf, extentOf, fitGrid, type GridSpec, rowOf } from './grid.ts';
import { LocalRouteSearch } from './route-local.ts';
import { distSqAt, type LonLat, Ruler, segmentT } from './ruler.ts';
import { type NearestOut, SegmentTree, TIE_M2 } from './segment-tree.ts';

/**
 * Route corridors (两点一线: the permitted line between origin and disposal site), indexed once per
 * registry change so that a fix costs the same with 10 or 10,000 routes:
 * - `nearestWithin` / `withinCorridors`: every route near a point, through a uniform grid over segment
 *   boxes in projected metres (cost ~ segments in the 1-4 cells around the point);
 * - `distanceToRoute`: one named route (the vehicle's permit names it, so only it matters), through that
 *   route's own packed box tree seeded with the previous fix's segment.
 *
 * Distances are to the centre line, to the nearest point of the nearest segment, so a point beside a
 * corner is measured to the corner (not to an extension of a segment) and a point up a cross street is
 * measured along that street's offset from the line: 60 m up a perpendicular street is 60 m, outside a
 * 50 m corridor. Whether one such fix is a violation is the rule's business (durations, the 15 m floor).
 */

export interface RouteInput {
  readonly id: string;
  /** WGS-84 `[lon, lat]` vertices, at least two */
  readonly line: readonly LonLat[];
  /** corridor half-width each side of the centre line, metres (default in the domain: 50) */
  readonly halfWidthM: number;
}

export interface RouteHit {
  routeId: string;
  /** metres from the point to the route's centre line */
  distanceM: number;
  /** index of the nearest segment (vertex i to i+1); pass it back as the next `hint` */
  segmentIndex: number;
  /** fraction along that segment, 0..1 */
  t: number;
  /** metres along the route from its first vertex to the nearest point */
  alongM: number;
  halfWidthM: number;
}

export interface PolylineIndexOptions {
  /** planar frame; default: centred on the routes' bounding box */
  ruler?: Ruler;
  /** grid cell size in metres (default 250: a few cells per query at corridor radii) */
  cellM?: number;
  /** cap on dense grid cells (default 4,000,000); cells grow beyond it */
  maxCells?: number;
}

export class PolylineIndex {
  readonly ruler: Ruler;
  private readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();
  private readonly halfWidth: Float64Array;
  /** projected vertices of all routes, concatenated */
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  /** hinted per-fix queries; also holds the metres along the route at each vertex */
  private readonly local: LocalRouteSearch;
  /** start vertex of each segment; segments of route r are segA[segStart[r] .. segStart[r + 1]) */
  private readonly segA: Int32Array;
  private readonly segRoute: Int32Array;
  private readonly segStart: Int32Array;
  private readonly maxHalfWidth: number;
  private readonly trees: SegmentTree[] = [];
  private readonly grid: GridSpec;
  private readonly cells: CellLists;
  /**
   * Segment ends copied next to each cell entry ([ax, ay, bx, by] per entry, cell by cell): a query reads
   * its few cells as one contiguous run instead of chasing vertex indices across megabytes of routes.
   * Measured ~2x faster on 1,000 routes (bench/geo-index.ts), for ~32 bytes per entry.
   */
  private readonly cellXY: Float64Array;
  // Per-query scratch (instance-owned, reused; queries are synchronous so they never interleave).
  private readonly bestD2: Float64Array;
  private readonly bestSeg: Int32Array;
  private readonly bestT: Float64Array;
  private readonly stamp: Uint32Array;
  private readonly touched: Int32Array;
  private readonly nearestOut: NearestOut = { seg: -1, t: 0, d2: Infinity };
  private query = 0;

  constructor(routes: readonly RouteInput[], opts: PolylineIndexOptions = {}) {
    this.ruler = opts.ruler ?? Ruler.around(allVertices(routes));
    let nVert = 0;
    for (const r of routes) {
      if (this.byId.has(r.id)) throw new Error(`duplicate route id ${r.id}`);
      if (r.line.length < 2) throw new Error(`route ${r.id} needs at least two vertices`);
      if (!(r.halfWidthM > 0)) throw new RangeError(`route ${r.id}: corridor half-width must be > 0`);
      for (const p of r.line) {
        if (!Number.isFinite(p[0]) || !Number.isFinite(p[1]))
          throw new RangeError(`route ${r.id}: bad vertex`);
      }
      this.byId.set(r.id, this.ids.length);
      this.ids.push(r.id);
      nVert += r.line.length;
    }
    const nRoutes = routes.length;
    const nSeg = nVert - nRoutes;
    this.xs = new Float64Array(nVert);
    this.ys = new Float64Array(nVert);
    // metres from the start of its route to each vertex (measured with Ruler.distanceM, so accurate)
    const along = new Float64Array(nVert);
    this.segA = new Int32Array(nSeg);
    this.segRoute = new Int32Array(nSeg);
    this.segStart = new Int32Array(nRoutes + 1);
    this.halfWidth = new Float64Array(nRoutes);
    let v = 0;
    let s = 0;
    let maxHw = 0;
    for (let r = 0; r < nRoutes; r++) {
      const route = routes[r]!;
      this.halfWidth[r] = route.halfWidthM;
      if (route.halfWidthM > maxHw) maxHw = route.halfWidthM;
      this.segStart[r] = s;
      for (let i = 0; i < route.line.length; i++) {
        const p = route.line[i]!;
        const [x, y] = this.ruler.project(p);
        this.xs[v] = x;
        this.ys[v] = y;
        along[v] = i === 0 ? 0 : along[v - 1]! + this.ruler.distanceM(route.line[i - 1]!, p);
        if (i > 0) {
          this.segA[s] = v - 1;
          this.segRoute[s] = r;
          s++;
        }
        v++;
      }
    }
    this.segStart[nRoutes] = s;
    this.maxHalfWidth = maxHw;
    for (let r = 0; r < nRoutes; r++) {
      this.trees.push(new SegmentTree(this.xs, this.ys, this.segA, this.segStart[r]!, this.segStart[r + 1]!));
    }
    // routes are stored one after the other (n vertices, n - 1 segments each): route r starts at vertex
    // segStart[r] + r
    this.local = new LocalRouteSearch(
      this.xs,
      this.ys,
      along,
      this.trees.map((tree, r) => ({
        v0: this.segStart[r]! + r,
        n: tree.segmentCount,
        clear: tree.clearances(),
      })),
    );

    // Grid: each segment goes into every cell its bounding box overlaps.
    const { minX, minY, maxX, maxY } = extentOf(this.xs, this.ys, v);
    this.grid = fitGrid(minX, minY, maxX, maxY, opts.cellM ?? 250, opts.maxCells ?? 4_000_000);
    const g = this.grid;
    const builder = new CellListBuilder(g.nx * g.ny);
    for (let k = 0; k < nSeg; k++) {
      const a = this.segA[k]!;
      const c0 = colOf(g, Math.min(this.xs[a]!, this.xs[a + 1]!));
      const c1 = colOf(g, Math.max(this.xs[a]!, this.xs[a + 1]!));
      const r0 = rowOf(g, Math.min(this.ys[a]!, this.ys[a + 1]!));
      const r1 = rowOf(g, Math.max(this.ys[a]!, this.ys[a + 1]!));
      for (let row = r0; row <= r1; row++)
        for (let col = c0; col <= c1; col++) builder.add(row * g.nx + col, k);
    }
    this.cells = builder.build();
    const vals = this.cells.values;
    this.cellXY = new Float64Array(vals.length * 4);
    for (let i = 0; i < vals.length; i++) {
      const a = this.segA[vals[i]!]!;
      this.cellXY[i * 4] = this.xs[a]!;
      this.cellXY[i * 4 + 1] = this.ys[a]!;
      this.cellXY[i * 4 + 2] = this.xs[a + 1]!;
      this.cellXY[i * 4 + 3] = this.ys[a + 1]!;
    }

    this.bestD2 = new Float64Array(nRoutes);
    this.bestSeg = new Int32Array(nRoutes);
    this.bestT = new Float64Array(nRoutes);
    this.stamp = new Uint32Array(nRoutes);
    this.touched = new Int32Array(nRoutes);
  }

  get size(): number {
    return this.ids.length;
  }

  has(routeId: string): boolean {
    return this.byId.has(routeId);
  }

  /** Length of a route in metres (undefined for an unknown id). */
  lengthM(routeId: string): number | undefined {
    const r = this.byId.get(routeId);
    if (r === undefined) return undefined;
    const lastSeg = this.segStart[r + 1]! - 1;
    return this.local.alongAt(this.segA[lastSeg]! + 1);
  }

  /**
   * Every route whose centre line passes within `maxM` metres of the point, once each with its nearest
   * segment, sorted by distance (ties: registration order) so replays give identical output.
   */
  nearestWithin(point: LonLat, maxM: number): RouteHit[] {
    return this.search(point, maxM, false);
  }

  /** Every route whose corridor (its own half-width, plus `extraM`) contains the point; sorted as above. */
  withinCorridors(point: LonLat, extraM = 0): RouteHit[] {
    return this.search(point, this.maxHalfWidth + extraM, true, extraM);
  }

  /**
   * Distance from the point to one route. `hint` is the `segmentIndex` returned for this vehicle's
   * previous fix (or -1): it seeds the search, so consecutive fixes cost a few box tests; the answer is
   * exact regardless of the hint. Undefined for an unknown route id.
   */
  distanceToRoute(routeId: string, point: LonLat, hint = -1): RouteHit | undefined {
    const r = this.byId.get(routeId);
    return r === undefined ? undefined : this.distanceToRouteAt(r, point, hint);
  }

  /** `distanceToRoute` by registration index (0-based order of the constructor's list), for callers that resolved the id already. */
  distanceToRouteAt(r: number, point: LonLat, hint = -1): RouteHit {
    const ruler = this.ruler;
    const lat = point[1];
    const out = this.nearestOut;
    const q = this.local.q;
    q[0] = ruler.projectX(point[0]);
    q[1] = ruler.projectY(lat);
    q[2] = ruler.kxAt(lat) / ruler.kx;
    q[3] = ruler.kyAt(lat) / ruler.ky;
    // the local answer when it is proven the same (route-local.ts), else the tree
    if (!this.local.nearest(r, hint, out)) this.trees[r]!.nearest(q[0]!, q[1]!, q[2]!, q[3]!, hint, out);
    return this.hit(r, this.segStart[r]! + out.seg, out.t, out.d2);
  }

  private search(point: LonLat, radiusM: number, perRoute: boolean, extraM = 0): RouteHit[] {
    if (!(radiusM >= 0) || this.ids.length === 0) return [];
    const [px, py] = this.ruler.project(point);
    const sx = this.ruler.kxAt(point[1]) / this.ruler.kx;
    const sy = this.ruler.kyAt(point[1]) / this.ruler.ky;
    const g = this.grid;
    // the search box in projected metres (true metres / scale), slightly enlarged against rounding
    const rx = (radiusM / sx) * (1 + 1e-9) + 1e-6;
    const ry = (radiusM / sy) * (1 + 1e-9) + 1e-6;
    if (
      px + rx < g.x0 ||
      py + ry < g.y0 ||
      px - rx > g.x0 + g.nx * g.cellM ||
      py - ry > g.y0 + g.ny * g.cellM
    ) {
      return [];
    }
    const c0 = colOf(g, px - rx);
    const c1 = colOf(g, px + rx);
    const r0 = rowOf(g, py - ry);
    const r1 = rowOf(g, py + ry);
    const r2 = radiusM * radiusM;
    if (++this.query === 0xffffffff) {
      this.stamp.fill(0);
      this.query = 1;
    }
    const q = this.query;
    const { offsets, values } = this.cells;
    const { cellXY, segRoute, stamp, bestD2, bestSeg, bestT, touched } = this;
    let nTouched = 0;
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const cell = row * g.nx + col;
        const end = offsets[cell + 1]!;
        for (let i = offsets[cell]!; i < end; i++) {
          const o = i * 4;
          const ax = (cellXY[o]! - px) * sx;
          const ay = (cellXY[o + 1]! - py) * sy;
          const bx = (cellXY[o + 2]! - px) * sx;
          const by = (cellXY[o + 3]! - py) * sy;
          const t = segmentT(ax, ay, bx, by);
          const d2 = distSqAt(ax, ay, bx, by, t);
          if (d2 > r2) continue;
          const k = values[i]!;
          const r = segRoute[k]!;
          if (stamp[r] !== q) {
            stamp[r] = q;
            touched[nTouched++] = r;
            bestD2[r] = d2;
            bestSeg[r] = k;
            bestT[r] = t;
          } else if (d2 < bestD2[r]! - TIE_M2 || (d2 < bestD2[r]! + TIE_M2 && k < bestSeg[r]!)) {
            // a segment in several cells is seen several times; ties resolve to the lower segment so the
            // answer does not depend on cell visiting order
            bestD2[r] = d2;
            bestSeg[r] = k;
            bestT[r] = t;
          }
        }
      }
    }
    const hits: RouteHit[] = [];
    for (let j = 0; j < nTouched; j++) {
      const r = touched[j]!;
      if (perRoute) {
        const lim = this.halfWidth[r]! + extraM;
        if (bestD2[r]! > lim * lim) continue;
      }
      hits.push(this.hit(r, bestSeg[r]!, bestT[r]!, bestD2[r]!));
    }
    const order = this.byId;
    hits.sort((a, b) => a.distanceM - b.distanceM || order.get(a.routeId)! - order.get(b.routeId)!);
    return hits;
  }

  private hit(r: number, k: number, t: number, d2: number): RouteHit {
    // routes are stored one after the other, n vertices and n - 1 segments each, so segment k of route r
    // starts at vertex k + r (same as segA[k], without reading another array on the per-fix path)
    const a = k + r;
    const a0 = this.local.alongAt(a);
    return {
      routeId: this.ids[r]!,
      distanceM: Math.sqrt(d2),
      segmentIndex: k - this.segStart[r]!,
      t,
      alongM: a0 + t * (this.local.alongAt(a + 1) - a0),
      halfWidthM: this.halfWidth[r]!,
    };
  }
}

function* allVertices(routes: readonly RouteInput[]): Iterable<LonLat> {
  for (const r of routes) yield* r.line;
}
