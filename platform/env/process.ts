import { z } from 'zod';
import { nonEmpty } from './common.ts';

/**
 * The process: where it listens and keeps its data, the admin token, the demo, which parts it runs, the cluster mode.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

const PARTS = ['broker', 'ingest', 'api'] as const;
/** the cluster mode's parts (cluster/): an MQTT edge publishing to the NATS stream, a judging worker */
const CLUSTER_PARTS = ['edge', 'worker'] as const;

export const processEnv = {
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
  /**
   * an edge's or worker's GET /metrics and /healthz (platform/cluster-metrics.ts): a port, `0` for a free
   * one (printed at start), `off` for none; unset: 9464 on an edge, 9465 on a worker (so the two can
   * share a machine). An API node serves both on HTTP_PORT and ignores it.
   */
  CLUSTER_METRICS_PORT: z
    .string()
    .trim()
    .transform((v, ctx): number | 'off' => {
      if (v === 'off') return v;
      const port = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
      if (port >= 0 && port <= 65535) return port;
      ctx.addIssue({ code: 'custom', message: 'a port number from 0 (a free one) to 65535, or off' });
      return z.NEVER;
    })
    .optional(),
};
