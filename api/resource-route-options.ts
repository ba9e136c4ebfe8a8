import type { z } from 'zod';
import type { AuditEntityKind } from './audit/plugin.ts';
import { bearerSecurity } from './auth.ts';
import { type AccessConfig, type Principal, visible } from './principal.ts';
import { ACCESS_RESPONSES, IdParamsSchema, listSchema, unknownResource } from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Route options (access config and OpenAPI schema) of the registry resources' CRUD routes, which differ
 * only in the resource's name, schema and wording. Each resource file declares those and its handlers;
 * the response sets, tags and security stay uniform here, so the document cannot drift between them.
 */

/** What a registry resource's routes say about it. */
export interface RegistryResource<S extends z.ZodType> {
  /** singular, as in "the officer" and the 404 title "Unknown officer" */
  noun: string;
  /** the list answer's description, e.g. "officers" */
  plural: string;
  /** one item as answered */
  schema: S;
  /** the list schema's id in the document, e.g. "OfficerList" */
  listId: string;
  /** the 400 answer's description; default: body or query */
  invalid?: string;
  /** the 404 answer's description; default: the firm-owned resource's (another firm's is unknown too) */
  unknown?: string;
  /** who may create, change and delete (a route may override it) */
  write: AccessConfig;
  /** what its changes are recorded as in the audit log */
  audit: AuditEntityKind;
}

/** A route's words in the document; `description` is left out of it when undefined. */
export interface RouteText {
  summary: string;
  description?: string;
}

/** Options of a write route: its words, the 409 it can answer, and access when not the resource's. */
interface WriteRoute extends RouteText {
  conflict?: string;
  access?: AccessConfig;
}

const READ: AccessConfig = { scope: 'registry:read' };

export function registryRouteOptions<S extends z.ZodType>(resource: RegistryResource<S>) {
  const tags = ['registry'];
  const invalid = problemResponse(resource.invalid ?? 'invalid body or query: every field at fault is named');
  const unknown = problemResponse(
    resource.unknown ?? `unknown ${resource.noun} (or another firm’s, for a firm key)`,
  );
  const item = (description = `the ${resource.noun}`) => jsonResponse(description, resource.schema);
  const head = ({ summary, description }: RouteText) => ({
    summary,
    ...(description === undefined ? {} : { description }),
    tags,
    security: bearerSecurity,
  });
  const conflictResponse = (conflict: string | undefined) =>
    conflict === undefined ? {} : { 409: problemResponse(conflict) };

  return {
    /** The 400 and 404 answers, for the resource's routes beyond these five. */
    invalid,
    unknown,

    /** GET /things: a page of the list, filtered by the querystring. */
    list<Q extends z.ZodType>(route: RouteText & { querystring: Q }) {
      const page = jsonResponse(resource.plural, listSchema(resource.schema, resource.listId));
      return {
        config: READ,
        schema: {
          ...head(route),
          querystring: route.querystring,
          response: { 200: page, 400: invalid, ...ACCESS_RESPONSES },
        },
      };
    },

    /** GET /things/:id */
    get(route: RouteText) {
      return {
        config: READ,
        schema: {
          ...head(route),
          params: IdParamsSchema,
          response: { 200: item(), 400: invalid, ...ACCESS_RESPONSES, 404: unknown },
        },
      };
    },

    /** POST /things: answers 201 with the new item, or 409 when its id is taken. */
    create<B extends z.ZodType>(route: WriteRoute & { body: B; conflict: string }) {
      return {
        config: { ...(route.access ?? resource.write), audit: { entity: resource.audit } },
        schema: {
          ...head(route),
          body: route.body,
          response: { 201: item(), 400: invalid, ...ACCESS_RESPONSES, 409: problemResponse(route.conflict) },
        },
      };
    },

    /** PUT /things/:id: replaces the item, answers it. */
    replace<B extends z.ZodType>(route: WriteRoute & { body: B }) {
      return {
        config: { ...(route.access ?? resource.write), audit: { entity: resource.audit } },
        schema: {
          ...head(route),
          params: IdParamsSchema,
          body: route.body,
          response: {
            200: item(),
            400: invalid,
            ...ACCESS_RESPONSES,
            404: unknown,
            ...conflictResponse(route.conflict),
          },
        },
      };
    },

    /** DELETE /things/:id: answers the deleted item. */
    remove(route: WriteRoute) {
      return {
        config: { ...(route.access ?? resource.write), audit: { entity: resource.audit } },
        schema: {
          ...head(route),
          params: IdParamsSchema,
          response: {
            200: item(`the deleted ${resource.noun}`),
            400: invalid,
            ...ACCESS_RESPONSES,
            404: unknown,
            ...conflictResponse(route.conflict),
          },
        },
      };
    },

    /** The item when the principal may see it, else the 404 (another firm's looks unknown too). */
    found<T extends { firm?: string }>(principal: Principal, id: string, entity: T | undefined): T {
      const seen = visible(principal, entity);
      if (seen === undefined) throw unknownResource(resource.noun, id);
      return seen;
    },
  };
}
