import { metresPerDegree } from './ruler.ts';

/**
 * A live point index of units (vehicles, body cameras) for nearest-unit dispatch (issue 15, item 5):
 * every fix moves its unit (O(1): a hash-grid cell swap), and `nearest(lon, lat, k, accept)` finds the k
 * closest accepted units by searching rings of grid cells outwards from the query's cell, stopping once
 * the next ring cannot hold anything closer than the k-th found: a few cells around the query instead
 * of a scan of every unit. Distances are planar at city scale (metres per degree at the index's
 * reference latitude, the grid's own frame: < 0.5 % off within 50 km north or south of it), so the
 * ring bound is exact in that frame.
 *
 * Why not a library: kdbush/geokdbush are static (a rebuild per fix), and rbush's update is a remove
 * (a tree search by bounding box) plus an insert with node splits, for every fix of every unit; a grid of
 * fixed cells moves a unit in O(1) and a k-nearest search stays local at city densities.
 *
 * Pure data structure: no I/O, no clock. Cells are keyed by integer (cx, cy) on a grid of `cellM` metres
 * at a fixed reference latitude, so a unit's cell never depends on the query.
 */

export interface UnitPoint<T> {
  id: string;
  lon: number;
  lat: number;
  data: T;
}

export interface Nearest<T> {
  unit: UnitPoint<T>;
  distanceM: number;
}

interface Entry<T> extends UnitPoint<T> {
  cell: number;
}

/** Cell key of integer cell coordinates (within ±2^20 cells of the origin: ±1,000 km at 1 km cells). */
const key = (cx: number, cy: number) => (cx + 1_048_576) * 2_097_152 + (cy + 1_048_576);

export class UnitIndex<T> {
  private readonly units = new Map<string, Entry<T>>();
  private readonly cells = new Map<number, Entry<T>[]>();
  private readonly kx: number;
  private readonly ky: number;
  /** the box of cells ever occupied (grows only: bounded by where units have been, never stale-small) */
  private readonly box = { minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };

  constructor(
    refLat: number,
    private readonly cellM = 500,
  ) {
    const { kx, ky } = metresPerDegree(refLat);
    this.kx = kx;
    this.ky = ky;
  }

  get size(): number {
    return this.units.size;
  }

  get(id: string): UnitPoint<T> | undefined {
    return this.units.get(id);
  }

  private cellX(lon: number): number {
    return Math.floor((lon * this.kx) / this.cellM);
  }

  private cellY(lat: number): number {
    return Math.floor((lat * this.ky) / this.cellM);
  }

  /** Places or moves a unit. */
  upsert(id: string, lon: number, lat: number, data: T): void {
    const cell = key(this.cellX(lon), this.cellY(lat));
    const old = this.units.get(id);
    if (old !== undefined) {
      old.lon = lon;
      old.lat = lat;
      old.data = data;
      if (old.cell === cell) return;
      this.detach(old);
      old.cell = cell;
      this.attach(old);
      return;
    }
    const e: Entry<T> = { id, lon, lat, data, cell };
    this.units.set(id, e);
    this.attach(e);
  }

  remove(id: string): void {
    const e = this.units.get(id);
    if (e === undefined) return;
    this.detach(e);
    this.units.delete(id);
  }

  private attach(e: Entry<T>): void {
    const { box } = this;
    const cx = this.cellX(e.lon);
    const cy = this.cellY(e.lat);
    if (cx < box.minX) box.minX = cx;
    if (cx > box.maxX) box.maxX = cx;
    if (cy < box.minY) box.minY = cy;
    if (cy > box.maxY) box.maxY = cy;
    const list = this.cells.get(e.cell);
    if (list === undefined) this.cells.set(e.cell, [e]);
    else list.push(e);
  }

  private detach(e: Entry<T>): void {
    const list = this.cells.get(e.cell)!;
    const i = list.indexOf(e);
    list[i] = list[list.length - 1]!;
    list.pop();
    if (list.length === 0) this.cells.delete(e.cell);
  }

