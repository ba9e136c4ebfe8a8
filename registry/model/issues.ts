import type { z } from 'zod';

/**
 * What is wrong with an entity written to the registry: one issue per field at fault, each naming it by
 * a path in the body it came from (`polygons[0][0][3]`, `limits[1].to`, `windows[2]`), so a caller can
 * report all of them at once. The registry's zod schemas (registry/model/) produce them; callers with
 * another body shape (GeoJSON) rewrite the paths (registry/geojson.ts).
 */

export interface ValidationIssue {
  /** where in the body: `geometry.coordinates[0][3]`, `properties.windows[1]`, `origins[0]` */
  path: string;
  message: string;
}

/** Invalid input, with every issue found. */
export class ValidationError extends Error {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[], what = 'invalid input') {
    super(`${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** Throws a ValidationError when there are issues. */
export function assertValid(issues: readonly ValidationIssue[], what?: string): void {
  if (issues.length > 0) throw new ValidationError(issues, what);
}

/**
 * zod issues as registry issues, with paths in the input's own shape (`values.nightWindows[0]`,
 * `lines[0][3]`) under an optional prefix. An unknown key inside a field (or under a prefix) is named in
 * the path of its own issue (`values.bogus: unknown threshold`) rather than on its parent, and unknown
 * keys come first, as the registry reported them before its schemas were zod's.
 */
export function zodIssues(error: z.ZodError, prefix = ''): ValidationIssue[] {
  const at = (path: readonly PropertyKey[]) =>
    path
      .map((p, k) =>
        typeof p === 'number' ? `[${p}]` : k === 0 && prefix === '' ? String(p) : `.${String(p)}`,
      )
      .reduce((acc, part) => acc + part, prefix);
  const unknown: ValidationIssue[] = [];
  const other: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys' && (prefix !== '' || issue.path.length > 0)) {
      for (const key of issue.keys) unknown.push({ path: at([...issue.path, key]), message: issue.message });
    } else {
      other.push({ path: at(issue.path), message: issue.message });
    }
  }
  return [...unknown, ...other];
}

/**
 * Issues in the order of the fields of the entity (`fields`: its keys in order), each field's own
 * issues in the order found: a field's rule that needs another field (validTo after validFrom) is
 * checked once the fields parse, and is still reported at its place.
 */
export function inFieldOrder(issues: ValidationIssue[], fields: readonly string[]): ValidationIssue[] {
  const rank = (i: ValidationIssue) => {
    const k = fields.indexOf(/^[^.[]*/.exec(i.path)![0]);
    return k === -1 ? fields.length : k;
  };
  return issues
    .map((issue, n) => ({ issue, n, r: rank(issue) }))
    .sort((a, b) => a.r - b.r || a.n - b.n)
    .map((x) => x.issue);
}

/** A check written as a list of issues with paths (`[1]`, `.to`), reported through zod under its field. */
export function reportIssues(ctx: z.RefinementCtx, issues: readonly ValidationIssue[]): void {
  for (const { path, message } of issues) ctx.addIssue({ code: 'custom', path: pathSegments(path), message });
}

/** `lines[0][3].to` as ['lines', 0, 3, 'to']. */
export function pathSegments(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of path.matchAll(/\[(\d+)\]|\.?([^.[\]]+)/g))
    out.push(m[1] === undefined ? m[2]! : Number(m[1]));
  return out;
}

/**
 * An entity of the device registry (firm, vehicle, officer, device) parsed with its schema, or a
 * ValidationError whose message names the entity and each field at fault (`vehicle plate: ...`).
 */
export function parseEntity<S extends z.ZodType>(noun: string, schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = zodIssues(parsed.error);
  const error = new ValidationError(issues, `invalid ${noun}`);
  error.message = issues.map((i) => `${noun}${i.path ? ` ${i.path}` : ''}: ${i.message}`).join('; ');
  throw error;
}
