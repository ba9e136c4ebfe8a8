import { FIX_KEYS, type Fix } from '../core/fix.ts';

/**
 * How the backfill history (compliance/backfill-history.ts) stores a judged fix: a JSON array of the
 * fields' values in a fixed order, without the names, and without the vehicle and the instant (the row's
 * key). A fix as JSON with its names is ~330 bytes, this ~150: the history keeps every fix of every
 * vehicle for the backfill horizon, so the names would be most of the file. Nothing is rounded: a
 * re-judging must see exactly the fix the in-order judgement saw (same fixes, same violations, byte for
 * byte). A field this list does not name (added to the Fix later) is kept in a trailing object, so a
 * newer field is never lost; values absent from the fix are `null` (trailing ones left out).
 */

/**
 * The properties a history row holds by position: every Fix property but the row's key (vehicle, ts), in
 * the order of core/fix.ts FIX_KEYS (append only), as many as there were when this format was set. The
 * count never grows: an old row's trailing object stands at position HISTORY_POSITIONS, and properties
 * added to the Fix since go into that object.
 */
const HISTORY_POSITIONS = 29;
const FIELDS: readonly (keyof Fix)[] = FIX_KEYS.filter((k) => k !== 'vehicle' && k !== 'ts').slice(
  0,
  HISTORY_POSITIONS,
);

const KNOWN = new Set<string>(['vehicle', 'ts', ...FIELDS]);

export function encodeHistoryFix(fix: Fix): string {
  const values: unknown[] = FIELDS.map((k) => fix[k] ?? null);
  let extra: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fix)) {
    if (KNOWN.has(k) || v === undefined) continue;
    if (extra === undefined) extra = {};
    extra[k] = v;
  }
  if (extra !== undefined) values.push(extra);
  else while (values.length > 0 && values[values.length - 1] === null) values.pop();
  return JSON.stringify(values);
}

export function decodeHistoryFix(vehicle: string, ts: number, text: string): Fix {
  const values = JSON.parse(text) as unknown[];
  const fix: Record<string, unknown> = { vehicle, ts };
  for (let i = 0; i < FIELDS.length && i < values.length; i++) {
    const v = values[i];
    if (v !== null) fix[FIELDS[i]!] = v;
  }
  const extra = values[FIELDS.length];
  if (extra !== null && typeof extra === 'object') Object.assign(fix, extra);
  return fix as unknown as Fix;
}
