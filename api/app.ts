import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { LoggerOptions } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { WebhookDispatcher } from '../delivery/webhooks/dispatcher.ts';
import type { IncidentDesk } from '../dispatch/incidents.ts';
import type { LiveUnits } from '../dispatch/live-units.ts';
import type { World } from '../geofence/types.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { Registry } from '../registry/types.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import { AuditLog } from './audit/log.ts';
import { auditTrail } from './audit/plugin.ts';
import { auditRoutes } from './audit/routes.ts';
import { auditSnapshots } from './audit/snapshots.ts';
import { bearerAuth } from './auth.ts';
import { AuthFailureThrottle } from './auth-throttle.ts';
import { complianceRoutes } from './compliance.ts';
import { coverageReportRoutes } from './coverage-report.ts';
import { dispatchRoutes } from './dispatch.ts';
import { registerDocs } from './docs.ts';
import { dutyReportRoutes } from './duty-report.ts';
import { registerEtags } from './etag.ts';
import { evidenceRoutes } from './evidence.ts';
import { healthRoutes } from './health.ts';
import { idempotency } from './idempotency/plugin.ts';
import { IdempotencyStore } from './idempotency/store.ts';
import { incidentRoutes } from './incidents.ts';
import { type ApiKeyStore, keyRoutes } from './keys.ts';
import { liveRoutes } from './live.ts';
import type { LiveStreams } from './live-hub.ts';
import { liveTicketRoutes, StreamTicketStore } from './live-tickets.ts';
import { instrumentHttp, metricsRoutes } from './metrics.ts';
import { planRoutes } from './plans.ts';
import { type PlatformOutageSource, platformOutageRoutes } from './platform-outages.ts';
import { positionRoutes } from './positions.ts';
import type { ApiKeyResolver } from './principal.ts';
import { problemErrorHandler, problemNotFoundHandler } from './problem.ts';
import { RateLimiter } from './rate-limit.ts';
import { genReqId, registerRequestId } from './request-id.ts';
import { type ResourceRoutesOptions, resourceRoutes } from './resources.ts';
import type { HealthReport } from './schemas.ts';
import { scorecardRoutes } from './scorecards.ts';
import { registerSecurity } from './security.ts';
import { violationRoutes } from './violations.ts';
import { webhookRoutes } from './webhooks/routes.ts';

export interface ApiDeps {
  /** bearer token required on every /api/v1 route */
  adminToken: string;
  /** API keys besides the admin token (api/principal.ts ApiKeyResolver) */
  keys?: ApiKeyResolver & Partial<ApiKeyStore>;
  /** firms, vehicles, officers and devices as resources (api/resources.ts); served only when given */
  resources?: ResourceRoutesOptions;
  /** latest positions: an in-memory cache or the store itself */
  positions: Pick<FixStore, 'latest' | 'latestOf'>;
  /** the fix store, for GET /vehicles/{id}/track; served only when given */
  tracks?: Pick<FixStore, 'track'>;
  /** the live bus (api/live-hub.ts), for GET /live/positions and /live/violations; served only when given */
  live?: LiveStreams;
  registry: Pick<Registry, 'vehicle' | 'device' | 'firm' | 'vehicles' | 'devices'>;
  /** component states for GET /healthz */
  health: () => Promise<HealthReport>;
  /** the platform's prom-client registry, served at GET /metrics */
  metrics: MetricsRegistry;
  /** metrics kept in other processes (MQTT edge processes), appended at GET /metrics */
  moreMetrics?: () => Promise<string>;
  /** sites, routes, zones, permits and thresholds (registry/compliance.ts); routes served only when given */
  compliance?: ComplianceRegistry;
  /** violations, trips and evidence of the compliance engine; routes served only when given */
  events?: EventStore;
  /** webhook subscriptions, delivery log, dead letters and replay (api/webhooks/); served only when given */
  webhooks?: WebhookDispatcher;
  /** recorded responses of requests with an Idempotency-Key (DATA_DIR/idempotency.sqlite); in memory if absent */
  idempotency?: IdempotencyStore;
  /** the audit log of changes (DATA_DIR/audit.sqlite); in memory if absent */
  audit?: AuditLog;
  /** the platform's own outages and the silences they voided (GET /platform/outages); served only when given */
  outages?: PlatformOutageSource;
  /** live units for nearest-unit dispatch (dispatch/live-units.ts); GET /dispatch/nearest served only when given */
  dispatch?: LiveUnits;
  /** the incident desk (dispatch/incidents.ts); /incidents served only when given with `compliance` */
  incidents?: IncidentDesk;
  /** the compiled world for the duty report (GET /reports/duty, with `compliance` and `tracks`) */
  reportWorld?: () => World;
  /** the judgement clock for the reports (GET /reports/coverage: pending windows); default Date.now */
  reportNow?: () => number;
}

