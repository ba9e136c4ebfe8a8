import type { Fix, UnitKind } from '../core/fix.ts';
import { DEFAULT_FILE_TIME_ZONE, zonedIso } from '../core/instants.ts';
import { csvText } from './csv.ts';
import { FixSchema, toPositionDto } from './schemas.ts';

/** One RFC 4180 field (api/csv.ts); kept here for the callers that import it from this module. */
export { csvField } from './csv.ts';

/**
 * A vehicle's track in the formats GET /api/v1/vehicles/{id}/track serves: JSON, GeoJSON (RFC 7946),
 * CSV (RFC 4180) and GPX 1.1. Pure functions of the fixes (oldest first) and the track's description;
 * every instant is ISO-8601 UTC.
 */

export interface TrackMeta {
  vehicle: string;
  kind: UnitKind;
  firm: string;
  plate?: string;
  /** the queried range, epoch ms, inclusive */
  from: number;
  to: number;
  /** fixes in the range before downsampling */
  total: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function header(meta: TrackMeta) {
  return {
    vehicle: meta.vehicle,
    kind: meta.kind,
    firm: meta.firm,
    ...(meta.plate === undefined ? {} : { plate: meta.plate }),
    from: iso(meta.from),
    to: iso(meta.to),
    total: meta.total,
  };
}

export function trackJson(meta: TrackMeta, fixes: readonly Fix[]) {
  return { ...header(meta), count: fixes.length, items: fixes.map((f) => toPositionDto(f)) };
}

/**
 * One Feature: a LineString of [lon, lat] with the instants (and speeds) of its positions, index for
 * index, in the properties. RFC 7946 needs two positions for a LineString, so a single fix is a Point and
 * an empty range has a null geometry (a valid Feature either way).
 */
export function trackGeoJson(meta: TrackMeta, fixes: readonly Fix[]) {
  const coordinates = fixes.map((f) => [f.lon, f.lat]);
  const geometry =
    fixes.length === 0
      ? null
      : fixes.length === 1
        ? { type: 'Point' as const, coordinates: coordinates[0] as number[] }
        : { type: 'LineString' as const, coordinates };
  return {
    type: 'Feature' as const,
    geometry,
    properties: {
      ...header(meta),
      count: fixes.length,
      timestamps: fixes.map((f) => iso(f.ts)),
      speeds: fixes.map((f) => f.speed ?? null),
      valid: fixes.map((f) => f.valid),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// CSV (RFC 4180, api/csv.ts): CRLF line ends, a header line, fields quoted when they hold a comma, a quote, CR or LF.

/** Every Fix field (derived from the schema, so a new field becomes a column), plate after vehicle. */
export const CSV_COLUMNS: readonly string[] = (() => {
  const fields = Object.keys(FixSchema.shape).filter((k) => k !== 'ts' && k !== 'received');
  const at = fields.indexOf('vehicle') + 1;
  return ['ts', ...fields.slice(0, at), 'plate', ...fields.slice(at), 'received'];
})();

/** `tz`: the zone of the ts and received columns (people open CSV files: the city's local time by default) */
export function trackCsv(meta: TrackMeta, fixes: readonly Fix[], tz = DEFAULT_FILE_TIME_ZONE): string {
  const local = zonedIso(tz);
  const rows = fixes.map((fix) => ({
    ...fix,
    ts: local(fix.ts),
    received: local(fix.received),
    plate: meta.plate,
  }));
  return csvText(CSV_COLUMNS, rows);
}

// ---------------------------------------------------------------------------------------------------
// GPX 1.1 (https://www.topografix.com/GPX/1/1/): one trk with one trkseg. Speed, heading and load are
// not in GPX 1.1 itself; they go into the trkpt's extensions in the CityWatch namespace.

export const GPX_NAMESPACE = 'http://www.topografix.com/GPX/1/1';
export const CITYWATCH_GPX_NAMESPACE = 'urn:citywatch:gpx:1';

/** XML text: markup characters escaped, characters XML 1.0 forbids removed. */
function xml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** xsd:decimal has no exponent notation, which String() uses for very small numbers. */
function decimal(n: number): string {
  const s = String(n);
  return /e/i.test(s) ? n.toFixed(12).replace(/\.?0+$/, '') : s;
}

export function trackGpx(meta: TrackMeta, fixes: readonly Fix[], generatedAt: number): string {
  const name = xml(meta.plate ?? meta.vehicle);
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<gpx version="1.1" creator="CityWatch" xmlns="${GPX_NAMESPACE}" xmlns:cw="${CITYWATCH_GPX_NAMESPACE}"` +
      ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
      ` xsi:schemaLocation="${GPX_NAMESPACE} ${GPX_NAMESPACE}/gpx.xsd">`,
    '  <metadata>',
    `    <name>${name}</name>`,
    `    <desc>${xml(`${meta.vehicle} (${meta.kind}, ${meta.firm}) ${iso(meta.from)}/${iso(meta.to)}`)}</desc>`,
    `    <time>${iso(generatedAt)}</time>`,
  ];
  if (fixes.length > 0) {
    // a loop, not Math.min(...): a spread of 100,000 arguments can overflow the stack
    let [minLat, minLon, maxLat, maxLon] = [90, 180, -90, -180];
    for (const f of fixes) {
      minLat = Math.min(minLat, f.lat);
      minLon = Math.min(minLon, f.lon);
      maxLat = Math.max(maxLat, f.lat);
      maxLon = Math.max(maxLon, f.lon);
    }
    out.push(
      `    <bounds minlat="${decimal(minLat)}" minlon="${decimal(minLon)}"` +
        ` maxlat="${decimal(maxLat)}" maxlon="${decimal(maxLon)}"/>`,
    );
  }
  out.push('  </metadata>', '  <trk>', `    <name>${name}</name>`, `    <type>${xml(meta.kind)}</type>`);
  out.push('    <trkseg>');
  for (const f of fixes) {
    // Child order is fixed by the schema (wptType): ele, time, ..., fix, sat, ..., extensions.
    const children: string[] = [];
    if (f.alt !== undefined) children.push(`<ele>${decimal(f.alt)}</ele>`);
    children.push(`<time>${iso(f.ts)}</time>`);
    if (!f.valid) children.push('<fix>none</fix>');
    if (f.sats !== undefined && f.sats >= 0) children.push(`<sat>${f.sats}</sat>`);
    const ext: string[] = [];
    if (f.speed !== undefined) ext.push(`<cw:speed>${decimal(f.speed)}</cw:speed>`);
    if (f.heading !== undefined) ext.push(`<cw:heading>${decimal(f.heading)}</cw:heading>`);
    if (f.load !== undefined) ext.push(`<cw:load>${xml(f.load)}</cw:load>`);
    if (ext.length > 0) children.push(`<extensions>${ext.join('')}</extensions>`);
    out.push(`      <trkpt lat="${decimal(f.lat)}" lon="${decimal(f.lon)}">${children.join('')}</trkpt>`);
  }
  out.push('    </trkseg>', '  </trk>', '</gpx>', '');
  return out.join('\n');
}

/** A file name for Content-Disposition: ASCII only, so no header encoding is needed. */
export function trackFileName(meta: TrackMeta, extension: string): string {
  const stamp = (ms: number) =>
    iso(ms)
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  const id = meta.vehicle.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return `track_${id}_${stamp(meta.from)}_${stamp(meta.to)}.${extension}`;
}
