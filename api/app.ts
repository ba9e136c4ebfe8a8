import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { LoggerOptions } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { Registry } from '../registry/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { bearerAuth } from './auth.ts';
import { complianceRoutes } from './compliance.ts';
import { registerDocs } from './docs.ts';
import { healthRoutes } from './health.ts';
import { instrumentHttp, metricsRoutes } from './metrics.ts';
import { positionRoutes } from './positions.ts';
import type { ApiKeyResolver } from './principal.ts';
import { problemErrorHandler, problemNotFoundHandler } from './problem.ts';
import type { HealthReport } from './schemas.ts';
import { violationRoutes } from './violations.ts';

export interface ApiDeps {
  /** bearer token required on every /api/v1 route */
  adminToken: string;
  /** API keys besides the admin token (api/principal.ts ApiKeyResolver) */
  keys?: ApiKeyResolver;
  /** latest positions: an in-memory cache or the store itself */
  positions: Pick<FixStore, 'latest' | 'latestOf'>;
  registry: Pick<Registry, 'vehicle' | 'device' | 'firm' | 'vehicles' | 'devices'>;
  /** component states for GET /healthz */
  health: () => Promise<HealthReport>;
  /** the platform's prom-client registry, served at GET /metrics */
  metrics: MetricsRegistry;
  /** sites, routes, zones, permits and thresholds (registry/compliance.ts); routes served only when given */
  compliance?: ComplianceRegistry;
  /** violations, trips and evidence of the compliance engine; routes served only when given */
  events?: EventStore;
}

export interface ApiOptions {
  /** fastify's pino logger: false (default), true, or pino options */
  logger?: boolean | LoggerOptions;
  /** serve HTTPS with this key and certificate (PEM) */
  https?: { key: Buffer; cert: Buffer };
}

export const API_PREFIX = '/api/v1';

/**
 * The HTTP API. Returns the instance without calling ready() or listen(), so the caller may still
 * register more plugins (live streams, registry routes) before it starts.
 */
export async function buildApi(deps: ApiDeps, opts: ApiOptions = {}): Promise<FastifyInstance> {
  const options: FastifyServerOptions & { https?: { key: Buffer; cert: Buffer } } = {
    logger: opts.logger ?? false,
    // Request ids are generated here, never taken from a client header (no log injection).
    requestIdHeader: false,
    // Longer path parameters than this are a 414; shorter ones are checked by the route's schema.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Errors raised before routing (malformed URL, over-long parameter) are problems too.
    frameworkErrors: problemErrorHandler,
  };
  if (opts.https) options.https = opts.https;
  const app = Fastify(options) as unknown as FastifyInstance;

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler(problemNotFoundHandler);
  instrumentHttp(app, deps.metrics);

  await registerDocs(app);
  await app.register(healthRoutes, { health: deps.health });
  await app.register(metricsRoutes, { registry: deps.metrics });
  await app.register(
    async (v1) => {
      await v1.register(
        bearerAuth,
        deps.keys ? { token: deps.adminToken, keys: deps.keys } : { token: deps.adminToken },
      );
      // The scope's own not-found handler runs behind the auth hook: no token, no route discovery.
      v1.setNotFoundHandler(problemNotFoundHandler);
      await v1.register(positionRoutes, { positions: deps.positions, registry: deps.registry });
      if (deps.compliance) await v1.register(complianceRoutes, { registry: deps.compliance });
      if (deps.events) await v1.register(violationRoutes, { events: deps.events });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
