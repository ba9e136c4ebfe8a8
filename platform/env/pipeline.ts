import { z } from 'zod';
import { COMPLIANCE_CLOCKS } from '../../compliance/clock.ts';

/**
 * Intake and judging: evidence, shutdown, the store pump, the spool's limits, payload and fix limits, late fixes, the judgement clock.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const pipelineEnv = {
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
};
