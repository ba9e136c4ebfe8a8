import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CITY_THRESHOLDS_ID, type ComplianceRegistry } from '../registry/compliance.ts';
import { bearerSecurity } from './auth.ts';
import { attempt, REGISTRY_RESPONSES, versionsOf } from './compliance-problems.ts';
import { ThresholdsPutSchema, ThresholdsSchema, versionListSchema } from './compliance-schemas.ts';
import { jsonResponse } from './schemas.ts';

/**
 * The city thresholds in force (GET, PUT, versions): one entity of the compliance registry, every
 * change a new version. Register inside the scope guarded by `bearerAuth` (prefix /api/v1).
 */

export interface ThresholdRoutesOptions {
  registry: ComplianceRegistry;
  /** recorded as the author of every change */
  actor: string;
}

const { unauthorized, invalid, conflict } = REGISTRY_RESPONSES;

export const thresholdRoutes: FastifyPluginAsyncZod<ThresholdRoutesOptions> = async (
  app,
  { registry, actor },
) => {
  const tags = ['compliance'];
  const thresholdsDto = () => {
    const rec = registry.record('thresholds', 'city')!;
    return { ...rec.entity!, updatedAt: rec.createdAt };
  };

  app.get(
    '/thresholds',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'City thresholds in force',
        tags,
        security: bearerSecurity,
        response: { 200: jsonResponse('the thresholds', ThresholdsSchema), 401: unauthorized },
      },
    },
    async () => thresholdsDto(),
  );

  app.put(
    '/thresholds',
    {
      config: {
        scope: 'compliance:write',
        roles: ['admin'],
        audit: { entity: 'thresholds', id: CITY_THRESHOLDS_ID },
      },
      schema: {
        summary: 'Replace the city thresholds',
        description:
          'Writes a new version; thresholds left out take the built-in defaults. With `version`, refused (409) unless it is the current version.',
        tags,
        security: bearerSecurity,
        body: ThresholdsPutSchema,
        response: {
          200: jsonResponse('the thresholds, with the new version', ThresholdsSchema),
          400: invalid,
          401: unauthorized,
          409: conflict,
        },
      },
    },
    async (request) => {
      const { values, version } = request.body;
      const opts = version === undefined ? { actor } : { actor, ifVersion: version };
      attempt(() => registry.put('thresholds', { values }, opts));
      return thresholdsDto();
    },
  );

  app.get(
    '/thresholds/versions',
    {
      config: { scope: 'compliance:read' },
      schema: {
        summary: 'Versions of the city thresholds',
        tags,
        security: bearerSecurity,
        response: {
          200: jsonResponse('the versions', versionListSchema(ThresholdsSchema, 'ThresholdsVersions')),
          401: unauthorized,
        },
      },
    },
    async () =>
      versionsOf('thresholds', 'city', registry.history('thresholds', 'city'), (e, updatedAt) => ({
        ...e,
        updatedAt,
      })),
  );
};
