import { z } from 'zod';

/**
 * Delivery: the live streams (SSE and WebSocket).
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const liveEnv = {
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
};
