/**
 * Local planar measurement on the WGS-84 ellipsoid, the cheap-ruler approach (Agafonkin): near a reference
 * latitude, one degree of longitude and one degree of latitude are fixed lengths in metres, so distances
 * become Pythagoras instead of trigonometry. That is what makes per-fix geometry cheap (issue 3: "planar
 * approximations accurate at city scale, < 0.1 % error").
 *
 * Why not the plain cheap-ruler: it keeps the scale of the reference latitude for every point, and the
 * east-west scale changes by tan(lat) per radian of latitude (about 1.8 % per degree at Harbin, 45.8 N), so
 * 100 km north of the reference it is already off by more than 0.1 %. Here the scale is evaluated at the
 * latitude where it is used (the mid-latitude of two points, or the latitude of the query point) from a
 * quadratic fitted around the reference once, which keeps < 0.01 % within +-2 degrees (about 200 km) and
 * costs a few multiplications, no trigonometry.
 *
 * Pure: a Ruler is immutable after construction.
 */

/** WGS-84 position `[lon, lat]` in degrees (GeoJSON order). */
export type LonLat = readonly [lon: number, lat: number];

const A = 6378137; // WGS-84 semi-major axis, metres
const F = 1 / 298.257223563; // WGS-84 flattening
const E2 = F * (2 - F); // first eccentricity squared
const RAD = Math.PI / 180;

/**
 * Metres per degree of longitude (kx) and latitude (ky) at a latitude on the WGS-84 ellipsoid: kx from the
 * radius of curvature in the prime vertical times cos(lat), ky from the meridional radius of curvature.
 */
export function metresPerDegree(lat: number): { kx: number; ky: number } {
  const m = RAD * A;
  const c = Math.cos(lat * RAD);
  const w2 = 1 / (1 - E2 * (1 - c * c));
  const w = Math.sqrt(w2);
  return { kx: m * w * c, ky: m * w * w2 * (1 - E2) };
}

/** longitude difference wrapped to [-180, 180) so a pair across the antimeridian stays short */
function wrapLon(d: number): number {
  while (d < -180) d += 360;
  while (d >= 180) d -= 360;
  return d;
}

/** Half-width of the latitude interval the scale quadratic is fitted on (degrees). */
const FIT_H = 1;

export class Ruler {
  /** reference longitude: origin of `project` */
  readonly refLon: number;
  /** reference latitude: origin of `project`, centre of the scale fit */
  readonly refLat: number;
  /** metres per degree of longitude at the reference latitude (the `project` scale) */
  readonly kx: number;
  /** metres per degree of latitude at the reference latitude */
  readonly ky: number;
  // kx(lat) ~ kx + kx1 d + kx2 d^2 with d = lat - refLat (degrees); same for ky
  private readonly kx1: number;
  private readonly kx2: number;
  private readonly ky1: number;
  private readonly ky2: number;

  constructor(refLat: number, refLon = 0) {
    if (!Number.isFinite(refLat) || Math.abs(refLat) > 85)
      throw new RangeError(`bad reference latitude ${refLat}`);
    if (!Number.isFinite(refLon)) throw new RangeError(`bad reference longitude ${refLon}`);
    this.refLat = refLat;
    this.refLon = refLon;
    const k0 = metresPerDegree(refLat);
    const kp = metresPerDegree(refLat + FIT_H);
    const km = metresPerDegree(refLat - FIT_H);
    this.kx = k0.kx;
    this.ky = k0.ky;
    this.kx1 = (kp.kx - km.kx) / (2 * FIT_H);
    this.kx2 = (kp.kx - 2 * k0.kx + km.kx) / (2 * FIT_H * FIT_H);
    this.ky1 = (kp.ky - km.ky) / (2 * FIT_H);
    this.ky2 = (kp.ky - 2 * k0.ky + km.ky) / (2 * FIT_H * FIT_H);
  }

