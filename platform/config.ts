import path from 'node:path';
import { z } from 'zod';
import { CORS_ORIGIN_PATTERN } from '../api/security.ts';
import { COMPLIANCE_CLOCKS } from '../compliance/clock.ts';
import { parseTileUrls, TILE_CRS } from '../console/client-config.ts';
import { VIOLATION_CODES } from '../geofence/model.ts';
import { AllowlistError, parseAllowlist } from '../outbound/address-policy.ts';
import { placeholderReason, SECRET_SETTINGS } from './placeholder-secrets.ts';

/**
 * Configuration from environment variables, validated with zod. Every variable is documented in the
 * README's configuration table; a bad value stops start-up with a message naming the variable.
 */

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const nonEmpty = z.string().min(1);
const PARTS = ['broker', 'ingest', 'api'] as const;
/** the cluster mode's parts (cluster/): an MQTT edge publishing to the NATS stream, a judging worker */
const CLUSTER_PARTS = ['edge', 'worker'] as const;

const envObject = z.object({
  HTTP_PORT: port(8080),
  MQTT_PORT: port(1883),
  /** MQTT over WebSocket (path /mqtt); empty disables */
  MQTT_WS_PORT: port(8083),
  /** MQTT over TLS, when TLS_CERT_FILE/TLS_KEY_FILE are set */
  MQTTS_PORT: port(8883),
  /** MQTT over secure WebSocket, when TLS is configured */
  MQTT_WSS_PORT: port(8084),
  /**
   * processes the embedded broker's connections are spread over (broker/cluster/): each connection is
   * a file descriptor and one process holds at most its open-files limit of them; 1 keeps it in the
   * platform process
   */
  MQTT_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * most MQTT connections at once; over it a CONNECT gets CONNACK 3 (server unavailable). Unset: the
   * open-files limit minus a reserve for everything else (broker/open-files.ts)
   */
  MQTT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(10_000_000).optional(),
  /** JT/T 808 terminals over TCP (gateway/jt808/); 0 turns the gateway off */
  JT808_PORT: port(6808),
  /** accept locations from a bound phone that skipped registration and authentication (legacy terminals) */
  JT808_ALLOW_UNAUTHENTICATED: z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default('0')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
  /** a JT/T 808 connection silent this long is closed (three missed heartbeats of 60 s) */
  JT808_IDLE_TIMEOUT_S: z.coerce.number().int().min(10).max(86_400).default(180),
  /** how long a command to a JT/T 808 terminal waits for its answer before it is a timeout */
  JT808_COMMAND_TIMEOUT_S: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * texts sent to a truck's JT/T 808 terminal (0x8300, read aloud) when a violation of that type opens,
   * as JSON: {"OFF_ROUTE":"您已偏离核准路线"}; none by default
   */
  JT808_VIOLATION_TEXTS: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(
      z.partialRecord(
        z.enum(VIOLATION_CODES),
        z.string().min(1).max(200, 'a text of at most 200 characters (a terminal shows and reads it)'),
      ),
    ),
  /** interface to listen on; loopback by default so a fresh start exposes nothing */
  BIND_HOST: nonEmpty.default('127.0.0.1'),
  DATA_DIR: nonEmpty.default('./data'),
  /** bearer token for the API; generated and kept in DATA_DIR/admin-token when unset */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** demo fleet: on (seed the demo registry and drive the fleet), off, or `seed` (registry only) */
  SIMULATE: z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', 'seed'])
    .default('1')
    .transform((v) => {
      const on = ['1', 'true', 'yes', 'on'].includes(v);
      return { seed: on || v === 'seed', fleet: on };
    }),
  /**
   * comma list of parts to run in this process: broker (embedded MQTT + in-process ingest), ingest, api;
   * in cluster mode edge and/or worker (cluster/, with CLUSTER_NATS_URLS)
   */
  PARTS: z
    .string()
    .default(PARTS.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum([...PARTS, ...CLUSTER_PARTS])).min(1)),
  /**
   * cluster mode: the NATS nodes (JetStream), comma list of nats:// URLs; needed by PARTS edge and worker;
   * with PARTS=api the process is a cluster API node (its registry joins the cluster's)
   */
  CLUSTER_NATS_URLS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'a nats://host:port URL')).min(1))
    .optional(),
  /** partitions of the fix stream; fixed for the life of the stream (changing it moves units) */
  CLUSTER_PARTITIONS: z.coerce.number().int().min(1).max(4096).default(64),
  /** replicas of the fix stream and the KV buckets (3 on a 3-node cluster: one node may fail) */
  CLUSTER_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
  /** a worker's partition lease lasts this long unrenewed; its partitions move to the others after it */
  CLUSTER_LEASE_S: z.coerce.number().int().min(2).max(300).default(10),
  /** how often a worker checkpoints its partitions' engine state and stream position */
  CLUSTER_CHECKPOINT_S: z.coerce.number().min(0.1).max(3600).default(5),
  /** how often a worker judges its units for silence (OFFLINE while the device is silent); 0: only at the fix that ends it */
  CLUSTER_TICK_S: z.coerce.number().min(0).max(3600).default(10),
  /** the fix stream drops a message id (device@ts) seen within this window: retransmissions */
  CLUSTER_DEDUPE_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(600),
  /** how long the fix stream keeps fixes (longer than any worker outage: they are replayed from it) */
  CLUSTER_STREAM_MAX_AGE_H: z.coerce.number().min(1).max(8760).default(72),
  /** external broker for ingest, e.g. mqtt://mosquitto:1883; when set, ingest subscribes there */
  INGEST_MQTT_URL: z.url().optional(),
  INGEST_MQTT_USERNAME: z.string().optional(),
  INGEST_MQTT_PASSWORD: z.string().optional(),
  INGEST_MQTT_CLIENT_ID: nonEmpty.default('citywatch-ingest'),
  /** password of the `platform` MQTT service account on the embedded broker (none when unset) */
  SERVICE_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  TLS_CERT_FILE: nonEmpty.optional(),
  TLS_KEY_FILE: nonEmpty.optional(),
  TLS_CA_FILE: nonEmpty.optional(),
  INFLUX_URL: z.url().optional(),
  /** 1 or 2; inferred from INFLUX_TOKEN (2) or INFLUX_DATABASE (1) when unset */
  INFLUX_VERSION: z.enum(['1', '2']).optional(),
  INFLUX_TOKEN: z.string().optional(),
  INFLUX_ORG: z.string().optional(),
  INFLUX_BUCKET: z.string().optional(),
  INFLUX_DATABASE: z.string().optional(),
  INFLUX_RETENTION_POLICY: z.string().optional(),
  INFLUX_USERNAME: z.string().optional(),
  INFLUX_PASSWORD: z.string().optional(),
  /**
   * most sockets the platform opens to InfluxDB at once, shared by the fix and event stores (pump,
   * outbox, evidence, API queries); callers beyond it wait for a free socket within their timeout
   */
  INFLUX_MAX_SOCKETS: z.coerce.number().int().min(1).max(1024).default(16),
  /**
   * evidence packages: store calls at once (a track query for one vehicle's due violations, then their
   * packages' writes); the rest wait in the durable queue (compliance/evidence-queue.ts)
   */
  EVIDENCE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * SIGTERM/SIGINT: how long the platform goes on writing the spool (and the compliance outbox) to the
   * store after intake stopped; what is left then stays on disk for the next start
   */
  SHUTDOWN_FLUSH_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /** fixes per store write */
  STORE_BATCH_SIZE: z.coerce.number().int().min(1).max(50_000).default(5000),
  STORE_MAX_BACKOFF_MS: z.coerce.number().int().min(10).default(15_000),
  /**
   * disk the spool may take (acknowledged fixes not yet in the store): past 80 % acknowledgements slow
   * down, at the limit they wait until the store catches up (ingest/backpressure.ts); 4 GiB
   */
  SPOOL_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(4 * 1024 ** 3),
  /** the same by the age of the oldest fix not yet in the store, seconds; 0: no age limit */
  SPOOL_MAX_AGE_S: z.coerce.number().min(0).default(0),
  /** the spool stops taking fixes while its filesystem has this few bytes free (0: no floor); 256 MiB */
  SPOOL_MIN_FREE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(256 * 1024 ** 2),
  MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(256)
    .max(16 * 1024 * 1024)
    .default(256 * 1024),
  MAX_FIXES_PER_MESSAGE: z.coerce.number().int().min(1).max(100_000).default(1000),
  MAX_FUTURE_SKEW_S: z.coerce.number().min(0).default(300),
  /** backfill horizon for late (blind-area) uploads */
  MAX_FIX_AGE_DAYS: z.coerce.number().min(0).default(7),
  /**
   * how far back late fixes are re-judged in time order: the compliance engine's history on disk
   * (compliance/backfill-history.ts) is kept this long; unset: the whole backfill horizon (MAX_FIX_AGE_DAYS)
   */
  BACKFILL_HISTORY_HOURS: z.coerce
    .number()
    .gt(0)
    .max(24 * 366)
    .optional(),
  /** speed-up of the demo fleet's clock */
  SIMULATE_SPEEDUP: z.coerce.number().min(0.1).max(1000).default(1),
  /**
   * the clock silence (OFFLINE) is judged by: `wall` (production), or `fleet` for simulations and
   * replays only: the median over recent devices of their newest fix's time plus the wall time since
   * (compliance/clock.ts)
   */
  COMPLIANCE_CLOCK: z.enum(COMPLIANCE_CLOCKS).default('wall'),
  /** fleet clock: fleet time per wall time while no newer fix arrives (the simulator's --speedup) */
  COMPLIANCE_CLOCK_SPEEDUP: z.coerce.number().gt(0).max(10_000).default(1),
  /** live streams: how long events stay replayable for a client resuming with Last-Event-ID */
  LIVE_RETENTION_S: z.coerce.number().min(0).max(86_400).default(300),
  /** live streams: events kept per stream at most (whichever of the two evicts first) */
  LIVE_MAX_EVENTS: z.coerce.number().int().min(1).max(10_000_000).default(50_000),
  /** live streams: bytes buffered per client before writes to it pause */
  LIVE_CLIENT_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(256 * 1024),
  /** live streams: events a paused (slow) client may fall behind before it is dropped */
  LIVE_CLIENT_MAX_LAG: z.coerce.number().int().min(1).default(10_000),
  /** live streams: seconds between heartbeat comments; 0 disables them */
  LIVE_HEARTBEAT_S: z.coerce.number().min(0).max(3600).default(15),
  /** live streams: how long a stream ticket (POST /api/v1/live/tickets, for browsers) may wait to be used */
  LIVE_TICKET_TTL_S: z.coerce.number().int().min(5).max(600).default(30),
  /**
   * console: raster basemap tile URL template(s), comma list ({z}, {x}, {y}); unset: the city's own
   * layers from the registry are the basemap
   */
  CONSOLE_TILE_URL: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const parsed = parseTileUrls(s);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
  /** console: coordinate system of those tiles; GCJ02 (AMap, Tencent) makes the console draw everything in GCJ-02 */
  CONSOLE_TILE_CRS: z.enum(TILE_CRS).default('WGS84'),
  /** console: attribution shown for the tiles */
  CONSOLE_TILE_ATTRIBUTION: z.string().max(500).optional(),
  /** console: the tiles' highest zoom level */
  CONSOLE_TILE_MAX_ZOOM: z.coerce.number().int().min(1).max(22).default(18),
  /** webhook attempts in all before a delivery is dead-lettered */
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  /** first retry delay; each next one 4x longer, with jitter, up to WEBHOOK_RETRY_MAX_MS */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(5000),
  /** 6 h */
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(1).default(21_600_000),
  /** per attempt, until the receiver's response headers */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** attempts in flight per receiver origin: a slow receiver holds only its own slots */
  WEBHOOK_CONCURRENCY_PER_TARGET: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * hosts (`hooks.city.internal`, `*.city.internal`), addresses and CIDRs webhooks may go to although
   * they are loopback, private, link-local or otherwise special-purpose (outbound/special-purpose.ts)
   */
  WEBHOOK_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((s, ctx) => {
      try {
        return parseAllowlist(s);
      } catch (err) {
        if (!(err instanceof AllowlistError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    }),
  /** webhooks to plain http URLs too (https only by default) */
  WEBHOOK_ALLOW_HTTP: z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default('0')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
  /** a subscription is paused after this many dead-lettered deliveries in a row; 0: never */
  WEBHOOK_PAUSE_AFTER_DEAD: z.coerce.number().int().min(0).max(1000).default(5),
  /** how long a response to a request with an Idempotency-Key is kept for replays, seconds (24 h) */
  IDEMPOTENCY_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400),
  /** API requests per minute per key (token bucket, bursts up to the same number); 0: unlimited */
  API_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  /**
   * failed bearer authentications per minute (and burst) per source address and per token prefix,
   * beyond which they are answered 429; 0: unlimited
   */
  API_AUTH_FAILURE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
  /** origins allowed to call the API from a browser (CORS), comma list; `*` for any; unset: none */
  API_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(CORS_ORIGIN_PATTERN, 'each origin is * or scheme://host[:port]'))),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Names of every variable the platform reads. */
