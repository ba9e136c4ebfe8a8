import { booleanPointInPolygon, kinks, polygon as turfPolygon } from '@turf/turf';
import { dayNumberOf, parseWindow } from '../geofence/geo/windows.ts';
import type { Position } from '../geofence/model.ts';
import type { ValidationIssue } from './model/issues.ts';

/**
 * Validation of compliance-registry geometry and times, at registry time only (turf is never used per
 * fix). Every check returns a list of issues, each naming the offending value by a path in the body it
 * came from (`polygons[0][0][3]`, `limits[1].to`, `windows[2]`), so a caller can report all of them at
 * once; `ValidationError` carries such a list. Callers with another body shape (GeoJSON) rewrite the
 * paths (registry/geojson.ts).
 */

// The issue type and error live with the registry's schemas; re-exported for the validators' users.
export { assertValid, ValidationError, type ValidationIssue } from './model/issues.ts';

export const DEFAULT_CORRIDOR_M = 50;
export const MAX_CORRIDOR_M = 1000;
/** sanity ceiling for any configured speed limit */
export const MAX_SPEED_LIMIT_KMH = 250;

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** `[lon, lat]` rounded for messages. */
function fmt(p: readonly number[]): string {
  return `[${p.map((x) => Math.round(x * 1e7) / 1e7).join(', ')}]`;
}

/** A position `[lon, lat]`: two finite numbers, longitude within ±180, latitude within ±90. */
export function validatePosition(p: unknown, path: string): ValidationIssue[] {
  if (!Array.isArray(p) || p.length !== 2) {
    return [{ path, message: 'a position must be [longitude, latitude]' }];
  }
  const [lon, lat] = p as unknown[];
  if (!isFiniteNumber(lon) || !isFiniteNumber(lat)) {
    return [{ path, message: 'coordinates must be finite numbers' }];
  }
  if (lon < -180 || lon > 180) return [{ path, message: `longitude ${lon} is outside -180..180` }];
  if (lat < -90 || lat > 90) return [{ path, message: `latitude ${lat} is outside -90..90` }];
  return [];
}

const samePosition = (a: readonly number[], b: readonly number[]) => a[0] === b[0] && a[1] === b[1];

/** Twice the signed planar area of a ring in degrees² (only its sign and zero-ness are used). */
function ringArea2(ring: readonly (readonly number[])[]): number {
  let s = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i]!;
    const b = ring[i + 1]!;
    s += a[0]! * b[1]! - b[0]! * a[1]!;
  }
  return s;
}

/** Consecutive repeats removed (they are harmless, but turf `kinks` reads them as touching segments). */
function dedupe(ring: readonly Position[]): Position[] {
  const out: Position[] = [];
  for (const p of ring) if (out.length === 0 || !samePosition(out[out.length - 1]!, p)) out.push(p);
  return out;
}

/**
 * GeoJSON Polygon coordinates (outer ring, then holes): every ring closed (last position repeats the
 * first) with at least 4 positions and a non-zero area, positions valid, no self-intersection (turf
 * `kinks`, which also finds a hole crossing the outer ring or another hole), holes inside the outer ring.
 */
