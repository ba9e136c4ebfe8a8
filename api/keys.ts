import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ApiKey, ApiKeyStateError, type NewApiKey } from '../registry/api-keys.ts';
import type { Registry } from '../registry/types.ts';
import { bearerSecurity } from './auth.ts';
import { pageQueryFields, paginate } from './paging.ts';
import { ACCESS_PROBLEM_TYPES, effectiveScopes, ROLE_SCOPES, ROLES, SCOPE_NAMES } from './principal.ts';
import { HttpProblem } from './problem.ts';
import {
  ACCESS_RESPONSES,
  conflict,
  fieldProblem,
  IdParamsSchema,
  listSchema,
  replyCreated,
  unknownResource,
} from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * API keys, managed by administrators. The secret is returned by the create call and never again; the
 * store keeps only its SHA-256 (registry/api-keys.ts says why that suffices for these secrets).
 */

/** What the routes need of the key store (SqliteApiKeys). */
export interface ApiKeyStore {
  create(input: NewApiKey): { key: ApiKey; secret: string };
  get(id: string): ApiKey | undefined;
  list(): ApiKey[];
  setEnabled(id: string, enabled: boolean): ApiKey | undefined;
  setExpiry(id: string, expiresAt: string | null): ApiKey | undefined;
  rotate(
    id: string,
    options: { overlapMs: number; expiresAt?: string | null },
  ): { key: ApiKey; secret: string } | undefined;
  revoke(id: string): ApiKey | undefined;
}

export const ApiKeySchema = z
  .object({
    id: z.string().describe('key id (not secret): use it to manage the key'),
    name: z.string(),
    role: z.enum(ROLES),
    firm: z.string().optional().describe('firm keys: the firm whose data the key sees'),
    scopes: z.array(z.string()).describe('explicit scopes; empty: the role’s defaults'),
    effectiveScopes: z.array(z.string()).describe('what the key may do'),
    hint: z.string().describe('the first characters of the secret, to recognise it'),
    createdAt: z.string(),
    createdBy: z.string().describe('id of the key that created it'),
    enabled: z.boolean(),
    revokedAt: z.string().optional().describe('set once revoked; a revoked key never works again'),
    lastUsedAt: z
      .string()
      .optional()
      .describe('last authenticated request (noted in memory, written to disk once a minute)'),
    expiresAt: z.string().optional().describe('refused from this instant on (401 naming it)'),
    rotatedAt: z.string().optional().describe('when the current secret was issued by a rotation'),
    previousValidUntil: z
      .string()
      .optional()
      .describe('the secret before the last rotation keeps working until then'),
  })
  .meta({ id: 'ApiKey' });

/** An instant with its zone (as everywhere in the API), normalised to ISO-8601 UTC. */
const futureInstant = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s).toISOString())
  .refine((s) => Date.parse(s) > Date.now(), 'must be in the future');

const CreatedKeySchema = ApiKeySchema.extend({
  secret: z.string().describe('the bearer token: shown this once, stored only as a hash'),
}).meta({ id: 'CreatedApiKey' });

const KeyCreateSchema = z.strictObject({
  name: z.string().trim().min(1).max(100).describe('what the key is for, e.g. "firm-a dispatch system"'),
  role: z.enum(ROLES),
  firm: z.string().min(1).max(128).optional().describe('required for role firm, refused otherwise'),
  scopes: z
    .array(z.enum(SCOPE_NAMES))
    .max(SCOPE_NAMES.length)
    .optional()
    .describe('narrow the key below its role; omitted or empty: the role’s defaults'),
  expiresAt: futureInstant
    .optional()
    .describe('the key is refused from then on (401 naming it); none: no expiry'),
});

const KeysQuerySchema = z.strictObject(pageQueryFields);

/** Oldest first, as the store lists them: creation instant (ISO-8601, fixed width), then id. */
const byCreation = (key: ApiKey) => `${key.createdAt}\u0000${key.id}`;

const KeyPatchSchema = z
  .strictObject({
    enabled: z.boolean().optional().describe('false disables the key (401 until enabled again)'),
    expiresAt: futureInstant.nullable().optional().describe('a new expiry, or null for none'),
  })
  .refine((b) => b.enabled !== undefined || b.expiresAt !== undefined, {
    message: 'give enabled, expiresAt or both',
    path: ['enabled'],
  });

/** Longest rotation overlap: 30 days. */
const MAX_OVERLAP_S = 30 * 86_400;
const KeyRotateSchema = z.strictObject({
  overlapS: z
    .number()
    .int()
    .min(0)
    .max(MAX_OVERLAP_S)
    .default(86_400)
    .describe(
      'how long the current secret keeps working beside the new one, seconds (default 24 h; 0: stops now)',
    ),
  expiresAt: futureInstant
    .nullable()
    .optional()
    .describe('a new expiry for the key (null: none); omitted: the expiry stays'),
});

const RotatedKeySchema = ApiKeySchema.extend({
  secret: z.string().describe('the new bearer token: shown this once, stored only as a hash'),
}).meta({ id: 'RotatedApiKey' });

export interface KeyRoutesOptions {
  keys: ApiKeyStore;
  registry: Pick<Registry, 'firm'>;
}

const dto = (key: ApiKey) => ({
  ...key,
  effectiveScopes: [...(key.scopes.length > 0 ? key.scopes : ROLE_SCOPES[key.role])],
});