export const ENV_KEYS = Object.keys(envObject.shape);

export const envSchema = envObject.superRefine((env, ctx) => {
  if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [env.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'],
      message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together',
    });
  }
  if (env.INFLUX_URL !== undefined) {
    const version = env.INFLUX_VERSION ?? (env.INFLUX_TOKEN ? '2' : '1');
    const required =
      version === '2'
        ? (['INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET'] as const)
        : (['INFLUX_DATABASE'] as const);
    for (const key of required) {
      if (!env[key])
        ctx.addIssue({ code: 'custom', path: [key], message: `required with InfluxDB ${version}.x` });
    }
  }
  // One message's fixes (up to ~6x its payload once normalized) must always fit in a spool segment
  // (SPOOL_MAX_BYTES / 8), or a full spool could never take it.
  const minSpool = 64 * env.MAX_PAYLOAD_BYTES;
  if (env.SPOOL_MAX_BYTES < minSpool) {
    ctx.addIssue({
      code: 'custom',
      path: ['SPOOL_MAX_BYTES'],
      message: `must be at least 64 x MAX_PAYLOAD_BYTES (${minSpool} with MAX_PAYLOAD_BYTES ${env.MAX_PAYLOAD_BYTES}), so one message always fits`,
    });
  }
  // A placeholder secret (.env.example's, change-me, ...) is a public one: refused outside the demo.
  if (!env.SIMULATE.seed) {
    for (const key of SECRET_SETTINGS) {
      const value = env[key];
      const reason = value === undefined ? undefined : placeholderReason(value);
      if (reason)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${reason}: set a secret of your own (e.g. openssl rand -base64 32) in .env, or run the demo with SIMULATE=1 or seed`,
        });
    }
  }
  const clusterParts = env.PARTS.filter((p) => p === 'edge' || p === 'worker');
  if (clusterParts.length > 0 && env.CLUSTER_NATS_URLS === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['CLUSTER_NATS_URLS'],
      message: `required when PARTS has ${clusterParts.join(' and ')} (the cluster mode's NATS nodes)`,
    });
  }
  if (clusterParts.length > 0 && clusterParts.length < env.PARTS.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['PARTS'],
      message: 'edge and worker (cluster mode) run in a process of their own: not with broker, ingest or api',
    });
  }
  if (
    clusterParts.length === 0 &&
    env.CLUSTER_NATS_URLS !== undefined &&
    (env.PARTS.includes('broker') || env.PARTS.includes('ingest'))
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['PARTS'],
      message:
        'with CLUSTER_NATS_URLS a process is a cluster part: edge, worker, or api alone (an API node whose registry joins the cluster); broker and ingest are the single process',
    });
  }
  if (env.PARTS.includes('ingest') && !env.PARTS.includes('broker') && env.INGEST_MQTT_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['INGEST_MQTT_URL'],
      message: 'required when PARTS has ingest without broker (ingest needs a broker to subscribe to)',
    });
  }
});

