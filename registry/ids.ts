import { z } from 'zod';

/**
 * The one id grammar of every registry entity: firms, vehicles, officers, devices, sites, routes, zones,
 * permits, API keys (documented in the README, "Ids").
 *
 *   1-64 characters: ASCII letters, digits, "-", "_", ".", ":"; the first a letter or a digit
 *
 * An id travels far: it is an MQTT username and a topic level (`devices/{id}/telemetry`,
 * `alerts/{firm}/{vehicle}`: no "/", "+", "#" [MQTT-4.7.1-1], no leading "$" [MQTT-4.7.2-1], no U+0000
 * [MQTT-1.5.3-2]), a URL path segment (no "/", "?", "#", "%", and never "." or ".."), an InfluxDB tag
 * value and string field (line protocol cannot carry a newline, nor a backslash at the end or before a
 * delimiter: store/influx/lineprotocol.ts), an InfluxQL string literal (no newline), a CSV cell, a log
 * field and a file name. Rather than escape it for each (and find a new place where escaping is missing),
 * ids are made of characters none of them treats specially; 64 is the longest device id (an MQTT
 * username) and leaves room in a topic.
 *
 * Ids created before this grammar (e.g. with spaces or CJK characters) are not refused when read,
 * changed or deleted: only creating a new one is (`checkNewId`).
 */
export const ID_MAX_LENGTH = 64;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const ID_GRAMMAR =
  '1-64 characters: ASCII letters, digits, "-", "_", ".", ":", starting with a letter or a digit';

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** A new entity's id, at the API (and in scenario files): the grammar, with the rule as the message. */
export const EntityIdSchema = z.string().regex(ID_PATTERN, `must be ${ID_GRAMMAR}`);

/**
 * A reference to an entity that exists (a vehicle's firm, a device's vehicle, a filter): any id the
 * registry may hold, those from before the grammar included; unknown ones are refused by the lookup.
 */
export const IdReferenceSchema = z.string().min(1).max(256);

/** An id outside the grammar, given for a new entity. */
export class InvalidIdError extends Error {
  override name = 'InvalidIdError';
  constructor(
    readonly kind: string,
    readonly id: unknown,
  ) {
    super(`${kind} id ${JSON.stringify(id)} is not valid: an id must be ${ID_GRAMMAR}`);
  }
}

/**
 * Throws InvalidIdError unless `id` follows the grammar or names an entity that already exists (one
 * created before the grammar stays readable, changeable and deletable; it can no longer be created).
 */
export function checkNewId(kind: string, id: unknown, exists: (id: string) => boolean): string {
  if (isValidId(id)) return id;
  if (typeof id === 'string' && exists(id)) return id;
  throw new InvalidIdError(kind, id);
}

/** Ids outside the grammar, per kind (entities created before it), for a warning at start. */
export function idsOutsideGrammar(
  idsByKind: Readonly<Record<string, Iterable<string>>>,
  examples = 5,
): { kind: string; count: number; examples: string[] }[] {
  const out: { kind: string; count: number; examples: string[] }[] = [];
  for (const [kind, ids] of Object.entries(idsByKind)) {
    let count = 0;
    const some: string[] = [];
    for (const id of ids) {
      if (isValidId(id)) continue;
      count++;
      if (some.length < examples) some.push(id);
    }
    if (count > 0) out.push({ kind, count, examples: some });
  }
  return out;
}
