import { CellListBuilder } from './grid.ts';

/**
 * One polygon of a PolygonIndex zone (polygon-index.ts) with its exact point test: its edges (all its
 * rings) bucketed into horizontal slabs, so that even-odd ray casting scans only the edges of the
 * point's slab (~sqrt(n) of them). A point within EDGE_EPS_M of an edge is on it: inside.
 */

/** A point this close to an edge (metres) is on it. Rounding slack only: GPS noise is handled by rules. */
export const EDGE_EPS_M = 1e-3;

export interface PolygonPart {
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

/** Edges of one polygon (all its rings) bucketed into horizontal slabs, so ray casting scans ~sqrt(n). */
export function buildPart(
  xs: Float64Array,
  ys: Float64Array,
  segA: Int32Array,
  s0: number,
  s1: number,
): PolygonPart {
  const E = EDGE_EPS_M;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let k = s0; k < s1; k++) {
    const a = segA[k]!;
    minX = Math.min(minX, xs[a]!, xs[a + 1]!);
    maxX = Math.max(maxX, xs[a]!, xs[a + 1]!);
    minY = Math.min(minY, ys[a]!, ys[a + 1]!);
    maxY = Math.max(maxY, ys[a]!, ys[a + 1]!);
  }
  const nSlabs = Math.max(1, Math.min(4096, Math.ceil((s1 - s0) / 4)));
  const slabH = maxY > minY ? (maxY - minY) / nSlabs : 1;
  const slabOf = (y: number) => {
    const i = Math.floor((y - minY) / slabH);
    return i < 0 ? 0 : i >= nSlabs ? nSlabs - 1 : i;
  };
  const b = new CellListBuilder(nSlabs);
  for (let k = s0; k < s1; k++) {
    const a = segA[k]!;
    const lo = slabOf(Math.min(ys[a]!, ys[a + 1]!) - E);
    const hi = slabOf(Math.max(ys[a]!, ys[a + 1]!) + E);
    for (let i = lo; i <= hi; i++) b.add(i, k);
  }
  const { offsets, values } = b.build();
  const slabXY = new Float64Array(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const a = segA[values[i]!]!;
    slabXY[4 * i] = xs[a]!;
    slabXY[4 * i + 1] = ys[a]!;
    slabXY[4 * i + 2] = xs[a + 1]!;
    slabXY[4 * i + 3] = ys[a + 1]!;
  }
  return { minX, minY, maxX, maxY, slabH, nSlabs, slabOff: offsets, slabXY };
}

/**
 * Whether the part contains the point in `pt` (projected x, y: a scratch array, so that no doubles are
 * passed to a call that is not inlined; they would be boxed on every fix).
 */
export function partContains(part: PolygonPart, pt: Float64Array): boolean {
  const E = EDGE_EPS_M;
  const px = pt[0]!;
  const py = pt[1]!;
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