export interface ApiOptions {
  /** fastify's pino logger: false (default), true, or pino options */
  logger?: boolean | LoggerOptions;
  /** a pino logger to use instead (the platform's); each request logs through a child with its reqId */
  loggerInstance?: FastifyBaseLogger;
  /** how long a response to a request with an Idempotency-Key is replayed; 24 h by default */
  idempotencyTtlMs?: number;
  /** the clock idempotency records expire by (tests move it instead of waiting); Date.now by default */
  idempotencyNow?: () => number;
  /** serve HTTPS with this key and certificate (PEM) */
  https?: { key: Buffer; cert: Buffer };
  /** requests per minute per API key (token bucket); unset or 0: unlimited */
  rateLimitPerMinute?: number;
  /** failed authentications per minute per source address and per token prefix; unset: 30; 0: unlimited */
  authFailuresPerMinute?: number;
  /** origins allowed to call the API from a browser (CORS), or ['*'] */
  corsOrigins?: readonly string[];
  /** how long a stream ticket (POST /live/tickets) may wait to be used; 30 s by default */
  streamTicketTtlMs?: number;
  /** the clock stream tickets expire by (tests move it instead of waiting); Date.now by default */
  streamTicketNow?: () => number;
}

/** How long a stream ticket may wait to be used (LIVE_TICKET_TTL_S). */
export const DEFAULT_STREAM_TICKET_TTL_MS = 30_000;

export const API_PREFIX = '/api/v1';
/** failed authentications per minute per address and per token prefix (API_AUTH_FAILURE_LIMIT) */
export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 30;

/** A resolver that can also create and list keys (registry/api-keys.ts) gets the /keys routes. */
const isKeyStore = (keys: ApiDeps['keys']): keys is ApiKeyResolver & ApiKeyStore =>
  typeof keys?.create === 'function' && typeof keys.list === 'function';

/**
 * The HTTP API. Returns the instance without calling ready() or listen(), so the caller may still
 * register more plugins (live streams, registry routes) before it starts.
 */
