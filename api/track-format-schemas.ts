import { z } from 'zod';
import { UNIT_KINDS } from '../core/fix.ts';
import { TimeZoneSchema } from '../core/instants.ts';
import { PositionDtoSchema } from './schemas.ts';
import { TRACK_FORMATS } from './track-format-negotiate.ts';
import { parseDuration } from './track-format-sample.ts';

/** Request and response schemas of GET /api/v1/vehicles/{id}/track. */

/** The longest range one request may cover. */
export const MAX_TRACK_SPAN_MS = 31 * 86_400_000;
/** The most fixes one request reads from the store (before downsampling). */
export const MAX_TRACK_FIXES = 100_000;
/** The range when `from` is not given. */
export const DEFAULT_TRACK_SPAN_MS = 86_400_000;

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * epoch ms, or an ISO 8601 date-time with Z or an offset: a date-time without a zone would be read in
 * the server's local zone, so it is refused rather than guessed.
 */
export const instantParam = z
  .string()
  .min(1)
  .max(64)
  .transform((s, ctx) => {
    const n = /^-?\d{1,16}$/.test(s) ? Number(s) : ISO_WITH_ZONE.test(s) ? Date.parse(s) : Number.NaN;
    if (!Number.isSafeInteger(n)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected epoch ms or an ISO 8601 date-time with Z or an offset',
      });
      return z.NEVER;
    }
    return n;
  });

const interval = z
  .string()
  .max(32)
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined || ms < 1000 || ms > 86_400_000) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration from 1s to 24h, e.g. 60s, 5m or 1h' });
      return z.NEVER;
    }
    return ms;
  });

export const TrackQuerySchema = z.strictObject({
  from: instantParam
    .optional()
    .describe('start, inclusive: epoch ms or ISO 8601 with Z or an offset; default 24 h before `to`'),
  to: instantParam
    .optional()
    .describe('end, inclusive: epoch ms or ISO 8601 with Z or an offset; default now'),
  interval: interval
    .optional()
    .describe('downsample: the first fix of every interval (e.g. 60s, 5m, 1h; aligned on the epoch)'),
  maxPoints: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_TRACK_FIXES)
    .optional()
    .describe('downsample: at most this many fixes, evenly spread, first and last kept'),
  format: z.enum(TRACK_FORMATS).optional().describe('json, geojson, csv or gpx; overrides the Accept header'),
  tz: TimeZoneSchema.optional().describe(
    'CSV only: the time zone of its ts and received columns, written as ISO 8601 local time with the offset (`2026-11-22T16:00:00.000+08:00`); default Asia/Shanghai, `UTC` for Z times. JSON, GeoJSON and GPX stay UTC',
  ),
});

const iso = z.iso.datetime({ offset: false, local: false });

const trackHeader = {
  vehicle: z.string(),
  kind: z.enum(UNIT_KINDS),
  firm: z.string(),
  plate: z.string().optional(),
  from: iso.describe('start of the queried range, ISO-8601 UTC'),
  to: iso.describe('end of the queried range, ISO-8601 UTC'),
  total: z.number().int().describe('fixes in the range before downsampling'),
  count: z.number().int().describe('fixes returned'),
};

export const TrackSchema = z
  .object({ ...trackHeader, items: z.array(PositionDtoSchema).describe('oldest first') })
  .meta({ id: 'Track' });

const lonLat = z.array(z.number()).min(2).max(2).describe('[lon, lat], WGS-84');

export const TrackFeatureSchema = z
  .object({
    type: z.literal('Feature'),
    geometry: z
      .union([
        z.object({ type: z.literal('LineString'), coordinates: z.array(lonLat) }),
        z.object({ type: z.literal('Point'), coordinates: lonLat }),
      ])
      .nullable()
      .describe('LineString; a Point for a single fix; null when the range has no fix'),
    properties: z.object({
      ...trackHeader,
      timestamps: z.array(iso).describe('instant of each position, index for index'),
      speeds: z.array(z.number().nullable()).describe('km/h of each position, null when not reported'),
      valid: z.array(z.boolean()).describe('GNSS validity of each position'),
    }),
  })
  .meta({ id: 'TrackFeature', description: 'GeoJSON (RFC 7946) Feature of a track' });

export const TrackCsvSchema = z
  .string()
  .describe(
    'RFC 4180: CRLF line ends, a header line, one fix per row; columns ts, vehicle, plate, then every ' +
      'Position field, received last; instants ISO-8601 UTC, empty when not reported',
  );

export const TrackGpxSchema = z
  .string()
  .describe(
    'GPX 1.1: one trk with one trkseg; trkpt with ele, time, fix (none when the GNSS fix was invalid), sat, ' +
      'and speed (km/h), heading and load as extensions in the namespace urn:citywatch:gpx:1',
  );
