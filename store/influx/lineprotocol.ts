/**
 * InfluxDB line protocol encoding of a Fix.
 *
 * Spec: InfluxDB line protocol reference, "Special characters"
 *   https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/#special-characters
 *   https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/#special-characters
 *
 *   measurement                        escape comma, space
 *   tag key, tag value, field key      escape comma, equals sign, space
 *   string field value                 escape double quote, backslash (value in double quotes)
 *   "Line protocol does not support the newline character \n in tag or field values."
 *
 * Not representable, so rejected here (checked against influxd 1.6.7): a newline anywhere; an empty tag
 * value (the tag would be dropped); a backslash at the end of a tag/key/measurement or right before a
 * comma, equals sign or space (the parser takes `\` + next character as one escape and does not unescape
 * `\\` in tags, so such a value cannot be written unambiguously); a lone UTF-16 surrogate (the request
 * body is UTF-8, which has no encoding for it). Other backslashes are written as is.
 *
 * test/store/escaping.test.ts proves the rest: every string these functions accept, written as a tag and
 * as a string field to a real influxd, reads back equal (and every id of the registry's grammar is one).
 */
import type { Fix } from '../../core/fix.ts';
import { FIELD_SPECS, MEASUREMENT, PRESENT_FIELD, presenceMask } from './schema.ts';

export class LineProtocolError extends Error {
  override name = 'LineProtocolError';
  /** the value cannot be encoded, so retrying cannot help */
  readonly permanent = true;
}

/** a high surrogate not followed by a low one, or a low one not preceded by a high one */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkEscapable(what: string, s: string, specials: RegExp): void {
  if (s.includes('\n')) throw new LineProtocolError(`${what} ${JSON.stringify(s)} contains a newline`);
  if (LONE_SURROGATE.test(s))
    throw new LineProtocolError(`${what} ${JSON.stringify(s)} holds a lone UTF-16 surrogate (not UTF-8)`);
  if (s.endsWith('\\') || specials.test(s)) {
    throw new LineProtocolError(
      `${what} ${JSON.stringify(s)} has a backslash at its end or before a delimiter (not representable)`,
    );
  }
}

const BACKSLASH_BEFORE_MEASUREMENT_SPECIAL = /\\[, ]/;
const BACKSLASH_BEFORE_TAG_SPECIAL = /\\[,= ]/;

/** Measurement: escape commas and spaces ([spec] "Special characters", measurements). */
export function escapeMeasurement(name: string): string {
  if (name === '') throw new LineProtocolError('measurement name is empty');
  checkEscapable('measurement', name, BACKSLASH_BEFORE_MEASUREMENT_SPECIAL);
  return name.replace(/[, ]/g, (c) => `\\${c}`);
}

