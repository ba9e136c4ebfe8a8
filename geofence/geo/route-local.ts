import { distSqAt, segmentT } from './ruler.ts';
import { BLOCK, type NearestOut, TIE_M2 } from './segment-tree.ts';

/**
 * Local answers for the per-fix "nearest segment of this route" query (polyline-index.ts
 * `distanceToRoute`), which the box tree (segment-tree.ts) answers exactly but at the price of ~20
 * scattered cache lines: with thousands of vehicles interleaved, a route's data is always cold when its
 * next fix arrives, and those misses were most of the engine's per-fix time.
 *
 * A vehicle's next fix lies a few segments further along its route. So a hinted query scans the BLOCKs
 * of segments around the hint, which lie next to each other in one packed array (x, y, metres along, and
 * the block's clearance: one contiguous run of memory), and accepts the best of them when it is PROVEN
 * nearest: `clear(b)` (segment-tree.ts `clearances`, built once) is a lower bound of the distance from
 * block b to every segment outside blocks b-1 .. b+1. A point at distance d from the best segment (in
 * block b) is therefore at least clear(b) - d from every segment outside, and when that exceeds d plus a
 * margin far above the tie tolerance, nothing outside can win or even tie. The scan keeps the tree
 * query's order (the hint window first, then ascending), so ties (a point beyond a bend is equally near
 * two segments) resolve exactly as there: the answer is the tree's answer. When the proof fails (a
 * detour far from the road, a route crossing or folding back on itself) the caller runs the tree query.
 *
 * Distances are scaled by (sx, sy) for the point's latitude like the tree's; a projected length times
 * min(sx, sy) is a lower bound of its true length, which is how the projected clearance is used.
 */

/** a local answer needs everything outside its blocks farther than the best by this much (metres) */
const LOCAL_MARGIN_M = 0.01;
/** per vertex: x, y (projected), metres along the route, and at a block's first vertex its clearance */
const STRIDE = 4;

export interface LocalChain {
  /** first vertex of the chain in the shared vertex numbering */
  v0: number;
  /** segments (vertices - 1) */
  n: number;
  /** per BLOCK of segments (segment-tree.ts `clearances`) */
  clear: Float64Array;
}

export class LocalRouteSearch {
  /**
   * The query: x, y (projected), sx, sy. Callers write it, then call `nearest`: doubles passed as
   * arguments to a call that is not inlined are boxed (allocated), and this runs on every fix.
   */
  readonly q = new Float64Array(4);
  private readonly pack: Float64Array;
  private readonly v0: Int32Array;
  private readonly n: Int32Array;

  /** `xs`, `ys`, `along` per vertex (shared numbering), chains in registration order. */
  constructor(xs: Float64Array, ys: Float64Array, along: Float64Array, chains: readonly LocalChain[]) {
    this.pack = new Float64Array(xs.length * STRIDE);
    for (let v = 0; v < xs.length; v++) {
      this.pack[v * STRIDE] = xs[v]!;
      this.pack[v * STRIDE + 1] = ys[v]!;
      this.pack[v * STRIDE + 2] = along[v]!;
    }
    this.v0 = new Int32Array(chains.length);
    this.n = new Int32Array(chains.length);
    for (let c = 0; c < chains.length; c++) {
      const { v0, n, clear } = chains[c]!;
      this.v0[c] = v0;
      this.n[c] = n;
      for (let b = 0; b < clear.length; b++) this.pack[(v0 + b * BLOCK) * STRIDE + 3] = clear[b]!;
    }
  }

  /** Metres along the route at a vertex (shared numbering). */
  alongAt(v: number): number {
    return this.pack[v * STRIDE + 2]!;
  }

  /**
   * The local answer for chain c (see the header): true when `out` (chain-local segment) holds the same
   * answer the tree query would give. Scans the hint window, then blocks hint-2 .. hint+3 ascending
   * (vehicles move forward, a few segments per fix: one more block ahead than behind).
   */
  nearest(c: number, hint: number, out: NearestOut): boolean {
    const n = this.n[c]!;
    if (hint < 0 || hint >= n) return false;
    const v0 = this.v0[c]!;
    out.seg = -1;
    out.t = 0;
    out.d2 = Infinity;
    const w0 = Math.max(0, hint - 1);
    const w1 = Math.min(n, hint + 3);
    this.scan(v0, w0, w1, out);
    // then the blocks ascending; the hint window again cannot replace its own best, so it is skipped
    const hb = Math.floor(hint / BLOCK);
    const lo = Math.max(0, (hb - 2) * BLOCK);
    const hi = Math.min(n, (hb + 4) * BLOCK);
    this.scan(v0, lo, w0, out);
    this.scan(v0, w1, hi, out);
    const b = Math.floor(out.seg / BLOCK);
    // blocks b-1 .. b+1 must all have been scanned
    if (b < hb - 1 || b > hb + 2) return false;
    const clear = this.pack[(v0 + b * BLOCK) * STRIDE + 3]!;
    // true metres >= min(sx, sy) x projected metres, for any direction
    const sx = this.q[2]!;
    const sy = this.q[3]!;
    return (sx < sy ? sx : sy) * clear >= 2 * Math.sqrt(out.d2) + LOCAL_MARGIN_M;
  }

  /**
   * Segments from .. to-1 of the chain in order, with the tree's replacement rule (shorter by more than
   * TIE_M2). A segment whose box is already farther than the best cannot replace it (d2 >= the box's
   * gap), so it is skipped before the division.
   */
  private scan(v0: number, from: number, to: number, out: NearestOut): void {
    if (from >= to) return;
    const p = this.pack;
    const q = this.q;
    const px = q[0]!;
    const py = q[1]!;
    const sx = q[2]!;
    const sy = q[3]!;
    let seg = out.seg;
    let bestT = out.t;
    let best = out.d2;
    let o = (v0 + from) * STRIDE;
    let ax = (p[o]! - px) * sx;
    let ay = (p[o + 1]! - py) * sy;
    for (let i = from; i < to; i++) {
      o += STRIDE;
      const bx = (p[o]! - px) * sx;
      const by = (p[o + 1]! - py) * sy;
      const gx = ax > 0 ? (bx > 0 ? (ax < bx ? ax : bx) : 0) : bx < 0 ? (ax > bx ? -ax : -bx) : 0;
      const gy = ay > 0 ? (by > 0 ? (ay < by ? ay : by) : 0) : by < 0 ? (ay > by ? -ay : -by) : 0;
      if (seg < 0 || gx * gx + gy * gy <= best) {
        const t = segmentT(ax, ay, bx, by);
        const d2 = distSqAt(ax, ay, bx, by, t);
        if (d2 < best - TIE_M2 || seg < 0) {
          seg = i;
          bestT = t;
          best = d2;
        }
      }
      ax = bx;
      ay = by;
    }
    out.seg = seg;
    out.t = bestT;
    out.d2 = best;
  }
}
