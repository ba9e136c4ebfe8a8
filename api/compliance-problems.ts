import {
  type ComplianceKind,
  ConflictError,
  type EntityOf,
  type EntityVersion,
  NotFoundError,
  TransitionError,
} from '../registry/compliance.ts';
import { ValidationError } from '../registry/geometry.ts';
import { bearerSecurity } from './auth.ts';
import { EntityParamsSchema, VersionQuerySchema } from './compliance-schemas.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { problemResponse } from './schemas.ts';

/** Problem types of the compliance registry routes (others: PROBLEM_TYPES in problem.ts). */
export const COMPLIANCE_PROBLEM_TYPES = {
  unknownEntity: 'urn:citywatch:problem:unknown-entity',
  conflict: 'urn:citywatch:problem:conflict',
  /** a workflow transition the current status does not allow (permits here, violations in violations.ts) */
  illegalTransition: 'urn:citywatch:problem:illegal-transition',
} as const;

/** `geometry.coordinates[0][3]` as the JSON pointer `/geometry/coordinates/0/3`. */
export function toPointer(path: string): string {
  if (path === '') return '';
  const parts = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p.length > 0);
  return parts.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** The registry's refusals other than validation: their status, problem type and title. */
const REFUSALS = [
  [NotFoundError, 404, COMPLIANCE_PROBLEM_TYPES.unknownEntity, 'Unknown entity'],
  [TransitionError, 409, COMPLIANCE_PROBLEM_TYPES.illegalTransition, 'Illegal transition'],
  [ConflictError, 409, COMPLIANCE_PROBLEM_TYPES.conflict, 'Conflict'],
] as const;

/** Registry errors as problems: invalid → 400 naming each field, unknown → 404, conflict → 409. */
function problemOf(err: unknown, part = 'body'): unknown {
  if (err instanceof ValidationError) {
    const errors = err.issues.map((i) => ({ in: part, pointer: toPointer(i.path), message: i.message }));
    return new HttpProblem({
      status: 400,
      type: PROBLEM_TYPES.validation,
      title: 'Invalid request',
      detail: errors.map((e) => `${e.in}${e.pointer}: ${e.message}`).join('; '),
      errors,
    });
  }
  for (const [kind, status, type, title] of REFUSALS) {
    if (err instanceof kind) return new HttpProblem({ status, type, title, detail: `${err.message}.` });
  }
  return err;
}

/** Runs a registry call, its refusals thrown as problems. */
export function attempt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw problemOf(err);
  }
}

export function notFound(kind: ComplianceKind, id: string, version?: number): never {
  throw problemOf(new NotFoundError(kind, id, version));
}

export function idMismatch(bodyId: string, id: string): never {
  throw problemOf(
    new ValidationError([{ path: 'id', message: `'${bodyId}' does not match the URL id '${id}'` }]),
  );
}

/** The versions of one entity as answered, oldest first; a deletion has no body. */
export function versionsOf<K extends ComplianceKind, B>(
  kind: K,
  id: string,
  records: EntityVersion<K>[],
  render: (entity: EntityOf<K>, updatedAt: string) => B,
) {
  const items = records.map((r) => ({
    version: r.version,
    deleted: r.deleted,
    createdAt: r.createdAt,
    ...(r.actor === undefined ? {} : { actor: r.actor }),
    ...(r.entity === undefined ? {} : { body: render(r.entity, r.createdAt) }),
  }));
  return { kind, id, items, count: items.length };
}

/** The problem answers of the compliance registry routes. */
export const REGISTRY_RESPONSES = {
  unauthorized: problemResponse('missing or invalid bearer token'),
  invalid: problemResponse('invalid body, geometry or query: every field at fault is named'),
  unknown: problemResponse('unknown entity or version'),
  conflict: problemResponse('id exists, version mismatch, or still used by a permit'),
} as const;

/** A route's words and tags in the document. */
export interface RouteHead {
  summary: string;
  description?: string | undefined;
  tags: string[];
}

const head = ({ summary, description, tags }: RouteHead) => ({
  summary,
  ...(description === undefined ? {} : { description }),
  tags,
  security: bearerSecurity,
});

/** Options of GET /{plural}/:id?version= of a versioned entity; `ok` is the 200 answer. */
export function versionReadOptions<R>(route: RouteHead, ok: R) {
  const { unauthorized, invalid, unknown } = REGISTRY_RESPONSES;
  return {
    config: { scope: 'compliance:read' as const },
    schema: {
      ...head(route),
      params: EntityParamsSchema,
      querystring: VersionQuerySchema,
      response: { 200: ok, 400: invalid, 401: unauthorized, 404: unknown },
    },
  };
}

/** Options of GET /{plural}/:id/versions; `ok` is the 200 answer. */
export function versionListOptions<R>(route: RouteHead, ok: R) {
  const { querystring: _none, ...schema } = versionReadOptions(route, ok).schema;
  return { config: { scope: 'compliance:read' as const }, schema };
}

/** The answers of PUT /{plural}/:id: `ok` (the new version), or a problem. */
export function updateResponses<R>(ok: R) {
  const { unauthorized, invalid, unknown, conflict } = REGISTRY_RESPONSES;
  return { 200: ok, 400: invalid, 401: unauthorized, 404: unknown, 409: conflict };
}
