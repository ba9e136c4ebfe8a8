import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { BEARER_SCHEME } from './auth.ts';

export const DOCS_PREFIX = '/docs';

export interface DocsOptions {
  title?: string;
  version?: string;
}

type TransformObjectInput = Parameters<typeof jsonSchemaTransformObject>[0];
type OpenApiDocument = { components?: { schemas?: Record<string, unknown> } } & Record<string, unknown>;

/** The `#/components/schemas/X` names referenced anywhere in `value`. */
function collectRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collectRefs(v, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
        into.add(v.slice('#/components/schemas/'.length));
      } else {
        collectRefs(v, into);
      }
    }
  }
}

/**
 * The provider's transformObject emits every registered schema twice (as input and as output); keep
 * only the component schemas that the paths reference, directly or through other components.
 */
function transformObject(input: TransformObjectInput) {
  const doc = jsonSchemaTransformObject(input) as OpenApiDocument;
  const all = doc.components?.schemas;
  if (!all) return doc as ReturnType<typeof jsonSchemaTransformObject>;
  const used = new Set<string>();
  collectRefs(doc.paths, used);
  const queue = [...used];
  while (queue.length > 0) {
    const next = new Set<string>();
    collectRefs(all[queue.pop() as string], next);
    for (const name of next) {
      if (!used.has(name)) {
        used.add(name);
        queue.push(name);
      }
    }
  }
  const schemas = Object.fromEntries(Object.entries(all).filter(([name]) => used.has(name)));
  return { ...doc, components: { ...doc.components, schemas } } as ReturnType<
    typeof jsonSchemaTransformObject
  >;
}

/**
 * OpenAPI 3 document generated from the routes' zod schemas, served as JSON at /docs/json (and YAML at
 * /docs/yaml) with Swagger UI at /docs. Call on the root instance before registering the routes: the
 * swagger plugin collects routes as they are added.
 */
export async function registerDocs(app: FastifyInstance, options: DocsOptions = {}): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: options.title ?? 'CityWatch API',
        version: options.version ?? '0.1.0',
        description:
          'Positions and operations of city-management fleets: muck trucks, sanitation vehicles and body ' +
          'cameras. Instants are ISO-8601 UTC (violations and trips also keep their epoch-ms startTs/endTs ' +
          'beside startAt/endAt); positions are WGS-84. Errors are RFC 9457 problem details ' +
          '(application/problem+json) naming the field at fault, with the request id. Every /api/v1 route ' +
          'requires `Authorization: Bearer <token>`. Conventions: every POST and PATCH takes an ' +
          '`Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header) and may then be retried ' +
          'safely; GET answers up to 64 KiB carry an `ETag` and answer `If-None-Match` with 304; lists take ' +
          '`limit` and `cursor` and answer `nextCursor` while more follow; every answer carries ' +
          '`X-Request-Id`, which the logs carry too.',
      },
      tags: [
        { name: 'positions', description: 'latest positions of units' },
        { name: 'registry', description: 'firms, vehicles, officers and devices (with MQTT credentials)' },
        { name: 'keys', description: 'API keys: roles admin, monitor and firm; scopes' },
        { name: 'operations', description: 'health and metrics (unauthenticated; keep them internal)' },
      ],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description:
              'ADMIN_TOKEN, or an API key created with POST /api/v1/keys. Each operation names the scope it ' +
              'needs (`x-scope`); a firm key sees only its own firm’s resources (others answer 404).',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
}
