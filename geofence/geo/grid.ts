/**
 * A uniform grid over projected metres, stored as compressed lists (CSR: one offsets array, one values
 * array), built once when the registry changes. A lookup is two array reads plus a scan of one cell, so
 * the per-fix cost depends on the local density of geometry, not on how many routes or zones exist
 * (architecture.md, principle 6). Dense rather than hashed: a city at 250 m cells is ~10^5 cells, a few
 * hundred kilobytes; when the extent would need more than `maxCells`, cells grow instead.
 */

export interface GridSpec {
  readonly x0: number;
  readonly y0: number;
  readonly cellM: number;
  readonly nx: number;
  readonly ny: number;
}

/** A bounding box in projected metres; min > max when it holds nothing. */
export interface Extent {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** The extent of the first `n` projected points (an index's vertices), before the grid is fitted over it. */
export function extentOf(xs: Float64Array, ys: Float64Array, n: number): Extent {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let v = 0; v < n; v++) {
    const x = xs[v]!;
    const y = ys[v]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return { minX, minY, maxX, maxY };
}

/** Fits a grid over [minX, maxX] x [minY, maxY] with cells of about `cellM` metres, at most `maxCells`. */
export function fitGrid(
  minX: number,
  minY: number,
  maxX: number,
  maxY: number,
  cellM: number,
  maxCells: number,
): GridSpec {
  if (!(cellM > 0)) throw new RangeError(`cell size must be positive, got ${cellM}`);
  if (!(minX <= maxX && minY <= maxY)) return { x0: 0, y0: 0, cellM, nx: 1, ny: 1 };
  const w = maxX - minX;
  const h = maxY - minY;
  let c = cellM;
  // grow cells until the dense array fits the budget (area / c^2 <= maxCells, plus the +1 per axis)
  while ((Math.floor(w / c) + 1) * (Math.floor(h / c) + 1) > maxCells) c *= 1.25;
  return { x0: minX, y0: minY, cellM: c, nx: Math.floor(w / c) + 1, ny: Math.floor(h / c) + 1 };
}

/** Column of x, clamped to the grid (callers clamp ranges; a point outside maps to an edge cell). */
export function colOf(g: GridSpec, x: number): number {
  const c = Math.floor((x - g.x0) / g.cellM);
  return c < 0 ? 0 : c >= g.nx ? g.nx - 1 : c;
}

export function rowOf(g: GridSpec, y: number): number {
  const r = Math.floor((y - g.y0) / g.cellM);
  return r < 0 ? 0 : r >= g.ny ? g.ny - 1 : r;
}

/** True when (x, y) lies inside the grid's extent (the last cells are closed at their far edge). */
export function inGrid(g: GridSpec, x: number, y: number): boolean {
  return x >= g.x0 && y >= g.y0 && x <= g.x0 + g.nx * g.cellM && y <= g.y0 + g.ny * g.cellM;
}

/** Cell lists in CSR form: values of cell i are values[offsets[i] .. offsets[i+1]). */
export interface CellLists {
  readonly offsets: Int32Array;
  readonly values: Int32Array;
}

/** Collects (cell, value) pairs, then sorts them by cell, stably (insertion order kept within a cell). */
export class CellListBuilder {
  private cells = new Int32Array(1024);
  private vals = new Int32Array(1024);
  private n = 0;

  constructor(private readonly nCells: number) {}

  add(cell: number, value: number): void {
    if (this.n === this.cells.length) {
      const cells = new Int32Array(this.n * 2);
      cells.set(this.cells);
      this.cells = cells;
      const vals = new Int32Array(this.n * 2);
      vals.set(this.vals);
      this.vals = vals;
    }
    this.cells[this.n] = cell;
    this.vals[this.n] = value;
    this.n++;
  }

  build(): CellLists {
    const offsets = new Int32Array(this.nCells + 1);
    for (let i = 0; i < this.n; i++) offsets[this.cells[i]! + 1]!++;
    for (let c = 0; c < this.nCells; c++) offsets[c + 1]! += offsets[c]!;
    const cursor = offsets.slice(0, this.nCells);
    const values = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) values[cursor[this.cells[i]!]!++] = this.vals[i]!;
    return { offsets, values };
  }
}