export function validatePolygon(rings: unknown, path: string): ValidationIssue[] {
  if (!Array.isArray(rings) || rings.length === 0) {
    return [{ path, message: 'a polygon must be a non-empty list of rings (outer ring first)' }];
  }
  const issues: ValidationIssue[] = [];
  rings.forEach((ring: unknown, r) => {
    const at = `${path}[${r}]`;
    if (!Array.isArray(ring)) {
      issues.push({ path: at, message: 'a ring must be a list of positions' });
      return;
    }
    const before = issues.length;
    ring.forEach((p: unknown, i) => {
      issues.push(...validatePosition(p, `${at}[${i}]`));
    });
    if (issues.length > before) return;
    if (ring.length < 4) {
      issues.push({
        path: at,
        message: `a ring needs at least 4 positions (a closed triangle), got ${ring.length}`,
      });
      return;
    }
    const first = ring[0] as number[];
    const last = ring[ring.length - 1] as number[];
    if (!samePosition(first, last)) {
      issues.push({
        path: `${at}[${ring.length - 1}]`,
        message: `ring is not closed: the last position ${fmt(last)} must repeat the first ${fmt(first)}`,
      });
    }
  });
  if (issues.length > 0) return issues;

  const clean = (rings as Position[][]).map(dedupe);
  clean.forEach((ring, r) => {
    if (ring.length < 4) {
      issues.push({ path: `${path}[${r}]`, message: 'a ring needs at least 3 distinct positions' });
    }
  });
  if (issues.length > 0) return issues;
  const crossings = kinks(turfPolygon(clean)).features;
  if (crossings.length > 0) {
    const seen = new Set<string>();
    const at: string[] = [];
    for (const f of crossings) {
      const s = fmt(f.geometry.coordinates);
      if (!seen.has(s)) {
        seen.add(s);
        at.push(s);
      }
    }
    const shown = at.slice(0, 3).join(', ') + (at.length > 3 ? ` and ${at.length - 3} more` : '');
    return [{ path, message: `self-intersecting polygon at ${shown}` }];
  }
  clean.forEach((ring, r) => {
    if (ringArea2(ring) === 0) {
      issues.push({ path: `${path}[${r}]`, message: 'ring has zero area (all positions on one line)' });
    }
  });
  if (issues.length > 0) return issues;
  if (clean.length > 1) {
    const outer = turfPolygon([clean[0]!]);
    for (let r = 1; r < clean.length; r++) {
      // No crossing (checked above), so one vertex decides: inside or on the boundary is inside.
      if (!booleanPointInPolygon(clean[r]![0]!, outer)) {
        issues.push({ path: `${path}[${r}]`, message: 'hole lies outside the outer ring' });
      }
    }
  }
  return issues;
}

/** GeoJSON MultiPolygon coordinates: a non-empty list of valid polygons. */
export function validatePolygons(polygons: unknown, path: string): ValidationIssue[] {
  if (!Array.isArray(polygons) || polygons.length === 0) {
    return [{ path, message: 'at least one polygon is required' }];
  }
  return polygons.flatMap((p: unknown, i) => validatePolygon(p, `${path}[${i}]`));
}

/** A route polyline: at least 2 valid positions, no position repeating the one before it. */
export function validateLine(line: unknown, path: string): ValidationIssue[] {
  if (!Array.isArray(line)) return [{ path, message: 'a line must be a list of positions' }];
  const issues: ValidationIssue[] = [];
  line.forEach((p: unknown, i) => {
    issues.push(...validatePosition(p, `${path}[${i}]`));
  });
  if (issues.length > 0) return issues;
  if (line.length < 2) {
    return [{ path, message: `a route needs at least 2 positions, got ${line.length}` }];
  }
  for (let i = 1; i < line.length; i++) {
    if (samePosition(line[i] as number[], line[i - 1] as number[])) {
      issues.push({
        path: `${path}[${i}]`,
        message: `position ${fmt(line[i] as number[])} repeats the previous one (zero-length segment)`,
      });
    }
  }
  return issues;
}

/** Corridor half-width in metres: > 0 and at most MAX_CORRIDOR_M. */
export function validateCorridor(corridorM: unknown, path: string): ValidationIssue[] {
  if (!isFiniteNumber(corridorM)) return [{ path, message: 'corridor width must be a number of metres' }];
  if (corridorM <= 0) return [{ path, message: `corridor width must be greater than 0 m, got ${corridorM}` }];
  if (corridorM > MAX_CORRIDOR_M) {
    return [{ path, message: `corridor width must be at most ${MAX_CORRIDOR_M} m, got ${corridorM}` }];
  }
  return [];
}

