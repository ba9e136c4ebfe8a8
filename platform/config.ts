import path from 'node:path';
import { z } from 'zod';
import { apiEnv } from './env/api.ts';
import { connectionsEnv } from './env/connections.ts';
import { consoleEnv } from './env/console.ts';
import { entryEnv } from './env/entry.ts';
import { liveEnv } from './env/live.ts';
import { pipelineEnv } from './env/pipeline.ts';
import { processEnv } from './env/process.ts';
import { webhookEnv } from './env/webhooks.ts';
import { placeholderReason, SECRET_SETTINGS } from './placeholder-secrets.ts';

/**
 * Configuration from environment variables, validated with ONE zod schema. Its fields are declared in
 * groups per part of the platform (platform/env/*.ts: entry points, the process and cluster mode,
 * connections, intake and judging, live streams, console, webhooks, API), joined here in one object;
 * the checks across groups (`superRefine`) are here. Every variable is documented in the README's
 * configuration table; a bad value stops start-up with a message naming the variable.
 */

const envObject = z.object({
  ...entryEnv,
  ...processEnv,
  ...connectionsEnv,
  ...pipelineEnv,
  ...liveEnv,
  ...consoleEnv,
  ...webhookEnv,
  ...apiEnv,
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
