import type { Position } from '../../shared/geo.ts';
import { haversineM, type LatLon } from '../../shared/tracks.ts';

/**
 * Planar metres around a point (the few hundred metres that matter here), for the plans oracle
 * (plans.ts): distances to a line and samples along it, on true positions. Its own code, not the
 * engine's (the oracle imports nothing from geofence/).
 */

function local(origin: LatLon, p: { lat: number; lon: number }): { x: number; y: number } {
  const k = 111_320;
  return {
    x: (p.lon - origin.lon) * k * Math.cos((origin.lat * Math.PI) / 180),
    y: (p.lat - origin.lat) * k,
  };
}

export function segmentDistanceM(p: LatLon, a: LatLon, b: LatLon): number {
  const A = local(p, a);
  const B = local(p, b);
  const dx = B.x - A.x;
  const dy = B.y - A.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, -(A.x * dx + A.y * dy) / len2)) : 0;
  return Math.hypot(A.x + t * dx, A.y + t * dy);
}

export function lineDistanceM(p: LatLon, line: readonly Position[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i + 1 < line.length; i++) {
    const a = { lon: line[i]![0], lat: line[i]![1] };
    const b = { lon: line[i + 1]![0], lat: line[i + 1]![1] };
    best = Math.min(best, segmentDistanceM(p, a, b));
  }
  return best;
}

/** Points every `stepM` metres along a line (both ends included), with the length each stands for. */
export function samples(line: readonly Position[], stepM: number): Array<{ p: LatLon; m: number }> {
  const out: Array<{ p: LatLon; m: number }> = [];
  for (let i = 0; i + 1 < line.length; i++) {
    const a = { lon: line[i]![0], lat: line[i]![1] };
    const b = { lon: line[i + 1]![0], lat: line[i + 1]![1] };
    const len = haversineM(a, b);
    const n = Math.max(1, Math.ceil(len / stepM));
    for (let k = 0; k < n; k++) {
      const f = (k + 0.5) / n;
      out.push({ p: { lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f }, m: len / n });
    }
  }
  return out;
}
