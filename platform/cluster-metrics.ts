/**
 * An edge's or worker's own HTTP port (CLUSTER_METRICS_PORT; these parts serve no API): GET /metrics, the
 * Prometheus text of the process's registry (the edge's broker, JT/T 808 and ingest metrics under the
 * single process's names, the worker's judging figures: cluster/part-metrics.ts, the registry sync's
 * conflicts, the Node.js process metrics), and GET /healthz, 200 once the parts run. Plain node:http: two
 * routes, no authentication, as the single process's /metrics (keep the port on an internal network).
 * It listens before the process joins the cluster, so a port already taken stops the start at once,
 * and a process still waiting for NATS answers /healthz with 503 `starting`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from './config.ts';

/** CLUSTER_METRICS_PORT unset: an edge's port, a worker's, apart so that both run on one machine */
export const DEFAULT_EDGE_METRICS_PORT = 9464;
export const DEFAULT_WORKER_METRICS_PORT = 9465;

export type PartsHealth = { status: 'starting' | 'ok' | 'stopping' } & Record<string, unknown>;

export interface MetricsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/** the port this process serves its metrics on, or undefined with CLUSTER_METRICS_PORT=off */
export function metricsPortOf(config: Config): number | undefined {
  const setting = config.env.CLUSTER_METRICS_PORT;
  if (setting === 'off') return undefined;
  if (setting !== undefined) return setting;
  return config.env.PARTS.includes('edge') ? DEFAULT_EDGE_METRICS_PORT : DEFAULT_WORKER_METRICS_PORT;
}

export async function serveClusterMetrics(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: () => PartsHealth;
  logger: Logger;
}): Promise<MetricsEndpoint> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: Error) => {
          opts.logger.warn({ err: err.message }, 'metrics: collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
      return;
    }
    if (url === '/healthz') {
      const health = opts.health();
      res
        .writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(health));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics or /healthz\n');
  });
  // a scraper holds its connection open between scrapes: close() must not wait for it
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `CLUSTER_METRICS_PORT: cannot listen on ${opts.host}:${opts.port} (${err.code ?? err.message}); give this process another port, 0 for a free one, or off`,
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (err) => opts.logger.warn({ err: err.message }, 'metrics: server error'));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** the process's registry and its endpoint (none with CLUSTER_METRICS_PORT=off) */
export interface PartsMetrics {
  readonly registry: Registry;
  /** the port it serves on (undefined: off) */
  readonly port: number | undefined;
  /** what GET /healthz says from now on */
  health: () => PartsHealth;
  close(): Promise<void>;
}

/** listens now (before the process joins the cluster); /healthz says `starting` until `health` is set */
export async function startPartsMetrics(config: Config, logger: Logger): Promise<PartsMetrics> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const port = metricsPortOf(config);
  let health: () => PartsHealth = () => ({ status: 'starting', parts: config.env.PARTS });
  const endpoint =
    port === undefined
      ? undefined
      : await serveClusterMetrics({
          host: config.env.BIND_HOST,
          port,
          registry,
          health: () => health(),
          logger,
        });
  return {
    registry,
    port: endpoint?.port,
    get health() {
      return health;
    },
    set health(fn) {
      health = fn;
    },
    close: async () => endpoint?.close(),
  };
}
