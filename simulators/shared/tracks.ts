import type { Rng } from './rng.ts';

/**
 * Small planar geometry for simulated tracks. Positions are WGS-84 degrees; distances are computed on a
 * local equirectangular projection, which is accurate to well under a metre over the few kilometres a
 * simulated route spans.
 */

export interface LatLon {
  lat: number;
  lon: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const DEG = Math.PI / 180;

export function haversineM(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * DEG;
  const dLon = (b.lon - a.lon) * DEG;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b, degrees 0..360 (north 0, east 90). */
export function bearingDeg(a: LatLon, b: LatLon): number {
  const la = a.lat * DEG;
  const lb = b.lat * DEG;
  const dLon = (b.lon - a.lon) * DEG;
  const y = Math.sin(dLon) * Math.cos(lb);
  const x = Math.cos(la) * Math.sin(lb) - Math.sin(la) * Math.cos(lb) * Math.cos(dLon);
  return (((Math.atan2(y, x) / DEG) % 360) + 360) % 360;
}

/** The point eastM metres east and northM metres north of p. */
export function offsetM(p: LatLon, eastM: number, northM: number): LatLon {
  return {
    lat: p.lat + northM / EARTH_RADIUS_M / DEG,
    lon: p.lon + eastM / (EARTH_RADIUS_M * Math.cos(p.lat * DEG)) / DEG,
  };
}

/** p relative to origin in metres (x east, y north). */
function toLocal(origin: LatLon, p: LatLon): { x: number; y: number } {
  return {
    x: (p.lon - origin.lon) * DEG * EARTH_RADIUS_M * Math.cos(origin.lat * DEG),
    y: (p.lat - origin.lat) * DEG * EARTH_RADIUS_M,
  };
}

/** Adds isotropic Gaussian position noise with sdM metres per axis (about 1.25 * sdM on average overall). */
export function gpsNoise(rng: Rng, p: LatLon, sdM: number): LatLon {
  return offsetM(p, rng.normal(0, sdM), rng.normal(0, sdM));
}

export interface PointOnLine {
  pos: LatLon;
  /** bearing of the segment the point lies on */
  heading: number;
  segment: number;
}

/** A polyline with cumulative lengths, for moving along it by distance. */
export class Polyline {
  readonly points: readonly LatLon[];
  /** cumulative distance at each vertex, metres */
  readonly cumulative: readonly number[];
  readonly lengthM: number;

  constructor(points: readonly LatLon[]) {
    if (points.length < 2) throw new Error('a polyline needs at least two points');
    this.points = points;
    const cum = [0];
    for (let i = 1; i < points.length; i++) {
      cum.push((cum[i - 1] as number) + haversineM(points[i - 1] as LatLon, points[i] as LatLon));
    }
    this.cumulative = cum;
    this.lengthM = cum[cum.length - 1] as number;
  }

  /** The point at distance d from the start (clamped to the line). */
  at(d: number): PointOnLine {
    const dist = Math.max(0, Math.min(this.lengthM, d));
    let i = 1;
    while (i < this.points.length - 1 && (this.cumulative[i] as number) < dist) i++;
    const a = this.points[i - 1] as LatLon;
    const b = this.points[i] as LatLon;
    const start = this.cumulative[i - 1] as number;
    const segLen = (this.cumulative[i] as number) - start;
    const f = segLen > 0 ? (dist - start) / segLen : 0;
    return {
      pos: { lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f },
      heading: bearingDeg(a, b),
      segment: i - 1,
    };
  }

  /** Distance from the end of the segment containing d to d, i.e. how far to the next corner. */
  toNextVertexM(d: number): number {
    for (let i = 1; i < this.cumulative.length; i++) {
      const c = this.cumulative[i] as number;
      if (c > d) return c - d;
    }
    return 0;
  }

  reversed(): Polyline {
    return new Polyline([...this.points].reverse());
  }
}

/** Shortest distance from p to the polyline, metres. */
export function distanceToPolylineM(p: LatLon, line: Polyline | readonly LatLon[]): number {
  const pts = line instanceof Polyline ? line.points : line;
  let best = Number.POSITIVE_INFINITY;
  for (let i = 1; i < pts.length; i++) {
    const a = toLocal(p, pts[i - 1] as LatLon);
    const b = toLocal(p, pts[i] as LatLon);
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.max(0, Math.min(1, -(a.x * dx + a.y * dy) / len2)) : 0;
    const x = a.x + t * dx;
    const y = a.y + t * dy;
    best = Math.min(best, Math.hypot(x, y));
  }
  return best;
}

/**
 * A road-like route from `from` to `to`: a staircase of roughly north-south and east-west legs (the
 * street grid of most Chinese city districts), with a few turns, slight bends and jittered corners.
 */
export function roadRoute(rng: Rng, from: LatLon, to: LatLon): Polyline {
  const target = toLocal(from, to);
  const turns = rng.int(2, 4);
  const pts: LatLon[] = [from];
  let x = 0;
  let y = 0;
  let eastFirst = rng.chance(0.5);
  // Split the east and north displacement over alternating legs.
  const legs = turns + 1;
  const eastLegs = eastFirst ? Math.ceil(legs / 2) : Math.floor(legs / 2);
  const northLegs = legs - eastLegs;
  const split = (total: number, n: number): number[] => {
    if (n === 0) return [];
    const w = Array.from({ length: n }, () => rng.range(0.5, 1.5));
    const s = w.reduce((acc, v) => acc + v, 0);
    return w.map((v) => (total * v) / s);
  };
  const easts = split(target.x, eastLegs);
  const norths = split(target.y, northLegs);
  for (let leg = 0; leg < legs; leg++) {
    const last = leg === legs - 1;
    const dx = eastFirst ? (easts.shift() ?? 0) : 0;
    const dy = eastFirst ? 0 : (norths.shift() ?? 0);
    // A slight bend halfway along long legs (roads are rarely ruler-straight).
    const legLen = Math.hypot(dx, dy);
    if (legLen > 600) {
      const bend = rng.normal(0, 15);
      const mx = x + dx / 2 + (dy !== 0 ? bend : 0);
      const my = y + dy / 2 + (dx !== 0 ? bend : 0);
      pts.push(offsetM(from, mx, my));
    }
    x += dx;
    y += dy;
    if (last) pts.push(to);
    else pts.push(offsetM(from, x + rng.normal(0, 4), y + rng.normal(0, 4)));
    eastFirst = !eastFirst;
  }
  return new Polyline(pts);
}

/** A closed loop round a block: a jittered rectangle of widthM x heightM starting at its south-west corner. */
export function blockLoop(rng: Rng, southWest: LatLon, widthM: number, heightM: number): Polyline {
  const j = () => rng.normal(0, 5);
  const corners = [
    southWest,
    offsetM(southWest, j(), heightM + j()),
    offsetM(southWest, widthM + j(), heightM + j()),
    offsetM(southWest, widthM + j(), j()),
    southWest,
  ];
  return new Polyline(corners);
}

/** A patrol loop: a jittered polygon of `sides` vertices round a centre (streets, a square, a market). */
export function patrolLoop(rng: Rng, center: LatLon, radiusM: number, sides = 6): Polyline {
  const pts: LatLon[] = [];
  const phase = rng.range(0, 2 * Math.PI);
  for (let i = 0; i < sides; i++) {
    const a = phase + (2 * Math.PI * i) / sides;
    const r = radiusM * rng.range(0.75, 1.2);
    pts.push(offsetM(center, r * Math.cos(a), r * Math.sin(a)));
  }
  pts.push(pts[0] as LatLon);
  return new Polyline(pts);
}
