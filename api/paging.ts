import { z } from 'zod';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';

/**
 * Cursor pagination of the lists the API holds in memory (firms, vehicles, officers, devices, keys,
 * permits, sites, routes, zones, webhook subscriptions): keyset pages over a sort key, so a page stays
 * correct while items are added or deleted between two requests (an offset would skip or repeat items).
 * The cursor is opaque to clients (base64url of a small JSON object): its content may change without
 * breaking anyone. Backward compatible: without `limit` and `cursor` the whole list comes in one answer,
 * as before pages existed.
 */

export const MAX_PAGE_SIZE = 1000;
/** Page size when a cursor is given without a limit. */
export const DEFAULT_PAGE_SIZE = 100;

/** The query fields of a paged list, for its strictObject querystring schema. */
export const pageQueryFields = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .optional()
    .describe(
      `page size, max ${MAX_PAGE_SIZE.toLocaleString('en')}; without limit and cursor the whole list comes at once`,
    ),
  cursor: z.string().min(1).max(512).optional().describe('nextCursor of the previous page'),
};

export const nextCursorField = z
  .string()
  .optional()
  .describe('pass as `cursor` for the next page; absent on the last page');

export interface PageQuery {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** items on this page */
  count: number;
  nextCursor?: string;
}

export function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ a: after }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const after = (parsed as { a?: unknown } | null)?.a;
    if (typeof after === 'string') return after;
  } catch {
    // falls through to the problem below
  }
  const message = 'not a cursor returned by this endpoint';
  throw new HttpProblem({
    status: 400,
    type: PROBLEM_TYPES.validation,
    title: 'Invalid request',
    detail: `querystring/cursor: ${message}`,
    errors: [{ in: 'querystring', pointer: '/cursor', message }],
  });
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One page of `items` in ascending order of `key` (unique per item): the items after the cursor's key,
 * `limit` of them. Sorts a copy, so the caller's order does not matter.
 */
export function paginate<T>(items: readonly T[], key: (item: T) => string, query: PageQuery): Page<T> {
  const keyed = items.map((item) => ({ item, k: key(item) })).sort((x, y) => compare(x.k, y.k));
  if (query.limit === undefined && query.cursor === undefined) {
    return { items: keyed.map((e) => e.item), count: keyed.length };
  }
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  // First index with a key above the cursor's (binary search: the list is sorted).
  let lo = 0;
  let hi = keyed.length;
  if (after !== undefined) {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keyed[mid] as { k: string }).k <= after) lo = mid + 1;
      else hi = mid;
    }
  }
  const size = query.limit ?? DEFAULT_PAGE_SIZE;
  const slice = keyed.slice(lo, lo + size);
  const page: Page<T> = { items: slice.map((e) => e.item), count: slice.length };
  if (lo + size < keyed.length && slice.length > 0) page.nextCursor = encodeCursor(slice.at(-1)!.k);
  return page;
}

/** Sort key of the lists ordered by id. */
export const byIdKey = (item: { id: string }) => item.id;