/** Why `s` cannot be a tag value (undefined: it can). */
export function tagValueProblem(s: string): string | undefined {
  try {
    escapeKey('tag value', s);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Tag keys, tag values and field keys: escape commas, equals signs and spaces ([spec] "Special characters"). */
export function escapeKey(what: string, s: string): string {
  if (s === '') throw new LineProtocolError(`${what} is empty`);
  checkEscapable(what, s, BACKSLASH_BEFORE_TAG_SPECIAL);
  return s.replace(/[,= ]/g, (c) => `\\${c}`);
}

/** String field value: double-quoted, escape backslashes and double quotes ([spec] "Special characters"). */
export function quoteStringField(s: string): string {
  if (s.includes('\n')) throw new LineProtocolError(`string field ${JSON.stringify(s)} contains a newline`);
  if (LONE_SURROGATE.test(s))
    throw new LineProtocolError(
      `string field ${JSON.stringify(s)} holds a lone UTF-16 surrogate (not UTF-8)`,
    );
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function floatField(key: string, v: number): string {
  if (!Number.isFinite(v)) throw new LineProtocolError(`field ${key} is not a finite number: ${v}`);
  // A bare number is a float in line protocol; JS prints the shortest form that round-trips.
  return String(v);
}

function integerField(key: string, v: number): string {
  if (!Number.isSafeInteger(v)) throw new LineProtocolError(`field ${key} must be an integer: ${v}`);
  return `${v}i`;
}

const ESCAPED_MEASUREMENT = escapeMeasurement(MEASUREMENT);
// Field keys never change: escape them once, not 18 times per fix (measured ~4 µs per fix).
const ESCAPED_FIELD_KEYS = FIELD_SPECS.map((f) => escapeKey('field key', f.key));

/**
 * One line for one fix: `fix,kind=..,firm=..,vehicle=.. field=..,... <ts ms>`. Throws LineProtocolError
 * (naming the vehicle and ts) for values line protocol cannot carry.
 */
export function fixToLine(fix: Fix): string {
  try {
    if (!Number.isSafeInteger(fix.ts)) throw new LineProtocolError(`ts must be integer epoch ms: ${fix.ts}`);
    // Tags in lexical key order (firm, kind, vehicle), as InfluxDB recommends for write performance.
    let line = `${ESCAPED_MEASUREMENT},firm=${escapeKey('tag firm', fix.firm)},kind=${escapeKey(
      'tag kind',
      fix.kind,
    )},vehicle=${escapeKey('tag vehicle', fix.vehicle)} `;
    const record = fix as unknown as Record<string, unknown>;
    const parts: string[] = [];
    for (let i = 0; i < FIELD_SPECS.length; i++) {
      const f = FIELD_SPECS[i]!;
      const v = record[f.key];
      if (v === undefined || v === null) {
        if (f.required) throw new LineProtocolError(`required field ${f.key} is missing`);
        continue;
      }
      let encoded: string;
      switch (f.type) {
        case 'float':
          if (typeof v !== 'number') throw new LineProtocolError(`field ${f.key} must be a number`);
          encoded = floatField(f.key, v);
          break;
        case 'integer':
          if (typeof v !== 'number') throw new LineProtocolError(`field ${f.key} must be a number`);
          encoded = integerField(f.key, v);
          break;
        case 'boolean':
          if (typeof v !== 'boolean') throw new LineProtocolError(`field ${f.key} must be a boolean`);
          encoded = v ? 'true' : 'false';
          break;
        case 'string':
          if (typeof v !== 'string') throw new LineProtocolError(`field ${f.key} must be a string`);
          encoded = quoteStringField(v);
          break;
      }
      parts.push(`${ESCAPED_FIELD_KEYS[i]}=${encoded}`);
    }
    parts.push(`${PRESENT_FIELD}=${presenceMask(fix)}i`);
    line += parts.join(',');
    return `${line} ${fix.ts}`;
  } catch (err) {
    if (err instanceof LineProtocolError) {
      throw new LineProtocolError(
        `cannot encode fix of vehicle ${JSON.stringify(fix.vehicle)} at ts ${fix.ts}: ${err.message}`,
      );
    }
    throw err;
  }
}

/** A typed field value for `pointToLine`. */
export type PointField =
  | { type: 'float'; value: number }
  | { type: 'integer'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'string'; value: string };

/**
 * One line for an arbitrary point: `measurement,tag=v,... field=v,... <time>`. Tags are written in the
 * order given (pass them sorted by key); `time` is an integer in the precision of the write request
 * (a bigint or a decimal string, so nanoseconds beyond 2^53 stay exact). Throws LineProtocolError for
 * values line protocol cannot carry (empty tag value, newline, non-finite number, ...).
 */
export function pointToLine(
  measurement: string,
  tags: readonly (readonly [string, string])[],
  fields: readonly (readonly [string, PointField])[],
  time: bigint | string,
): string {
  if (fields.length === 0) throw new LineProtocolError(`point of ${measurement} has no field`);
  const timeText = String(time);
  if (!/^-?\d+$/.test(timeText)) throw new LineProtocolError(`time must be an integer: ${timeText}`);
  let line = escapeMeasurement(measurement);
  for (const [k, v] of tags) line += `,${escapeKey('tag key', k)}=${escapeKey(`tag ${k}`, v)}`;
  const parts: string[] = [];
  for (const [k, f] of fields) {
    let encoded: string;
    switch (f.type) {
      case 'float':
        encoded = floatField(k, f.value);
        break;
      case 'integer':
        encoded = integerField(k, f.value);
        break;
      case 'boolean':
        encoded = f.value ? 'true' : 'false';
        break;
      case 'string':
        encoded = quoteStringField(f.value);
        break;
    }
    parts.push(`${escapeKey('field key', k)}=${encoded}`);
  }
  return `${line} ${parts.join(',')} ${timeText}`;
}
