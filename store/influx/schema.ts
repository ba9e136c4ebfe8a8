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
import {
  BOOLEAN_FIELDS,
  FIX_PROPERTIES,
  type Fix,
  type FixValueType,
  NUMERIC_FIELDS,
  OPTIONAL_FIX_KEYS,
  STRING_FIELDS,
} from '../../core/fix.ts';

export const MEASUREMENT = 'fix';
export const TAG_KEYS = ['kind', 'firm', 'vehicle'] as const;
export const PRESENT_FIELD = 'present';

export type FieldType = FixValueType;

export interface FieldSpec {
  key: keyof Fix;
  type: FieldType;
  required: boolean;
}

/** A Fix property as a field: its type and whether every point has it come from core/fix.ts FIX_PROPERTIES. */
const spec = (key: keyof Fix): FieldSpec => ({
  key,
  type: FIX_PROPERTIES[key].type,
  required: FIX_PROPERTIES[key].required,
});

/** Every Fix property written as a field, in the order it appears in a line. */
export const FIELD_SPECS: readonly FieldSpec[] = [
  spec('received'),
  spec('lat'),
  spec('lon'),
  ...NUMERIC_FIELDS.map(spec),
  ...BOOLEAN_FIELDS.map(spec),
  ...STRING_FIELDS.map(spec),
];

/**
 * Bit i of `present` is set when the fix carried PRESENCE_BITS[i]: the optional properties in the order
 * of core/fix.ts FIX_KEYS, which is APPEND ONLY because stored data depends on these positions (the
 * backfill history's codec numbers the properties by the same list). `accuracy` was written as `acc`
 * before 2026-12: read back from that field too (LEGACY_FIELD_KEYS). An optional property missing from
 * this list is read back whenever it is non-null.
 */
export const PRESENCE_BITS: readonly (keyof Fix)[] = OPTIONAL_FIX_KEYS;
const BIT_OF: ReadonlyMap<string, number> = new Map(PRESENCE_BITS.map((k, i) => [k, i]));

/**
 * Fields stored under another key before: read from it when a point lacks the current one. InfluxDB
 * cannot rename a field, and a field's type is fixed per shard, so the old key is never written again:
 * `acc` stays a float field holding accuracies, and ignition stays in `ign`.
 */
export const LEGACY_FIELD_KEYS: ReadonlyMap<keyof Fix, string> = new Map([['accuracy', 'acc']]);

export function presenceMask(fix: Fix): number {
  let mask = 0;
  const record = fix as unknown as Record<string, unknown>;
  for (let i = 0; i < PRESENCE_BITS.length; i++) {
    const v = record[PRESENCE_BITS[i]!];
    if (v !== undefined && v !== null) mask += 2 ** i;
  }
  return mask;
}

/** Column positions by name, once per series (its rows share one `columns` array). */
const columnIndexes = new WeakMap<readonly string[], ReadonlyMap<string, number>>();

function columnIndex(columns: readonly string[]): ReadonlyMap<string, number> {
  let index = columnIndexes.get(columns);
  if (index === undefined) {
    index = new Map(columns.map((c, i) => [c, i]));
    columnIndexes.set(columns, index);
  }
  return index;
}

function fieldValue(f: FieldSpec, v: unknown): unknown {
  return f.type === 'boolean' ? v === true : f.type === 'string' ? String(v) : Number(v);
}
const specOf = (key: keyof Fix): FieldSpec => FIELD_SPECS.find((f) => f.key === key)!;
const DEVICE = specOf('device');
const RECEIVED = specOf('received');
const LAT = specOf('lat');
const LON = specOf('lon');
const VALID = specOf('valid');
const CRS_IN = specOf('crsIn');
const LATE = specOf('late');
/** the properties rowToFix starts every Fix with (the literal below), in that order */
const LEADING_KEYS: readonly string[] = [
  ...TAG_KEYS,
  'ts',
  ...[DEVICE, RECEIVED, LAT, LON, VALID, CRS_IN, LATE].map((f) => f.key),
];
const OPTIONAL_SPECS = FIELD_SPECS.filter((f) => !f.required);
if (FIELD_SPECS.some((f) => f.required && !LEADING_KEYS.includes(f.key))) {
  throw new Error('store/influx/schema.ts: a required field is missing from rowToFix');
}

/**
 * Build a Fix from one InfluxQL result row. `columns`/`row` are the series' columns and one values row
 * (time in epoch ms, because queries ask for epoch=ms); `tags` the series tags when grouped by a tag
 * (they win over a column of the same name). Absent properties are omitted, never set to undefined or
 * null.
 *
 * The Fix starts as one object literal with the tags, ts and the required fields, optional fields are
 * added after it: adding all ~22 properties one by one to `{}` turned every Fix into a slow
 * dictionary-mode object (4x slower to build, slower to read; an 8,640-fix track, bench/api.ts).
 */
export function rowToFix(
  columns: readonly string[],
  row: readonly unknown[],
  tags: Readonly<Record<string, string>> = {},
): Fix {
  const index = columnIndex(columns);
  const out: Record<string, unknown> = {
    kind: tagOf(index, row, tags, 'kind'),
    firm: tagOf(index, row, tags, 'firm'),
    vehicle: tagOf(index, row, tags, 'vehicle'),
    ts: Number(cellOf(index, row, tags, 'time')),
    device: fieldOf(index, row, tags, DEVICE),
    received: fieldOf(index, row, tags, RECEIVED),
    lat: fieldOf(index, row, tags, LAT),
    lon: fieldOf(index, row, tags, LON),
    valid: fieldOf(index, row, tags, VALID),
    crsIn: fieldOf(index, row, tags, CRS_IN),
    late: fieldOf(index, row, tags, LATE),
  };
  // a point written by something else may lack one of them: absent, not undefined
  for (const key of LEADING_KEYS) if (out[key] === undefined) delete out[key];

  const maskValue = cellOf(index, row, tags, PRESENT_FIELD);
  const mask = typeof maskValue === 'number' ? maskValue : undefined;
  for (const f of OPTIONAL_SPECS) {
    let v = cellOf(index, row, tags, f.key);
    if (v === undefined) {
      const legacy = LEGACY_FIELD_KEYS.get(f.key);
      if (legacy !== undefined) v = cellOf(index, row, tags, legacy);
    }
    if (v === undefined) continue;
    if (mask !== undefined) {
      const bit = BIT_OF.get(f.key);
      if (bit !== undefined && Math.floor(mask / 2 ** bit) % 2 === 0) continue;
    }
    out[f.key] = fieldValue(f, v);
  }
  return out as unknown as Fix;
}

// Module-level rather than closures in rowToFix: under tsx every closure created costs a defineProperty
// (esbuild's keepNames), which was a quarter of the time of a row.
type Row = readonly unknown[];
type Tags = Readonly<Record<string, string>>;

/** A tag wins over a column of the same name; null is absent. */
function cellOf(index: ReadonlyMap<string, number>, row: Row, tags: Tags, key: string): unknown {
  if (Object.hasOwn(tags, key)) return tags[key];
  const i = index.get(key);
  const v = i === undefined ? undefined : row[i];
  return v === null ? undefined : v;
}

function tagOf(index: ReadonlyMap<string, number>, row: Row, tags: Tags, key: string): string | undefined {
  const v = cellOf(index, row, tags, key);
  return v === undefined ? undefined : String(v);
}

function fieldOf(index: ReadonlyMap<string, number>, row: Row, tags: Tags, f: FieldSpec): unknown {
  const v = cellOf(index, row, tags, f.key);
  return v === undefined ? undefined : fieldValue(f, v);
}