/** A speed limit in km/h: positive and plausible. */
export function validateSpeed(kmh: unknown, path: string): ValidationIssue[] {
  if (!isFiniteNumber(kmh) || kmh <= 0 || kmh > MAX_SPEED_LIMIT_KMH) {
    return [{ path, message: `speed limit must be a number of km/h in (0, ${MAX_SPEED_LIMIT_KMH}]` }];
  }
  return [];
}

/**
 * Segment limits of a route with `vertexCount` positions: vertex indices `from < to`, both within the
 * line, and at least one of speedLimitKmh / nightLimitKmh.
 */
export function validateLimits(limits: unknown, vertexCount: number, path: string): ValidationIssue[] {
  if (!Array.isArray(limits)) return [{ path, message: 'limits must be a list' }];
  const issues: ValidationIssue[] = [];
  const last = vertexCount - 1;
  limits.forEach((l: unknown, i) => {
    const at = `${path}[${i}]`;
    if (l === null || typeof l !== 'object' || Array.isArray(l)) {
      issues.push({
        path: at,
        message: 'a limit must be an object {from, to, speedLimitKmh?, nightLimitKmh?}',
      });
      return;
    }
    const { from, to, speedLimitKmh, nightLimitKmh } = l as Record<string, unknown>;
    let indicesOk = true;
    for (const [name, v] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > last) {
        issues.push({
          path: `${at}.${name}`,
          message: `must be a vertex index of the line, 0..${last}, got ${JSON.stringify(v)}`,
        });
        indicesOk = false;
      }
    }
    if (indicesOk && (from as number) >= (to as number)) {
      issues.push({ path: `${at}.to`, message: `must be greater than from (${String(from)})` });
    }
    if (speedLimitKmh === undefined && nightLimitKmh === undefined) {
      issues.push({ path: at, message: 'a limit needs speedLimitKmh or nightLimitKmh' });
    }
    if (speedLimitKmh !== undefined) issues.push(...validateSpeed(speedLimitKmh, `${at}.speedLimitKmh`));
    if (nightLimitKmh !== undefined) issues.push(...validateSpeed(nightLimitKmh, `${at}.nightLimitKmh`));
  });
  return issues;
}

/** Daily windows "HH:MM-HH:MM" in China Standard Time (geofence/geo/windows.ts parseWindow). */
export function validateWindows(
  windows: unknown,
  path: string,
  opts: { min?: number } = {},
): ValidationIssue[] {
  if (!Array.isArray(windows)) return [{ path, message: 'windows must be a list of "HH:MM-HH:MM" strings' }];
  const issues: ValidationIssue[] = [];
  if (windows.length < (opts.min ?? 0)) {
    issues.push({ path, message: `at least ${opts.min} window(s) "HH:MM-HH:MM" required` });
  }
  windows.forEach((w: unknown, i) => {
    if (typeof w !== 'string') {
      issues.push({ path: `${path}[${i}]`, message: 'a window must be a "HH:MM-HH:MM" string' });
      return;
    }
    try {
      parseWindow(w);
    } catch (err) {
      issues.push({ path: `${path}[${i}]`, message: (err as Error).message });
    }
  });
  return issues;
}

/** Local dates YYYY-MM-DD, inclusive, with from <= to. */
export function validateDates(
  from: unknown,
  to: unknown,
  paths: { from: string; to: string },
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const day = (v: unknown, path: string): number | undefined => {
    if (typeof v !== 'string') {
      issues.push({ path, message: 'a date must be a "YYYY-MM-DD" string' });
      return undefined;
    }
    try {
      return dayNumberOf(v);
    } catch (err) {
      issues.push({ path, message: (err as Error).message });
      return undefined;
    }
  };
  const f = day(from, paths.from);
  const t = day(to, paths.to);
  if (f !== undefined && t !== undefined && f > t) {
    issues.push({ path: paths.to, message: `${String(to)} is before ${String(from)} (validFrom)` });
  }
  return issues;
}
