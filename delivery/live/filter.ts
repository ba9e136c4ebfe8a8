import { z } from 'zod';
import type { UnitKind } from '../../core/fix.ts';

/**
 * What a position or violation is matched on, and the matching itself: pure, shared by the live streams
 * (api/live-hub.ts) and the position list (api/positions.ts), so a filter means the same thing on both.
 */

/** bbox=minLon,minLat,maxLon,maxLat in WGS-84 degrees (RFC 7946 order). */
export interface Bbox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/**
 * Inside the box, edges included. A box whose minLon is greater than its maxLon crosses the antimeridian
 * (RFC 7946 section 5.2), so it holds lon >= minLon or lon <= maxLon.
 */
export function inBbox(box: Bbox, lon: number, lat: number): boolean {
  if (lat < box.minLat || lat > box.maxLat) return false;
  return box.minLon <= box.maxLon
    ? lon >= box.minLon && lon <= box.maxLon
    : lon >= box.minLon || lon <= box.maxLon;
}

/** Parses `minLon,minLat,maxLon,maxLat`; returns the reason when it is not a box. */
export function parseBbox(text: string): Bbox | string {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== 4) return 'expected four numbers: minLon,minLat,maxLon,maxLat';
  const n = parts.map((p) => (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p) ? Number(p) : Number.NaN));
  if (n.some((v) => !Number.isFinite(v))) return 'expected four numbers: minLon,minLat,maxLon,maxLat';
  const [minLon, minLat, maxLon, maxLat] = n as [number, number, number, number];
  if (Math.abs(minLon) > 180 || Math.abs(maxLon) > 180) return 'longitudes must be within [-180, 180]';
  if (Math.abs(minLat) > 90 || Math.abs(maxLat) > 90) return 'latitudes must be within [-90, 90]';
  if (minLat > maxLat) return 'minLat must not be greater than maxLat';
  return { minLon, minLat, maxLon, maxLat };
}

/** The `bbox` query parameter: parsed into a Bbox, or a 400 naming the field. */
export const bboxParam = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const box = parseBbox(s);
    if (typeof box === 'string') {
      ctx.addIssue({ code: 'custom', message: box });
      return z.NEVER;
    }
    return box;
  });

/** What a live event is matched on, captured when the event is published. */
export interface EventMeta {
  firm: string;
  vehicle: string;
  /** unit kind; unknown for a violation of a unit the registry no longer has */
  kind: UnitKind | undefined;
  lon: number;
  lat: number;
  /** violation code (violation events only) */
  code?: string;
}

/** Every given criterion must hold (AND); an absent one matches everything. */
export interface EventFilter {
  /** the event's firm must equal each of these: the key's firm (tenancy) and the `firm` parameter */
  firms?: readonly string[];
  vehicles?: ReadonlySet<string>;
  kind?: UnitKind;
  bbox?: Bbox;
  codes?: ReadonlySet<string>;
}

export function matches(filter: EventFilter, meta: EventMeta): boolean {
  if (filter.firms) for (const firm of filter.firms) if (meta.firm !== firm) return false;
  if (filter.vehicles && !filter.vehicles.has(meta.vehicle)) return false;
  if (filter.kind !== undefined && meta.kind !== filter.kind) return false;
  if (filter.codes && (meta.code === undefined || !filter.codes.has(meta.code))) return false;
  if (filter.bbox && !inBbox(filter.bbox, meta.lon, meta.lat)) return false;
  return true;
}