  /** A ruler centred on the bounding box of some positions (what the indexes use by default). */
  static around(points: Iterable<LonLat>): Ruler {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const p of points) {
      if (p[0] < minX) minX = p[0];
      if (p[0] > maxX) maxX = p[0];
      if (p[1] < minY) minY = p[1];
      if (p[1] > maxY) maxY = p[1];
    }
    if (!(minX <= maxX)) return new Ruler(0, 0);
    return new Ruler((minY + maxY) / 2, (minX + maxX) / 2);
  }

  /** metres per degree of longitude at `lat` */
  kxAt(lat: number): number {
    const d = lat - this.refLat;
    return this.kx + d * (this.kx1 + d * this.kx2);
  }

  /** metres per degree of latitude at `lat` */
  kyAt(lat: number): number {
    const d = lat - this.refLat;
    return this.ky + d * (this.ky1 + d * this.ky2);
  }

  /** Distance in metres, scale taken at the mid-latitude of the two points. */
  distanceM(a: LonLat, b: LonLat): number {
    const mid = (a[1] + b[1]) / 2;
    const dx = wrapLon(b[0] - a[0]) * this.kxAt(mid);
    const dy = (b[1] - a[1]) * this.kyAt(mid);
    return Math.sqrt(dx * dx + dy * dy);
  }

  /** Bearing from a to b in degrees, 0 = north, clockwise, in [0, 360) (the convention of fix headings). */
  bearingDeg(a: LonLat, b: LonLat): number {
    const mid = (a[1] + b[1]) / 2;
    const dx = wrapLon(b[0] - a[0]) * this.kxAt(mid);
    const dy = (b[1] - a[1]) * this.kyAt(mid);
    const deg = Math.atan2(dx, dy) / RAD;
    return deg < 0 ? deg + 360 : deg;
  }

  /**
   * Distance from p to the segment a-b and the fraction t in [0, 1] of the nearest point along a->b.
   * Computed in a planar frame centred on p with p's own scale, so the result is exact in the limit of
   * short segments (route segments are tens of metres) wherever p is.
   */
  pointToSegment(p: LonLat, a: LonLat, b: LonLat): { distanceM: number; t: number } {
    const kx = this.kxAt(p[1]);
    const ky = this.kyAt(p[1]);
    const ax = wrapLon(a[0] - p[0]) * kx;
    const ay = (a[1] - p[1]) * ky;
    const bx = wrapLon(b[0] - p[0]) * kx;
    const by = (b[1] - p[1]) * ky;
    const t = segmentT(ax, ay, bx, by);
    return { distanceM: Math.sqrt(distSqAt(ax, ay, bx, by, t)), t };
  }

  /** Length of a polyline in metres (each segment at its own mid-latitude). */
  lineLengthM(line: readonly LonLat[]): number {
    let sum = 0;
    for (let i = 1; i < line.length; i++) sum += this.distanceM(line[i - 1]!, line[i]!);
    return sum;
  }

  /** The position `eastM` east and `northM` north of p (local scale at p; for short offsets). */
  offset(p: LonLat, eastM: number, northM: number): [number, number] {
    // iterate once on the mid-latitude so a long north offset keeps the east scale right
    const lat1 = p[1] + northM / this.kyAt(p[1]);
    const mid = (p[1] + lat1) / 2;
    return [p[0] + eastM / this.kxAt(mid), p[1] + northM / this.kyAt(mid)];
  }

  /** The position `distM` away from p on bearing `bearingDeg` (0 north, clockwise). */
  destination(p: LonLat, distM: number, bearingDeg: number): [number, number] {
    const r = bearingDeg * RAD;
    return this.offset(p, distM * Math.sin(r), distM * Math.cos(r));
  }

  /**
   * Projection to a plane in metres east/north of the reference with the reference scale (affine in
   * lon/lat). The indexes bucket and store geometry in this plane; because it is affine, point-in-polygon
   * answers equal those in lon/lat, and a distance measured in it is corrected to the query point's scale
   * with `kxAt(lat) / kx` and `kyAt(lat) / ky` (see polyline-index.ts).
   */
  project(p: LonLat): [number, number] {
    return [wrapLon(p[0] - this.refLon) * this.kx, (p[1] - this.refLat) * this.ky];
  }

  /** `project(p)[0]` without the array: per-fix queries call these two. */
  projectX(lon: number): number {
    return wrapLon(lon - this.refLon) * this.kx;
  }

  projectY(lat: number): number {
    return (lat - this.refLat) * this.ky;
  }

  /** Inverse of `project`. */
  unproject(x: number, y: number): [number, number] {
    return [this.refLon + x / this.kx, this.refLat + y / this.ky];
  }
}

/**
 * Planar helpers shared by the indexes: a and b are segment ends relative to the query point (so the
 * point is the origin), in metres. `segmentT` is the clamped fraction of the nearest point along a->b,
 * `distSqAt` the squared distance from the origin to that point. Zero-length segments give t = 0.
 */
export function segmentT(ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  if (len2 === 0) return 0;
  const t = -(ax * dx + ay * dy) / len2;
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

export function distSqAt(ax: number, ay: number, bx: number, by: number, t: number): number {
  const qx = ax + t * (bx - ax);
  const qy = ay + t * (by - ay);
  return qx * qx + qy * qy;
}
