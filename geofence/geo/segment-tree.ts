import { distSqAt, segmentT } from './ruler.ts';

/**
 * Nearest segment of ONE chain of segments (a route, or a polygon's rings), for "distance to this route"
 * and "distance to this boundary". A packed bounding-box tree over consecutive segments: a road's
 * consecutive segments are spatially close, so boxes over runs of FANOUT segments are tight without any
 * sorting, and a query visits O(log n) boxes. Seeded with the previous fix's segment (the hint), the
 * first bound is already near-optimal and almost every box is pruned; the result is still exact (not a
 * local search that can lock onto a wrong leg when a route doubles back).
 *
 * Geometry lives in shared projected arrays (see Ruler.project); queries pass the point and the scale
 * correction (sx, sy) for the point's latitude, so distances are in true metres.
 */

const FANOUT = 8;
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
    if (hint >= 0 && hint < n) {
      const lo = Math.max(0, hint - 1);
      const hi = Math.min(n - 1, hint + 2);
      for (let i = lo; i <= hi; i++) this.measure(i, px, py, sx, sy, out);
    }
    const top = this.levels.length - 1;
    const topCount = this.levels[top]!.length / 4;
    for (let b = 0; b < topCount; b++) this.descend(top, b, px, py, sx, sy, out);
  }

  private descend(level: number, b: number, px: number, py: number, sx: number, sy: number, out: NearestOut) {
    const boxes = this.levels[level]!;
    const o = b * 4;
    const dx = (px < boxes[o]! ? boxes[o]! - px : px > boxes[o + 2]! ? px - boxes[o + 2]! : 0) * sx;
    const dy = (py < boxes[o + 1]! ? boxes[o + 1]! - py : py > boxes[o + 3]! ? py - boxes[o + 3]! : 0) * sy;
    if (dx * dx + dy * dy >= out.d2 - TIE_M2) return;
    const start = b * FANOUT;
    if (level === 0) {
      const end = Math.min(this.s1 - this.s0, start + FANOUT);
      for (let i = start; i < end; i++) this.measure(i, px, py, sx, sy, out);
    } else {
      const end = Math.min(this.levels[level - 1]!.length / 4, start + FANOUT);
      for (let c = start; c < end; c++) this.descend(level - 1, c, px, py, sx, sy, out);
    }
  }

  private measure(i: number, px: number, py: number, sx: number, sy: number, out: NearestOut): void {
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
