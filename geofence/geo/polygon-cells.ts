import { CellListBuilder, type CellLists, colOf, type GridSpec, rowOf } from './grid.ts';
import { EDGE_EPS_M, type PolygonPart } from './polygon-part.ts';

/** What the classification reads of a PolygonIndex (polygon-index.ts): projected edges and parts. */
export interface PolygonShapes {
  xs: Float64Array;
  ys: Float64Array;
  segA: Int32Array;
  /** per zone, its parts */
  parts: readonly (readonly PolygonPart[])[];
  /** whether zone z contains the projected point (x, y) */
  centreInside(z: number, x: number, y: number): boolean;
}

/**
 * Grid entries: per polygon, cells touched by an edge (within EDGE_EPS_M) are "boundary" (value
 * 2z); the other cells of its bounding box are uniformly inside or outside, decided by their centre:
 * inside ones are listed as 2z + 1, outside ones not at all.
 */
export function classifyCells(
  g: GridSpec,
  zoneSeg: ReadonlyArray<readonly [number, number]>,
  shape: PolygonShapes,
): CellLists {
  const E = EDGE_EPS_M;
  const builder = new CellListBuilder(g.nx * g.ny);
  for (let z = 0; z < zoneSeg.length; z++) {
    const [s0, s1] = zoneSeg[z]!;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const p of shape.parts[z]!) {
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
      const a = shape.segA[k]!;
      const x0 = shape.xs[a]!;
      const y0 = shape.ys[a]!;
      const x1 = shape.xs[a + 1]!;
      const y1 = shape.ys[a + 1]!;
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
        else if (shape.centreInside(z, g.x0 + (col + 0.5) * g.cellM, g.y0 + (row + 0.5) * g.cellM)) {
          builder.add(cell, 2 * z + 1);
        }
      }
    }
  }
  return builder.build();
}
