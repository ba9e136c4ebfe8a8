import { distSqAt, segmentT } from './ruler.ts';

/**
 * Nearest segment of ONE chain of segments (a route, or a polygon's rings), for "distance to this route"
 * and "distance to this boundary". A packed bounding-box tree over consecutive segments: a road's
 * consecutive segments are spatially close, so boxes over runs of FANOUT segments are tight without any
 * sorting, and a query visits O(log n) boxes. Seeded with the previous fix's segment (the hint), the
 * first bound is already near-optimal and almost every box is pruned; the result is still exact (not a
 * local search that can lock onto a wrong leg when a route doubles back). Routes first try a cheaper
 * local answer (route-local.ts), whose proof rests on `clearances` computed here at build time.
 *
 * Geometry lives in shared projected arrays (see Ruler.project); queries pass the point and the scale
 * correction (sx, sy) for the point's latitude, so distances are in true metres.
 */

const FANOUT = 8;
/** segments per block of `clearances` (the local search's unit, route-local.ts) */
export const BLOCK = 4;
/**
 * Clearances are only computed up to this (metres, projected): enough for local answers up to ~80 m
 * from the road (a corridor is ~50 m each side); farther fixes take the tree query. Keeps the build to the
 * near surroundings of each block.
 */
export const CLEAR_CAP_M = 160;
/**
 * A candidate replaces the best only when shorter by more than this (m^2): where two legs of a route
 * overlap (out and back on one road), ties keep the hint's leg instead of flipping on rounding noise.
 */
export const TIE_M2 = 1e-6;

/** Where a query writes its answer (caller-owned, so the tree allocates nothing per query). */
export interface NearestOut {
  /** index of the segment in the chain (0-based, local to the chain); -1 when the chain is empty */
  seg: number;
  /** fraction along the segment, 0..1 */
  t: number;
  /** squared distance, m^2 */
  d2: number;
}

export class SegmentTree {
  /** per level, boxes as [minX, minY, maxX, maxY] quadruples; level 0 covers FANOUT segments each */
  private readonly levels: Float64Array[] = [];
  /** per-query scratch (queries are synchronous, so they never interleave) */
  private readonly q = new Float64Array(5);

  /**
   * @param xs, ys projected vertex coordinates (shared)
   * @param segA start vertex of each segment (end = start + 1), shared
   * @param s0, s1 this chain's segments are segA[s0 .. s1)
   */
  constructor(
    private readonly xs: Float64Array,
    private readonly ys: Float64Array,
    private readonly segA: Int32Array,
    private readonly s0: number,
    private readonly s1: number,
  ) {
    let n = s1 - s0;
    let prev: Float64Array | undefined;
    do {
      const count = Math.ceil(n / FANOUT);
      const boxes = new Float64Array(count * 4);
      for (let b = 0; b < count; b++) {
        let minX = Infinity;
        let minY = Infinity;
        let maxX = -Infinity;
        let maxY = -Infinity;
        const end = Math.min(n, (b + 1) * FANOUT);
        for (let i = b * FANOUT; i < end; i++) {
          if (prev === undefined) {
            const v = segA[s0 + i]!;
            for (const w of [v, v + 1]) {
              const x = xs[w]!;
              const y = ys[w]!;
              if (x < minX) minX = x;
              if (x > maxX) maxX = x;
              if (y < minY) minY = y;
              if (y > maxY) maxY = y;
            }
          } else {
            if (prev[i * 4]! < minX) minX = prev[i * 4]!;
            if (prev[i * 4 + 1]! < minY) minY = prev[i * 4 + 1]!;
            if (prev[i * 4 + 2]! > maxX) maxX = prev[i * 4 + 2]!;
            if (prev[i * 4 + 3]! > maxY) maxY = prev[i * 4 + 3]!;
          }
        }
        boxes.set([minX, minY, maxX, maxY], b * 4);
      }
      this.levels.push(boxes);
      prev = boxes;
      n = count;
    } while (n > 1);
  }