export async function buildApi(deps: ApiDeps, opts: ApiOptions = {}): Promise<FastifyInstance> {
  const options: FastifyServerOptions & {
    https?: { key: Buffer; cert: Buffer };
    loggerInstance?: FastifyBaseLogger;
  } = {
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: opts.logger ?? false }),
    // Request ids come from genReqId: random, or the client's X-Request-Id when it is a plain token.
    requestIdHeader: false,
    genReqId,
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
  registerRequestId(app);
  instrumentHttp(app, deps.metrics);
  await registerSecurity(app, {
    apiPrefix: API_PREFIX,
    ...(opts.corsOrigins ? { corsOrigins: opts.corsOrigins } : {}),
    https: opts.https !== undefined,
  });

  const authFailures = opts.authFailuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE;
  // Without a durable store (tests, tools), keys still work for the life of the instance.
  const idempotencyStore = deps.idempotency ?? new IdempotencyStore({ file: ':memory:' });
  if (deps.idempotency === undefined) app.addHook('onClose', async () => idempotencyStore.close());
  const auditLog = deps.audit ?? new AuditLog({ file: ':memory:' });
  if (deps.audit === undefined) app.addHook('onClose', async () => auditLog.close());
  const keyStore = isKeyStore(deps.keys) ? deps.keys : undefined;
  // Browsers open the live streams with a ticket (api/live-tickets.ts), never with a key in the URL.
  const tickets = deps.live
    ? new StreamTicketStore({
        ttlMs: opts.streamTicketTtlMs ?? DEFAULT_STREAM_TICKET_TTL_MS,
        ...(opts.streamTicketNow ? { now: opts.streamTicketNow } : {}),
      })
    : undefined;

  await registerDocs(app);
  await app.register(healthRoutes, { health: deps.health });
  await app.register(metricsRoutes, {
    registry: deps.metrics,
    ...(deps.moreMetrics ? { more: deps.moreMetrics } : {}),
  });
  await app.register(
    async (v1) => {
      await v1.register(bearerAuth, {
        token: deps.adminToken,
        ...(deps.keys ? { keys: deps.keys } : {}),
        ...(opts.rateLimitPerMinute ? { rateLimit: new RateLimiter(opts.rateLimitPerMinute) } : {}),
        ...(authFailures > 0
          ? { failureThrottle: new AuthFailureThrottle({ perMinute: authFailures }) }
          : {}),
        metrics: deps.metrics,
        ...(tickets ? { tickets } : {}),
      });
      // The conventions of every /api/v1 route: idempotency keys on POST and PATCH, ETags on reads.
      await v1.register(idempotency, {
        store: idempotencyStore,
        ...(opts.idempotencyTtlMs ? { ttlMs: opts.idempotencyTtlMs } : {}),
        ...(opts.idempotencyNow ? { now: opts.idempotencyNow } : {}),
      });
      registerEtags(v1);
      // Every change through the routes below is recorded (api/audit/); a route that changes state
      // without declaring what stops the start.
      await v1.register(auditTrail, {
        log: auditLog,
        snapshot: auditSnapshots({
          registry: deps.resources?.registry ?? deps.registry,
          ...(deps.compliance ? { compliance: deps.compliance } : {}),
          ...(deps.events ? { events: deps.events } : {}),
          ...(keyStore ? { keys: keyStore } : {}),
          ...(deps.webhooks ? { webhooks: deps.webhooks.store } : {}),
        }),
        ...(keyStore ? { keyName: (id: string) => keyStore.get(id)?.name } : {}),
        metrics: deps.metrics,
      });
      // The scope's own not-found handler runs behind the auth hook: no token, no route discovery.
      v1.setNotFoundHandler(problemNotFoundHandler);
      await v1.register(positionRoutes, {
        positions: deps.positions,
        registry: deps.registry,
        ...(deps.tracks ? { tracks: deps.tracks } : {}),
      });
      if (deps.live) await v1.register(liveRoutes, { live: deps.live });
      if (tickets) await v1.register(liveTicketRoutes, { tickets });
      if (deps.compliance) await v1.register(complianceRoutes, { registry: deps.compliance });
      if (deps.compliance) await v1.register(planRoutes, { registry: deps.compliance });
      if (deps.dispatch) await v1.register(dispatchRoutes, { units: deps.dispatch });
      if (deps.incidents && deps.compliance) {
        await v1.register(incidentRoutes, { desk: deps.incidents, registry: deps.compliance });
      }
      if (deps.reportWorld && deps.compliance && deps.tracks) {
        const opts = { registry: deps.compliance, world: deps.reportWorld, tracks: deps.tracks };
        await v1.register(dutyReportRoutes, opts);
        await v1.register(coverageReportRoutes, { ...opts, now: deps.reportNow ?? Date.now });
      }
      if (deps.events) await v1.register(violationRoutes, { events: deps.events });
      if (deps.events) await v1.register(evidenceRoutes, { events: deps.events });
      if (deps.events) {
        const reports =
          deps.reportWorld && deps.compliance && deps.tracks
            ? {
                plans: {
                  registry: deps.compliance,
                  world: deps.reportWorld,
                  tracks: deps.tracks,
                  now: deps.reportNow ?? Date.now,
                },
              }
            : {};
        await v1.register(scorecardRoutes, { events: deps.events, registry: deps.registry, ...reports });
      }
      if (keyStore) await v1.register(keyRoutes, { keys: keyStore, registry: deps.registry });
      if (deps.resources) await v1.register(resourceRoutes, deps.resources);
      if (deps.webhooks) await v1.register(webhookRoutes, { webhooks: deps.webhooks });
      if (deps.outages) await v1.register(platformOutageRoutes, { outages: deps.outages });
      await v1.register(auditRoutes, { log: auditLog });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
