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