  /**
   * The k nearest units `accept` admits, closest first, no farther than `maxM` (default: anywhere).
   * Rings of cells are searched outwards, each clipped to the box of cells ever occupied (so a query far
   * from every unit costs rings of nothing, not a sweep of empty cells). Within a ring the occupied cells
   * are visited nearest first, and a cell no nearer than the k-th found is skipped whole: a query far from
   * a dense cluster reads the cluster's near edge, not the cluster. After ring r every unit closer than
   * r x cellM has been seen, so the search stops once the k-th found is that close. The worst case (a
   * filter that admits almost nothing) visits every occupied cell: a scan, never worse.
   */
  nearest(
    lon: number,
    lat: number,
    k: number,
    accept: (u: UnitPoint<T>) => boolean = () => true,
    maxM = Infinity,
  ): Nearest<T>[] {
    const best: Nearest<T>[] = [];
    if (k <= 0 || this.units.size === 0) return best;
    const { kx, ky, box, cellM } = this;
    const cx = this.cellX(lon);
    const cy = this.cellY(lat);
    // the query in the grid's planar frame, for the distance from it to a cell
    const qx = lon * kx;
    const qy = lat * ky;
    // the farthest ring that still meets the box
    const lastRing = Math.max(cx - box.minX, box.maxX - cx, cy - box.minY, box.maxY - cy, 0);
    const ring: { list: Entry<T>[]; minM: number }[] = [];
    const limit = () => (best.length === k ? Math.min(best[k - 1]!.distanceM, maxM) : maxM);
    const collect = (x: number, y: number) => {
      const list = this.cells.get(key(x, y));
      if (list === undefined) return;
      const dx = Math.max(0, x * cellM - qx, qx - (x + 1) * cellM);
      const dy = Math.max(0, y * cellM - qy, qy - (y + 1) * cellM);
      const minM = Math.hypot(dx, dy);
      if (minM <= limit()) ring.push({ list, minM });
    };
    const visit = (list: Entry<T>[]) => {
      for (const e of list) {
        consider(best, k, e, Math.hypot((e.lon - lon) * kx, (e.lat - lat) * ky), maxM, accept);
      }
    };
    for (let r = 0; r <= lastRing; r++) {
      // a cell of ring r is at least (r - 1) x cellM away
      if ((r - 1) * cellM > limit()) break;
      ring.length = 0;
      if (r === 0) {
        collect(cx, cy);
      } else {
        // rows y = cy - r and y = cy + r (x clipped to the box), then columns x = cx -/+ r without corners
        const x0 = Math.max(cx - r, box.minX);
        const x1 = Math.min(cx + r, box.maxX);
        for (const y of [cy - r, cy + r]) {
          if (y < box.minY || y > box.maxY) continue;
          for (let x = x0; x <= x1; x++) collect(x, y);
        }
        const y0 = Math.max(cy - r + 1, box.minY);
        const y1 = Math.min(cy + r - 1, box.maxY);
        for (const x of [cx - r, cx + r]) {
          if (x < box.minX || x > box.maxX) continue;
          for (let y = y0; y <= y1; y++) collect(x, y);
        }
      }
      ring.sort((a, b) => a.minM - b.minM);
      for (const c of ring) {
        // nothing in a cell is nearer than the cell itself
        if (best.length === k && c.minM >= best[k - 1]!.distanceM) break;
        visit(c.list);
      }
      // everything within r x cellM of the query is in rings 0..r
      if (best.length === k && best[k - 1]!.distanceM <= r * cellM) break;
    }
    return best;
  }

  /**
   * The same answer by a scan of every unit (the baseline of bench/dispatch.ts and the tests' oracle):
   * the same distance and the same bounded top-k insertion, so only the search differs.
   */
  scan(
    lon: number,
    lat: number,
    k: number,
    accept: (u: UnitPoint<T>) => boolean = () => true,
    maxM = Infinity,
  ): Nearest<T>[] {
    const { kx, ky } = this;
    const best: Nearest<T>[] = [];
    if (k <= 0) return best;
    for (const e of this.units.values()) {
      consider(best, k, e, Math.hypot((e.lon - lon) * kx, (e.lat - lat) * ky), maxM, accept);
    }
    return best;
  }
}

/**
 * The bounded top-k insertion shared by the grid search and the scan: `unit` at `d` metres goes into
 * `best` (nearest first, at most k) when it is within `maxM`, nearer than the k-th so far and accepted
 * (`accept` is asked last: it may be the costliest test).
 */
function consider<T>(
  best: Nearest<T>[],
  k: number,
  unit: UnitPoint<T>,
  d: number,
  maxM: number,
  accept: (u: UnitPoint<T>) => boolean,
): void {
  if (d > maxM || (best.length === k && d >= best[k - 1]!.distanceM) || !accept(unit)) return;
  let i = best.length === k ? k - 1 : best.length;
  while (i > 0 && best[i - 1]!.distanceM > d) {
    best[i] = best[i - 1]!;
    i--;
  }
  best[i] = { unit, distanceM: d };
}
