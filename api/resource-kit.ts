import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EntityIdSchema } from '../registry/ids.ts';
import type { Registry } from '../registry/types.ts';
import { byIdKey, nextCursorField, type Page, type PageQuery, paginate } from './paging.ts';
import { listFirm, type Principal, visibleFirm } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { problemResponse } from './schemas.ts';

/** Shared pieces of the registry resource routes (firms, vehicles, officers, devices, keys). */

export const RESOURCE_PROBLEM_TYPES = {
  unknownResource: 'urn:citywatch:problem:unknown-resource',
  conflict: 'urn:citywatch:problem:conflict',
} as const;

/**
 * The id of a new firm, vehicle or officer: the one id grammar of the registry (registry/ids.ts). Ids
 * created before it stay readable, changeable and deletable; the URL parameter takes any of them.
 */
export const ResourceIdSchema = EntityIdSchema;

/** The POST body of a resource whose client picks the id: the id, then the resource's own fields. */
export function createBodySchema<F extends z.ZodRawShape>(fields: F) {
  return z.strictObject({ id: ResourceIdSchema, ...fields });
}

/** The PUT body: the same fields; the id may be repeated (checkBodyId), so a GET answer can be sent back. */
export function replaceBodySchema<F extends z.ZodRawShape>(fields: F) {
  return z.strictObject({
    id: z.string().optional().describe('when given, must equal the URL id'),
    ...fields,
  });
}

/**
 * The POST and PUT bodies of a resource a firm owns (vehicles, officers): the registry's fields
 * (registry/model/fleet.ts) with the firm optional, since a firm key may omit it (its own).
 */
export function firmOwnedBodySchemas<F extends z.ZodRawShape & { firm: z.ZodType }>(fields: F, firm: string) {
  const body = {
    ...fields,
    firm: fields.firm.optional().describe(`${firm}; a firm key may omit it (its own) or name only its own`),
  };
  return { create: createBodySchema(body), replace: replaceBodySchema(body) };
}

export const IdParamsSchema = z.object({ id: z.string().min(1).max(256).describe('resource id') });

/** Responses every protected route can give besides its own. */
export const ACCESS_RESPONSES = {
  401: problemResponse('missing or invalid bearer token'),
  403: problemResponse('the key lacks the scope (named in detail) or the role for this operation'),
  429: problemResponse('the key has spent its request budget; retry after Retry-After seconds'),
} as const;

/** A 400 naming one field, like the schema errors (problem.ts). */
export function fieldProblem(pointer: string, message: string, part = 'body'): HttpProblem {
  const errors = [{ in: part, pointer, message }];
  return new HttpProblem({
    status: 400,
    type: PROBLEM_TYPES.validation,
    title: 'Invalid request',
    detail: `${part}${pointer}: ${message}`,
    errors,
  });
}

/** The 404 of an unknown resource, and of another firm's resource (the same answer on purpose). */
export function unknownResource(kind: string, id: string): HttpProblem {
  return new HttpProblem({
    status: 404,
    type: RESOURCE_PROBLEM_TYPES.unknownResource,
    title: `Unknown ${kind}`,
    detail: `No ${kind} ${JSON.stringify(id)}.`,
  });
}

export function conflict(detail: string): HttpProblem {
  return new HttpProblem({ status: 409, type: RESOURCE_PROBLEM_TYPES.conflict, title: 'Conflict', detail });
}

/**
 * The firm a new or changed resource belongs to. A firm key may name only its own firm (the default when
 * it names none); another firm is refused as unknown, exactly like a firm that does not exist, so the
 * answer does not tell whether it exists. Other keys must name an existing firm.
 */
export function owningFirm(
  request: FastifyRequest,
  registry: Pick<Registry, 'firm'>,
  asked: string | undefined,
  pointer = '/firm',
): string {
  const own = visibleFirm(request.principal);
  const firm = asked ?? own;
  if (firm === undefined) throw fieldProblem(pointer, 'required');
  if ((own !== undefined && firm !== own) || registry.firm(firm) === undefined) {
    throw fieldProblem(pointer, `unknown firm ${JSON.stringify(firm)}`);
  }
  return firm;
}

/** A list answer: `count` is the items on this page; `nextCursor` only when paged and more follow. */
export function listSchema<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      count: z.number().int().nonnegative().describe('items on this page'),
      nextCursor: nextCursorField,
    })
    .meta({ id });
}

/** A PUT body may repeat the id, but only the URL's: a different one would read as a rename. */
export function checkBodyId(bodyId: string | undefined, urlId: string): void {
  if (bodyId !== undefined && bodyId !== urlId) {
    throw fieldProblem('/id', `does not match the URL id ${JSON.stringify(urlId)}`);
  }
}

/** Answers 201 with a Location of the new item: the collection path (no query) plus its id. */
export function replyCreated(request: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.code(201).header('location', `${request.url.split('?', 1)[0]}/${encodeURIComponent(id)}`);
}

/**
 * One page of a firm-owned list, ordered by id: only the firm the principal may see (an empty page when
 * it asks for another's), then `keep`. `dto` runs after paging, so per-item lookups cost one page only.
 */
export function firmPage<T extends { id: string; firm: string }, D>(
  principal: Principal,
  query: PageQuery & { firm?: string | undefined },
  items: readonly T[],
  dto: (item: T) => D,
  keep: (item: T) => boolean = () => true,
): Page<D> {
  const firm = listFirm(principal, query.firm);
  if (firm === null) return { items: [], count: 0 };
  const page = paginate(
    items.filter((item) => (firm === undefined || item.firm === firm) && keep(item)),
    byIdKey,
    query,
  );
  return { ...page, items: page.items.map(dto) };
}
