import { z } from 'zod';
import { CORS_ORIGIN_PATTERN } from '../../api/security.ts';

/**
 * The API's limits (rate, authentication failures, CORS) and the log level.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const apiEnv = {
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
};
