import { z } from 'zod';
import { AllowlistError, parseAllowlist } from '../../outbound/address-policy.ts';

/**
 * Delivery: webhooks and idempotency keys.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const webhookEnv = {
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
};
