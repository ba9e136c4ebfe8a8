import { z } from 'zod';

/**
 * Instants on output are ISO-8601 UTC (`2026-11-20T15:00:00.000Z`). The engine's violations and trips
 * carry epoch-ms `startTs`/`endTs`, which existing clients read, so the API adds `startAt`/`endAt`
 * beside them rather than replacing them. The sealed evidence package is the exception: its hash covers
 * the engine's record as it was, so it is served unchanged (its GeoJSON form has ISO instants).
 */

export const isoInstantSchema = z.iso.datetime({ offset: false, local: false });

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The ISO fields of a violation's or trip's schema, beside its epoch-ms fields. */
export const spanInstantFields = {
  startAt: isoInstantSchema.describe('startTs as ISO-8601 UTC'),
  endAt: isoInstantSchema.optional().describe('endTs as ISO-8601 UTC, when ended'),
};

export type WithInstants<T> = T & { startAt: string; endAt?: string };

/** A violation or trip with `startAt`/`endAt` added (the input is not changed). */
export function withInstants<T extends { startTs: number; endTs?: number | undefined }>(
  item: T,
): WithInstants<T> {
  return {
    ...item,
    startAt: iso(item.startTs),
    ...(item.endTs === undefined ? {} : { endAt: iso(item.endTs) }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Local times for files people open (CSV): the JSON API stays UTC.

/** The zone of human-facing files unless the request says otherwise: the city's, China Standard Time. */
export const DEFAULT_FILE_TIME_ZONE = 'Asia/Shanghai';

const validZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/** `tz`: an IANA time zone name (`Asia/Shanghai`, `UTC`, `Europe/Berlin`). */
export const TimeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(validZone, 'expected an IANA time zone such as Asia/Shanghai or UTC');

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const QUARTER_HOUR_MS = 15 * 60_000;

/**
 * Instants as ISO-8601 local time with the zone's offset at that instant (`2026-11-22T16:00:00.000+08:00`;
 * `Z` for UTC): readable as local time, still one unambiguous instant. The offset is looked up once per
 * quarter hour of UTC (zones change offset only on quarter hours), so a 100,000-fix track costs a few
 * Intl calls, not one per fix.
 */
export function zonedIso(tz: string): (ms: number) => string {
  if (tz === 'UTC' || tz === 'Etc/UTC') return iso;
  const format = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
  const offsets = new Map<number, number>();
  const offsetMinutes = (ms: number): number => {
    const bucket = Math.floor(ms / QUARTER_HOUR_MS);
    let minutes = offsets.get(bucket);
    if (minutes === undefined) {
      const name = format.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
      const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
      minutes = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
      if (offsets.size > 10_000) offsets.clear();
      offsets.set(bucket, minutes);
    }
    return minutes;
  };
  return (ms: number): string => {
    const minutes = offsetMinutes(ms);
    const local = new Date(ms + minutes * 60_000).toISOString().slice(0, 23);
    if (minutes === 0) return `${local}Z`;
    const sign = minutes < 0 ? '-' : '+';
    const abs = Math.abs(minutes);
    return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  };
}