  /**
   * `clear` for every block: the exact distance from the block's segments to the nearest segment outside
   * blocks b-1 .. b+1, capped at CLEAR_CAP_M, found by one walk of the tree per block pruned by box gaps
   * (the cap bounds the walk from the start, so it visits only the block's surroundings).
   */
  clearances(): Float64Array {
    const n = this.s1 - this.s0;
    const nb = Math.ceil(n / BLOCK);
    const clear = new Float64Array(nb);
    const q = this.q;
    const top = this.levels.length - 1;
    const topCount = this.levels[top]!.length / 4;
    for (let b = 0; b < nb; b++) {
      const b0 = b * BLOCK;
      const b1 = Math.min(n, b0 + BLOCK);
      // the block's box in q[0..3], the best distance so far in q[4]
      q[0] = Infinity;
      q[1] = Infinity;
      q[2] = -Infinity;
      q[3] = -Infinity;
      for (let i = b0; i < b1; i++) {
        const v = this.segA[this.s0 + i]!;
        for (let w = v; w <= v + 1; w++) {
          const x = this.xs[w]!;
          const y = this.ys[w]!;
          if (x < q[0]!) q[0] = x;
          if (y < q[1]!) q[1] = y;
          if (x > q[2]!) q[2] = x;
          if (y > q[3]!) q[3] = y;
        }
      }
      q[4] = CLEAR_CAP_M * CLEAR_CAP_M;
      for (let t = 0; t < topCount; t++) this.clearDescend(top, t, b0, b1);
      clear[b] = Math.sqrt(q[4]!);
    }
    return clear;
  }

