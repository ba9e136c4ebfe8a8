/**
 * The cluster's JetStream resources, declared in one place and created idempotently by whichever
 * process starts first (an edge or a worker; both call `openCluster`):
 *  - the fix stream CITYWATCH_FIXES, subjects `citywatch.fix.<partition>`, file storage, R3 by default:
 *    a publish is acknowledged once a quorum of the replicas has it, so the PUBACK an edge sends after it
 *    survives any one node's loss. Its duplicate window drops a fix published again with the same
 *    Nats-Msg-Id (partitions.ts fixMsgId) within the window: a device's retransmission through another
 *    edge stores nothing twice.
 *  - KV `citywatch_leases`: one key per partition naming its worker; the bucket's max age is the lease
 *    time, so a lease its worker stopped renewing disappears by itself, and a claim is a KV create
 *    (fails when the key exists) or update at a revision (fails when anyone wrote since): leases.ts.
 *  - KV `citywatch_workers`: one key per live worker, renewed like a lease: how many workers share the
 *    partitions.
 *  - KV `citywatch_checkpoints`: per partition the engine and trip states with the stream sequence they
 *    cover, written at a revision (a worker that lost its partition cannot overwrite its successor's).
 *  - KV `citywatch_history`: the units' histories late fixes are re-judged from (history-store.ts), one
 *    value per unit and window of its time; max age the backfill horizon.
 *  - KV `citywatch_outages`: the intake's heartbeat and the cluster's own outages (outages.ts).
 *  - KV `citywatch_gaps`: the silences those outages voided (platform gaps, gap-store.ts), one key per
 *    outage and would-be violation; max age the backfill horizon, as the outages are kept.
 *  - the event stream CITYWATCH_EVENTS, subjects `citywatch.events.<violation|trip>`: every event a
 *    worker stored, for the consumers that must not miss one (an API node's webhooks: event-feed.ts);
 *    kept as long as the fixes.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import { FIX_SUBJECT_PREFIX } from './partitions.ts';

export const FIX_STREAM = 'CITYWATCH_FIXES';
export const LEASE_BUCKET = 'citywatch_leases';
export const WORKER_BUCKET = 'citywatch_workers';
export const CHECKPOINT_BUCKET = 'citywatch_checkpoints';
export const HISTORY_BUCKET = 'citywatch_history';
export const OUTAGE_BUCKET = 'citywatch_outages';
export const GAP_BUCKET = 'citywatch_gaps';
/** the registry's changes (cluster/registry-sync.ts), subjects `citywatch.registry.>` */
export const REGISTRY_STREAM = 'CITYWATCH_REGISTRY';
export const REGISTRY_SUBJECT_PREFIX = 'citywatch.registry';
/** the events the workers stored (cluster/event-feed.ts), subjects `citywatch.events.>` */
export const EVENT_STREAM = 'CITYWATCH_EVENTS';
export const EVENT_SUBJECT_PREFIX = 'citywatch.events';

export interface ClusterSettings {
  /** client URLs of the NATS nodes (CLUSTER_NATS_URLS) */
  urls: readonly string[];
  /** fixed partition count (CLUSTER_PARTITIONS) */
  partitions: number;
  /** replicas of the stream and the buckets (CLUSTER_REPLICAS; 3 in a 3-node cluster) */
  replicas: number;
  /** a lease not renewed for this long is gone and its partition is free (CLUSTER_LEASE_MS) */
  leaseMs: number;
  /** the stream's duplicate window (CLUSTER_DEDUPE_WINDOW_MS) */
  dedupeWindowMs: number;
  /** how long the stream keeps fixes (CLUSTER_STREAM_MAX_AGE_MS): longer than any worker outage */
  streamMaxAgeMs: number;
  /**
   * how long a unit's history for re-judging late fixes is kept (BACKFILL_HISTORY_HOURS, else
   * MAX_FIX_AGE_DAYS); default 7 days
   */
  historyMaxAgeMs?: number;
  /** a name for this process in the servers' connection list */
  name: string;
}

export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly leases: KV;
  readonly workers: KV;
  readonly checkpoints: KV;
  readonly history: KV;
  readonly outages: KV;
  /** the platform gaps the workers found (gap-store.ts) */
  readonly gaps: KV;
  close(): Promise<void>;
}