export type Env = z.infer<typeof envSchema>;

export type StoreConfig =
  | { kind: 'embedded'; dir: string }
  | {
      kind: 'influxdb';
      version: 1;
      url: string;
      database: string;
      retentionPolicy?: string;
      username?: string;
      password?: string;
      maxSockets: number;
    }
  | {
      kind: 'influxdb';
      version: 2;
      url: string;
      token: string;
      org: string;
      bucket: string;
      maxSockets: number;
    };

export interface Config {
  env: Env;
  dataDir: string;
  store: StoreConfig;
  tls?: { certFile: string; keyFile: string; caFile?: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment. Empty strings count as unset (so `FOO= npm start` behaves like no FOO). */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of ENV_KEYS) {
    const value = source[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? '(environment)');
        // a secret's value is never echoed (start-up errors end up in logs)
        const given = (SECRET_SETTINGS as readonly string[]).includes(key) ? undefined : relevant[key];
        return `${key}: ${issue.message}${given !== undefined ? ` (got "${given.slice(0, 80)}")` : ''}`;
      }),
    );
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.DATA_DIR);
  let store: StoreConfig = { kind: 'embedded', dir: path.join(dataDir, 'store') };
  if (env.INFLUX_URL !== undefined) {
    const version = env.INFLUX_VERSION ?? (env.INFLUX_TOKEN ? '2' : '1');
    store =
      version === '2'
        ? {
            kind: 'influxdb',
            version: 2,
            url: env.INFLUX_URL,
            token: env.INFLUX_TOKEN!,
            org: env.INFLUX_ORG!,
            bucket: env.INFLUX_BUCKET!,
            maxSockets: env.INFLUX_MAX_SOCKETS,
          }
        : {
            kind: 'influxdb',
            version: 1,
            url: env.INFLUX_URL,
            database: env.INFLUX_DATABASE!,
            maxSockets: env.INFLUX_MAX_SOCKETS,
            ...(env.INFLUX_RETENTION_POLICY ? { retentionPolicy: env.INFLUX_RETENTION_POLICY } : {}),
            ...(env.INFLUX_USERNAME ? { username: env.INFLUX_USERNAME } : {}),
            ...(env.INFLUX_PASSWORD ? { password: env.INFLUX_PASSWORD } : {}),
          };
  }
  const config: Config = { env, dataDir, store };
  if (env.TLS_CERT_FILE && env.TLS_KEY_FILE) {
    config.tls = {
      certFile: env.TLS_CERT_FILE,
      keyFile: env.TLS_KEY_FILE,
      ...(env.TLS_CA_FILE ? { caFile: env.TLS_CA_FILE } : {}),
    };
  }
  return config;
}
