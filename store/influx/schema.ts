/**
 * How a Fix maps onto an InfluxDB point, and back.
 *
 *   measurement  fix
 *   tags         kind, firm, vehicle   (low cardinality only: nothing else is a tag)
 *   fields       every other Fix property; floats, except `received`, `sats`, `binLifts` (integers),
 *                booleans as booleans, strings as strings; plus `present` (see below)
 *   time         Fix.ts, written with precision=ms
 *
 * `present` (integer) is a bitmask of the optional properties the fix carried, in PRESENCE_BITS order.
 * It exists because InfluxDB merges the field sets of two points with the same series and timestamp:
 * rewriting a fix without `speed` over one with `speed` would otherwise keep the old speed, breaking the
 * port's "the later write wins". Points without `present` (written by something else) are read by
 * taking every non-null column.
 */
import { BOOLEAN_FIELDS, type Fix, NUMERIC_FIELDS, STRING_FIELDS } from '../../ingest/fix.ts';

export const MEASUREMENT = 'fix';
export const TAG_KEYS = ['kind', 'firm', 'vehicle'] as const;
export const PRESENT_FIELD = 'present';

export type FieldType = 'float' | 'integer' | 'boolean' | 'string';

export interface FieldSpec {
  key: keyof Fix;
  type: FieldType;
  required: boolean;
}

const INTEGER_KEYS: ReadonlySet<string> = new Set(['received', 'sats', 'binLifts']);
const REQUIRED_KEYS: ReadonlySet<string> = new Set([
  'device',
  'received',
  'lat',
  'lon',
  'valid',
  'crsIn',
  'late',
]);

const spec = (key: keyof Fix, type: FieldType): FieldSpec => ({
  key,
  type: type === 'float' && INTEGER_KEYS.has(key) ? 'integer' : type,
  required: REQUIRED_KEYS.has(key),
});

/** Every Fix property written as a field, in the order it appears in a line. */
export const FIELD_SPECS: readonly FieldSpec[] = [
  spec('received', 'integer'),
  spec('lat', 'float'),
  spec('lon', 'float'),
  ...NUMERIC_FIELDS.map((k) => spec(k, 'float')),
  ...BOOLEAN_FIELDS.map((k) => spec(k, 'boolean')),
  ...STRING_FIELDS.map((k) => spec(k, 'string')),
];

/**
 * Bit i of `present` is set when the fix carried PRESENCE_BITS[i]. APPEND ONLY: stored data depends on
 * these positions. An optional property missing from this list is read back whenever it is non-null.
 */
export const PRESENCE_BITS: readonly (keyof Fix)[] = [
  'speed',
  'heading',
  'alt',
  'sats',
  'acc',
  'ign',
  'load',
  'weight',
  'cover',
  'lift',
  'doors',
  'task',
  'brush',
  'binLifts',
  'recording',
  'battery',
  'storageFree',
  'officer',
  'sos',
  'docked',
];
const BIT_OF: ReadonlyMap<string, number> = new Map(PRESENCE_BITS.map((k, i) => [k, i]));

export function presenceMask(fix: Fix): number {
  let mask = 0;
  const record = fix as unknown as Record<string, unknown>;
  for (let i = 0; i < PRESENCE_BITS.length; i++) {
    const v = record[PRESENCE_BITS[i]!];
    if (v !== undefined && v !== null) mask += 2 ** i;
  }
  return mask;
}

/**
 * Build a Fix from one InfluxQL result row. `columns`/`row` are the series' columns and one values row
 * (time in epoch ms, because queries ask for epoch=ms); `tags` the series tags when grouped by a tag.
 * Absent properties are omitted, never set to undefined or null.
 */
export function rowToFix(
  columns: readonly string[],
  row: readonly unknown[],
  tags: Readonly<Record<string, string>> = {},
): Fix {
  const values = new Map<string, unknown>();
  for (let i = 0; i < columns.length; i++) {
    const v = row[i];
    if (v !== null && v !== undefined) values.set(columns[i]!, v);
  }
  for (const [k, v] of Object.entries(tags)) values.set(k, v);

  const out: Record<string, unknown> = {};
  for (const key of TAG_KEYS) {
    const v = values.get(key);
    if (v !== undefined) out[key] = String(v);
  }
  out.ts = Number(values.get('time'));

  const maskValue = values.get(PRESENT_FIELD);
  const mask = typeof maskValue === 'number' ? maskValue : undefined;
  for (const f of FIELD_SPECS) {
    const v = values.get(f.key);
    if (v === undefined) continue;
    if (!f.required && mask !== undefined) {
      const bit = BIT_OF.get(f.key);
      if (bit !== undefined && Math.floor(mask / 2 ** bit) % 2 === 0) continue;
    }
    out[f.key] = f.type === 'boolean' ? v === true : f.type === 'string' ? String(v) : Number(v);
  }
  return out as unknown as Fix;
}