/**
 * Connects (to any node; the client fails over between them and reconnects for ever) and makes sure the
 * stream and buckets exist. Safe to run from many processes at once: creating what exists with the same
 * configuration is a no-op in JetStream.
 */
export async function openCluster(settings: ClusterSettings): Promise<ClusterConnection> {
  const nc = await connect({
    servers: [...settings.urls],
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  // Several processes start at once on a cluster that may still be electing leaders: a JetStream API
  // request that times out or finds no leader yet is asked again, for at most SETUP_DEADLINE_MS.
  const deadline = Date.now() + SETUP_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await setUp(nc, settings);
    } catch (err) {
      if (Date.now() > deadline) {
        await nc.close();
        throw new Error(`the cluster's JetStream resources could not be set up: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * attempt)));
    }
  }
}

const SETUP_DEADLINE_MS = 60_000;
/** JetStream API requests (stream, consumer and KV administration, publish acknowledgements) */
const API_TIMEOUT_MS = 10_000;

async function setUp(nc: NatsConnection, settings: ClusterSettings): Promise<ClusterConnection> {
  const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS });
  await ensureFixStream(jsm, settings);
  await ensureStream(jsm, {
    name: REGISTRY_STREAM,
    subjects: [`${REGISTRY_SUBJECT_PREFIX}.>`],
    num_replicas: settings.replicas,
    duplicate_window: nanos(settings.dedupeWindowMs),
    // no max age: the registry's whole history, which a node joining with an empty DATA_DIR reads
  });
  await ensureStream(jsm, {
    name: EVENT_STREAM,
    subjects: [`${EVENT_SUBJECT_PREFIX}.>`],
    num_replicas: settings.replicas,
    // a partition replayed after a takeover publishes its events again: dropped here
    duplicate_window: nanos(settings.dedupeWindowMs),
    max_age: nanos(settings.streamMaxAgeMs),
  });
  const js = jetstream(nc, { timeout: API_TIMEOUT_MS });
  const kvm = new Kvm(js);
  // Every bucket is read through its stream's leader (allow_direct false), never by a direct get, which
  // any replica may answer, including one just restarted and not caught up. The cluster's coordination
  // reads its own writes: a runner restoring a checkpoint from a stale replica judged from an older state
  // or from nothing (the failover test's whole-cluster restart), and an edge reading a stale heartbeat
  // missed an outage and let its silences be charged (the api-node test: a beat right after the first
  // found no heartbeat). The reads are few (a runner's start, a lease round, a heartbeat, a late fix).
  const bucket = { history: 1, replicas: settings.replicas, allow_direct: false };
  const leases = await kvm.create(LEASE_BUCKET, { ...bucket, ttl: settings.leaseMs });
  const workers = await kvm.create(WORKER_BUCKET, { ...bucket, ttl: settings.leaseMs });
  // a partition's whole state in one value (bounded by the servers' max_payload, 1 MiB by default)
  const checkpoints = await kvm.create(CHECKPOINT_BUCKET, { ...bucket, maxValueSize: -1 });
  const historyMaxAgeMs = settings.historyMaxAgeMs ?? 7 * 86_400_000;
  const history = await kvm.create(HISTORY_BUCKET, { ...bucket, ttl: historyMaxAgeMs });
  // the heartbeat and the list of outages (pruned by the edges that write it)
  const outages = await kvm.create(OUTAGE_BUCKET, bucket);
  // the silences they voided, kept as long as the outages (the edges keep those for the same horizon)
  const gaps = await kvm.create(GAP_BUCKET, { ...bucket, ttl: historyMaxAgeMs });
  return {
    nc,
    js,
    jsm,
    leases,
    workers,
    checkpoints,
    history,
    outages,
    gaps,
    close: () => nc.drain().catch(() => nc.close()),
  };
}

async function ensureFixStream(jsm: JetStreamManager, settings: ClusterSettings): Promise<void> {
  await ensureStream(jsm, {
    name: FIX_STREAM,
    subjects: [`${FIX_SUBJECT_PREFIX}.>`],
    num_replicas: settings.replicas,
    duplicate_window: nanos(settings.dedupeWindowMs),
    max_age: nanos(settings.streamMaxAgeMs),
  });
}

async function ensureStream(
  jsm: JetStreamManager,
  config: {
    name: string;
    subjects: string[];
    num_replicas: number;
    duplicate_window: number;
    max_age?: number;
  },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // another process created it in between
      if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
    }
  }
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test((err as Error).message ?? '');
}