  /** One node of the `clearances` walk; squared distances, the box and the best in `q` (no boxing). */
  private clearDescend(level: number, node: number, b0: number, b1: number): void {
    const q = this.q;
    const boxes = this.levels[level]!;
    const o = node * 4;
    if (boxGap2(q, boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!) >= q[4]!) return;
    const start = node * FANOUT;
    if (level === 0) {
      const n = this.s1 - this.s0;
      const end = Math.min(n, start + FANOUT);
      // segments of blocks b-1 .. b+1 are scanned by the local search itself: not "outside"
      const from = Math.max(0, b0 - BLOCK);
      const to = Math.min(n, b0 + 2 * BLOCK);
      const { xs, ys, segA, s0 } = this;
      for (let i = start; i < end; i++) {
        if (i >= from && i < to) continue;
        const v = segA[s0 + i]!;
        const x0 = xs[v]!;
        const y0 = ys[v]!;
        const x1 = xs[v + 1]!;
        const y1 = ys[v + 1]!;
        if (boxGap2(q, Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)) >= q[4]!)
          continue;
        for (let k = b0; k < b1; k++) {
          const w = segA[s0 + k]!;
          const u0 = xs[w]!;
          const w0 = ys[w]!;
          const u1 = xs[w + 1]!;
          const w1 = ys[w + 1]!;
          // the pair's boxes already farther apart than the best: their segments are too
          const gx = Math.max(0, Math.min(u0, u1) - Math.max(x0, x1), Math.min(x0, x1) - Math.max(u0, u1));
          const gy = Math.max(0, Math.min(w0, w1) - Math.max(y0, y1), Math.min(y0, y1) - Math.max(w0, w1));
          if (gx * gx + gy * gy >= q[4]!) continue;
          const d2 = segSeg2(x0, y0, x1, y1, u0, w0, u1, w1);
          if (d2 < q[4]!) q[4] = d2;
        }
      }
      return;
    }
    const end = Math.min(this.levels[level - 1]!.length / 4, start + FANOUT);
    for (let c = start; c < end; c++) this.clearDescend(level - 1, c, b0, b1);
  }

  get segmentCount(): number {
    return this.s1 - this.s0;
  }

  /**
   * Nearest segment to (px, py) (projected), distances scaled by (sx, sy). `hint` is a chain-local
   * segment index from the previous query (or -1): it and its neighbours are measured first.
   */
  nearest(px: number, py: number, sx: number, sy: number, hint: number, out: NearestOut): void {
    out.seg = -1;
    out.t = 0;
    out.d2 = Infinity;
    const n = this.s1 - this.s0;
    if (n === 0) return;
    // the query point and scales travel in `q`: doubles passed down the recursion would be boxed
    const q = this.q;
    q[0] = px;
    q[1] = py;
    q[2] = sx;
    q[3] = sy;
    if (hint >= 0 && hint < n) {
      const lo = Math.max(0, hint - 1);
      const hi = Math.min(n - 1, hint + 2);
      for (let i = lo; i <= hi; i++) this.measure(i, out);
    }
    const top = this.levels.length - 1;
    const topCount = this.levels[top]!.length / 4;
    for (let b = 0; b < topCount; b++) this.descend(top, b, out);
  }

  private descend(level: number, b: number, out: NearestOut): void {
    const q = this.q;
    const px = q[0]!;
    const py = q[1]!;
    const boxes = this.levels[level]!;
    const o = b * 4;
    const dx = (px < boxes[o]! ? boxes[o]! - px : px > boxes[o + 2]! ? px - boxes[o + 2]! : 0) * q[2]!;
    const dy =
      (py < boxes[o + 1]! ? boxes[o + 1]! - py : py > boxes[o + 3]! ? py - boxes[o + 3]! : 0) * q[3]!;
    if (dx * dx + dy * dy >= out.d2 - TIE_M2) return;
    const start = b * FANOUT;
    if (level === 0) {
      const end = Math.min(this.s1 - this.s0, start + FANOUT);
      for (let i = start; i < end; i++) this.measure(i, out);
    } else {
      const end = Math.min(this.levels[level - 1]!.length / 4, start + FANOUT);
      for (let c = start; c < end; c++) this.descend(level - 1, c, out);
    }
  }

  private measure(i: number, out: NearestOut): void {
    const q = this.q;
    const px = q[0]!;
    const py = q[1]!;
    const sx = q[2]!;
    const sy = q[3]!;
    const v = this.segA[this.s0 + i]!;
    const ax = (this.xs[v]! - px) * sx;
    const ay = (this.ys[v]! - py) * sy;
    const bx = (this.xs[v + 1]! - px) * sx;
    const by = (this.ys[v + 1]! - py) * sy;
    const t = segmentT(ax, ay, bx, by);
    const d2 = distSqAt(ax, ay, bx, by, t);
    if (d2 < out.d2 - TIE_M2 || out.seg < 0) {
      out.seg = i;
      out.t = t;
      out.d2 = d2;
    }
  }
}

/** Squared planar gap between the box in a[0..3] and another box (0 when they overlap). */
function boxGap2(a: Float64Array, x0: number, y0: number, x1: number, y1: number): number {
  const dx = a[0]! > x1 ? a[0]! - x1 : x0 > a[2]! ? x0 - a[2]! : 0;
  const dy = a[1]! > y1 ? a[1]! - y1 : y0 > a[3]! ? y0 - a[3]! : 0;
  return dx * dx + dy * dy;
}

/** Squared distance between segments PQ and RS: 0 when they cross, else the least endpoint-to-segment one. */
function segSeg2(
  px: number,
  py: number,
  qx: number,
  qy: number,
  rx: number,
  ry: number,
  sx: number,
  sy: number,
): number {
  const d1 = cross(rx, ry, sx, sy, px, py);
  const d2 = cross(rx, ry, sx, sy, qx, qy);
  const d3 = cross(px, py, qx, qy, rx, ry);
  const d4 = cross(px, py, qx, qy, sx, sy);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return 0;
  return Math.min(
    pointSeg2(px, py, rx, ry, sx, sy),
    pointSeg2(qx, qy, rx, ry, sx, sy),
    pointSeg2(rx, ry, px, py, qx, qy),
    pointSeg2(sx, sy, px, py, qx, qy),
  );
}

function cross(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

function pointSeg2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const t = segmentT(ax - px, ay - py, bx - px, by - py);
  return distSqAt(ax - px, ay - py, bx - px, by - py, t);
}
