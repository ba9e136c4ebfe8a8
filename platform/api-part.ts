import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../api/app.ts';
import { stateDigest } from '../api/audit/chain.ts';
import { AuditLog } from '../api/audit/log.ts';
import { auditSnapshots } from '../api/audit/snapshots.ts';
import { LateDeviceCommands } from '../api/device-commands.ts';
import { IdempotencyStore } from '../api/idempotency/store.ts';
import type { PlatformOutageSource } from '../api/platform-outages.ts';
import { ADMIN_PRINCIPAL } from '../api/principal.ts';
import type { HealthReport } from '../api/schemas.ts';
import { consoleRoutes } from '../console/server.ts';
import type { LatestPositions } from '../ingest/latest-cache.ts';
import { SqliteApiKeys } from '../registry/api-keys.ts';
import type { ComplianceRegistry } from '../registry/compliance.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import type { EntryPoints } from './entry-points.ts';
import type { Judgement } from './judgement.ts';

/** package.json's version, shown in the console's footer. */
const PLATFORM_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * The HTTP side: the audit log and the API keys (always: webhooks and their stops use them), and with
 * PARTS including api the API itself (fastify, api/app.ts) with the monitor console, listening.
 */
export interface ApiPart {
  adminToken: string;
  audit: AuditLog;
  apiKeys: SqliteApiKeys;
  idempotency: IdempotencyStore | undefined;
  api: FastifyInstance | undefined;
  /** a cluster API node's JT/T 808 commands, connected when it joins the cluster (cluster-api-node.ts) */
  clusterCommands: LateDeviceCommands | undefined;
  /**
   * what GET /platform/outages lists: the compliance service's outages, or, on a cluster API node, the
   * cluster's (platform/cluster-api-node.ts sets it once the node has joined the cluster)
   */
  outages: { source: PlatformOutageSource };
}

export interface ApiDeps {
  registry: SqliteRegistry;
  compliance: ComplianceRegistry;
  store: FixStore;
  events: EventStore;
  latest: LatestPositions;
  judgement: Judgement;
  entry: EntryPoints;
  health: () => Promise<HealthReport>;
  tls: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
  metrics: MetricsRegistry;
  logger: Logger;
}

export async function startApi(config: Config, deps: ApiDeps): Promise<ApiPart> {
  const { env } = config;
  const { registry, compliance, store, events, latest, health, tls, metrics, logger } = deps;
  const { complianceService, webhooks, live, liveUnits, incidents, judgementNow } = deps.judgement;
  const { ports, broker, jt808 } = deps.entry;
  // One append-only, hash-chained record of every change made through the API (api/audit/), and of the
  // platform's own stops of webhook subscriptions.
  const audit = new AuditLog({ file: path.join(config.dataDir, 'audit.sqlite') });
  const webhookState = auditSnapshots({ webhooks: webhooks.store });
  webhooks.onStateChange = (change) => {
    Promise.resolve(webhookState('webhook', change.subscription))
      .then((state) =>
        audit.append({
          at: change.at,
          actor: 'platform',
          keyId: 'platform',
          role: 'system',
          action: `webhook.${change.state}`,
          entityKind: 'webhook',
          entityId: change.subscription,
          before: null,
          after: stateDigest(state),
        }),
      )
      .catch((err: Error) =>
        logger.error({ err: err.message }, 'audit: a webhook stop could not be recorded'),
      );
  };
  const adminToken = await resolveAdminToken(config, logger);
  // API keys beside the registry; ADMIN_TOKEN stays the bootstrap admin that creates the first keys.
  const apiKeys = new SqliteApiKeys({ dir: path.join(config.dataDir, 'registry') });
  // A disabled or revoked key's webhook subscriptions get no new deliveries.
  webhooks.ownerActive = (keyId) => keyId === ADMIN_PRINCIPAL.keyId || apiKeys.get(keyId)?.enabled === true;
  let api: FastifyInstance | undefined;
  const outages: ApiPart['outages'] = {
    source: { outages: (gapLimit) => complianceService.outageRecords(gapLimit) },
  };
  let idempotency: IdempotencyStore | undefined;
  // a cluster API node holds no terminal: its commands go to the edge that does
  const clusterCommands =
    jt808 === undefined && env.CLUSTER_NATS_URLS !== undefined ? new LateDeviceCommands() : undefined;
  if (env.PARTS.includes('api')) {
    // Responses to requests with an Idempotency-Key, replayed after a restart too.
    idempotency = new IdempotencyStore({ file: path.join(config.dataDir, 'idempotency.sqlite') });
    const useCache = env.PARTS.includes('broker') || env.INGEST_MQTT_URL !== undefined;
    api = await buildApi(
      {
        adminToken,
        positions: useCache ? latest : store,
        tracks: store,
        live,
        registry,
        health,
        metrics,
        ...(broker?.metricsText ? { moreMetrics: () => broker?.metricsText?.() ?? Promise.resolve('') } : {}),
        compliance,
        events,
        webhooks,
        idempotency,
        audit,
        outages: { outages: (gapLimit) => outages.source.outages(gapLimit) },
        dispatch: liveUnits,
        incidents,
        reportWorld: () => complianceService.currentWorld(),
        reportNow: judgementNow,
        keys: apiKeys,
        resources: {
          registry,
          // Only the embedded broker's connections can be ended from here; an external broker's are its own.
          dropSessions: (id) => {
            broker?.dropDeviceSessions(id);
            jt808?.dropDeviceSessions(id);
          },
          onChange: () => complianceService.recompile(),
          ...(jt808 ? { jt808Commands: jt808.commands } : {}),
          ...(clusterCommands ? { jt808Commands: clusterCommands } : {}),
        },
      },
      {
        // Every log line of a request carries its reqId (= the X-Request-Id answered).
        loggerInstance: logger.child({ component: 'api' }),
        idempotencyTtlMs: env.IDEMPOTENCY_TTL_S * 1000,
        ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
        rateLimitPerMinute: env.API_RATE_LIMIT,
        authFailuresPerMinute: env.API_AUTH_FAILURE_LIMIT,
        corsOrigins: env.API_CORS_ORIGINS,
        streamTicketTtlMs: env.LIVE_TICKET_TTL_S * 1000,
      },
    );
    // The monitor console at / and /console: a page over the public API (console/).
    await api.register(consoleRoutes, {
      config: {
        displayCrs: env.CONSOLE_TILE_URL ? env.CONSOLE_TILE_CRS : 'WGS84',
        ...(env.CONSOLE_TILE_URL
          ? {
              tiles: {
                urls: env.CONSOLE_TILE_URL,
                maxZoom: env.CONSOLE_TILE_MAX_ZOOM,
                ...(env.CONSOLE_TILE_ATTRIBUTION ? { attribution: env.CONSOLE_TILE_ATTRIBUTION } : {}),
              },
            }
          : {}),
        version: PLATFORM_VERSION,
      },
    });
    await api.listen({ host: env.BIND_HOST, port: env.HTTP_PORT });
    const address = api.server.address();
    if (address && typeof address === 'object') ports.http = address.port;
  }
  return { adminToken, audit, apiKeys, idempotency, api, clusterCommands, outages };
}

async function resolveAdminToken(config: Config, logger: Logger): Promise<string> {
  if (config.env.ADMIN_TOKEN) return config.env.ADMIN_TOKEN;
  const file = path.join(config.dataDir, 'admin-token');
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    if (existing.length >= 16) return existing;
  } catch {
    // first start
  }
  const token = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  logger.info({ file }, 'ADMIN_TOKEN not set: generated one and saved it');
  return token;
}