export const keyRoutes: FastifyPluginAsyncZod<KeyRoutesOptions> = async (app, { keys, registry }) => {
  const tags = ['keys'];
  const invalid = problemResponse('invalid body: every field at fault is named');
  const unknown = problemResponse('unknown key');

  app.post(
    '/keys',
    {
      config: { scope: 'keys:write', roles: ['admin'], audit: { entity: 'key' } },
      schema: {
        summary: 'Create an API key',
        description:
          'Returns the secret once. Roles: admin (everything), monitor (reads everything, acknowledges ' +
          'violations), firm (its own firm’s data only). A key cannot be given a scope its creator lacks.',
        tags,
        security: bearerSecurity,
        body: KeyCreateSchema,
        response: {
          201: jsonResponse('the key, with its secret', CreatedKeySchema),
          400: invalid,
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const { name, role, firm, scopes = [], expiresAt } = request.body;
      if (role === 'firm' && firm === undefined) throw fieldProblem('/firm', 'required for a firm key');
      if (role !== 'firm' && firm !== undefined) throw fieldProblem('/firm', 'only a firm key names a firm');
      if (firm !== undefined && registry.firm(firm) === undefined) {
        throw fieldProblem('/firm', `unknown firm ${JSON.stringify(firm)}`);
      }
      const allowed = ROLE_SCOPES[role];
      scopes.forEach((scope, i) => {
        if (!allowed.includes(scope)) throw fieldProblem(`/scopes/${i}`, `not allowed for the role ${role}`);
      });
      // No escalation: the new key's scopes must all be held by the key creating it.
      const mine = effectiveScopes(request.principal);
      const wanted = scopes.length > 0 ? scopes : allowed;
      const beyond = wanted.find((s) => !mine.includes(s));
      if (beyond !== undefined) {
        throw new HttpProblem({
          status: 403,
          type: ACCESS_PROBLEM_TYPES.missingScope,
          title: 'Missing scope',
          detail: `The new key would have the scope ${beyond}, which this key does not have.`,
        });
      }
      const input: NewApiKey = {
        name,
        role,
        scopes: [...new Set(scopes)],
        createdBy: request.principal.keyId,
      };
      if (firm !== undefined) input.firm = firm;
      if (expiresAt !== undefined) input.expiresAt = expiresAt;
      const { key, secret } = keys.create(input);
      replyCreated(request, reply, key.id);
      return { ...dto(key), secret };
    },
  );

  app.get(
    '/keys',
    {
      config: { scope: 'keys:read', roles: ['admin'] },
      schema: {
        summary: 'List API keys',
        description:
          'Every key, revoked ones included, oldest first; never a secret. With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: KeysQuerySchema,
        response: {
          200: jsonResponse('keys', listSchema(ApiKeySchema, 'ApiKeyList')),
          400: invalid,
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request) => {
      const page = paginate(keys.list(), byCreation, request.query);
      return { ...page, items: page.items.map(dto) };
    },
  );

  app.get(
    '/keys/:id',
    {
      config: { scope: 'keys:read', roles: ['admin'] },
      schema: {
        summary: 'Get an API key',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the key', ApiKeySchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const key = keys.get(request.params.id);
      if (key === undefined) throw unknownResource('key', request.params.id);
      return dto(key);
    },
  );

  app.patch(
    '/keys/:id',
    {
      config: { scope: 'keys:write', roles: ['admin'], audit: { entity: 'key' } },
      schema: {
        summary: 'Disable, enable or change the expiry of an API key',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: KeyPatchSchema,
        response: {
          200: jsonResponse('the key', ApiKeySchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
          409: problemResponse('the key is revoked'),
        },
      },
    },
    async (request) => {
      let key: ApiKey | undefined;
      const { enabled, expiresAt } = request.body;
      try {
        key = keys.get(request.params.id);
        if (key !== undefined && enabled !== undefined) key = keys.setEnabled(request.params.id, enabled);
        if (key !== undefined && expiresAt !== undefined) key = keys.setExpiry(request.params.id, expiresAt);
      } catch (err) {
        if (err instanceof ApiKeyStateError) throw conflict(`${err.message}: create a new key instead`);
        throw err;
      }
      if (key === undefined) throw unknownResource('key', request.params.id);
      return dto(key);
    },
  );

  app.post(
    '/keys/:id/rotate',
    {
      config: { scope: 'keys:write', roles: ['admin'], audit: { entity: 'key', action: 'rotate' } },
      schema: {
        summary: 'Rotate an API key’s secret',
        description:
          'Issues a new secret (shown once) for the same key: id, role, scopes, webhooks and audit history stay. ' +
          'The current secret keeps working for `overlapS` (default 24 h), answering with a `Sunset` header that ' +
          'says until when, so the client can switch without downtime; after that it is refused (401 naming the ' +
          'rotation). A secret older than that stops at once.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: KeyRotateSchema,
        response: {
          200: jsonResponse('the key, with its new secret', RotatedKeySchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
          409: problemResponse('the key is revoked'),
        },
      },
    },
    async (request) => {
      let rotated: { key: ApiKey; secret: string } | undefined;
      try {
        rotated = keys.rotate(request.params.id, {
          overlapMs: request.body.overlapS * 1000,
          ...(request.body.expiresAt === undefined ? {} : { expiresAt: request.body.expiresAt }),
        });
      } catch (err) {
        if (err instanceof ApiKeyStateError) throw conflict(`${err.message}: create a new key instead`);
        throw err;
      }
      if (rotated === undefined) throw unknownResource('key', request.params.id);
      return { ...dto(rotated.key), secret: rotated.secret };
    },
  );

  app.delete(
    '/keys/:id',
    {
      config: { scope: 'keys:write', roles: ['admin'], audit: { entity: 'key', action: 'revoke' } },
      schema: {
        summary: 'Revoke an API key',
        description:
          'For good: the key answers 401 from now on and cannot be enabled again. It stays listed.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        response: {
          200: jsonResponse('the revoked key', ApiKeySchema),
          400: invalid,
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const key = keys.revoke(request.params.id);
      if (key === undefined) throw unknownResource('key', request.params.id);
      return dto(key);
    },
  );
};
