import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from '../../delivery/webhooks/events.ts';
import type { DeliveryWithLog, Subscription } from '../../delivery/webhooks/records.ts';
import { VIOLATION_CODES } from '../../geofence/model.ts';
import { pageQueryFields } from '../paging.ts';

/** The webhook routes' request and response schemas (api/webhooks/routes.ts) and the records as answered. */

export const id = z.string().min(1).max(128);
export const isoInstant = z.iso.datetime({ offset: false, local: false });
export const limit = z.coerce.number().int().min(1).max(1000);

export const targetUrl = z
  .url({ protocol: /^https?$/, error: 'expected an absolute http or https URL' })
  .max(2048)
  .refine((u) => {
    const parsed = new URL(u);
    return parsed.username === '' && parsed.password === '';
  }, 'credentials in the URL are not accepted: the deliveries are signed instead');

export const unique = <T>(items: readonly T[]) => new Set(items).size === items.length;

export const CreateWebhookBodySchema = z
  .strictObject({
    url: targetUrl.describe('where deliveries are POSTed (http or https)'),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1)
      .refine(unique, 'event types must not repeat')
      .describe('event types to receive'),
    firms: z
      .array(id)
      .min(1)
      .max(1000)
      .optional()
      .describe('only events of these firms (a firm key: its own firm only, the default)'),
    vehicles: z.array(id).min(1).max(10_000).optional().describe('only events of these vehicles'),
    codes: z
      .array(z.enum(VIOLATION_CODES))
      .min(1)
      .optional()
      .describe('only violations with these codes (trip events are not filtered by code)'),
    description: z.string().max(500).optional(),
  })
  .meta({ id: 'WebhookSubscriptionBody' });

export const WebhookSubscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    firms: z.array(z.string()).optional(),
    vehicles: z.array(z.string()).optional(),
    codes: z.array(z.string()).optional(),
    description: z.string().optional(),
    owner: z.string().describe('id of the API key that created it'),
    ownerFirm: z.string().optional().describe('set when a firm key created it: only this firm’s events'),
    createdAt: isoInstant,
    state: z
      .enum(['active', 'disabled', 'paused'])
      .describe(
        'active; disabled (by its owner, or because the receiver answered 410 Gone); paused (too many ' +
          'deliveries in a row dead-lettered). Disabled and paused get no new deliveries and hold their ' +
          'pending ones until the owner enables the subscription again (PATCH).',
      ),
    stateReason: z.string().optional().describe('why it is disabled or paused'),
    stateChangedAt: isoInstant.optional(),
    consecutiveDeadLetters: z
      .number()
      .int()
      .describe('dead-lettered deliveries since the last delivered one'),
  })
  .meta({ id: 'WebhookSubscription' });

export const PatchWebhookBodySchema = z
  .strictObject({
    enabled: z
      .boolean()
      .describe('true: active again (after a 410 or a pause), pending deliveries resume; false: disabled'),
  })
  .meta({ id: 'WebhookSubscriptionPatch' });

export const CreatedSchema = WebhookSubscriptionSchema.extend({
  secret: z
    .string()
    .describe(
      'signing secret (whsec_ + base64), shown only in this reply: the HMAC key is the base64 part decoded',
    ),
}).meta({ id: 'WebhookSubscriptionCreated' });

export const AttemptSchema = z
  .object({
    n: z.number().int().describe('1 for the first attempt'),
    at: isoInstant,
    durationMs: z.number(),
    statusCode: z.number().int().optional().describe('absent when no response came (error says why)'),
    error: z.string().optional().describe('timeout, connection refused, ...'),
  })
  .meta({ id: 'WebhookAttempt' });

export const WebhookDeliverySchema = z
  .object({
    id: z.string(),
    subscription: z.string(),
    event: z.object({
      id: z.string().describe('the Webhook-Id header: the same on every attempt and replay'),
      type: z.enum(WEBHOOK_EVENT_TYPES),
      timestamp: isoInstant.describe('when the event occurred'),
    }),
    status: z.enum(['pending', 'delivered', 'dead']).describe('dead: every attempt failed (a dead letter)'),
    attempts: z.number().int(),
    nextAttemptAt: isoInstant.optional().describe('pending: the earliest next attempt'),
    createdAt: isoInstant,
    doneAt: isoInstant.optional().describe('when it was delivered or dead-lettered'),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional(),
    replayOf: z.string().optional().describe('the delivery this one replays'),
    replayedBy: z.string().optional().describe('the replay of this delivery'),
    log: z.array(AttemptSchema).describe('every attempt, oldest first'),
  })
  .meta({ id: 'WebhookDelivery' });

export const DeliveryPageSchema = z.object({
  items: z.array(WebhookDeliverySchema),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

export const SubscriptionParams = z.object({ id: id.describe('subscription id') });
export const DeliveryParams = z.object({
  id: id.describe('subscription id'),
  deliveryId: id.describe('delivery id'),
});
export const PageQuery = {
  limit: limit.optional().describe('page size (default 100, max 1,000)'),
  cursor: z.string().min(1).max(32).optional().describe('nextCursor of the previous page'),
};
export const DeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'dead']).optional(),
  ...PageQuery,
});
export const DeadLettersQuery = z.strictObject(PageQuery);
export const SubscriptionsQuery = z.strictObject(pageQueryFields);
/** Oldest first: creation instant (zero-padded epoch ms, so the strings sort as the numbers), then id. */
export const byCreation = (s: Subscription) => `${String(s.createdAt).padStart(16, '0')}\u0000${s.id}`;

export const iso = (ms: number) => new Date(ms).toISOString();

export function toDto(s: Subscription): z.infer<typeof WebhookSubscriptionSchema> {
  return {
    id: s.id,
    url: s.url,
    events: [...s.events],
    ...(s.firms ? { firms: [...s.firms] } : {}),
    ...(s.vehicles ? { vehicles: [...s.vehicles] } : {}),
    ...(s.codes ? { codes: [...s.codes] } : {}),
    ...(s.description === undefined ? {} : { description: s.description }),
    owner: s.ownerKey,
    ...(s.ownerFirm === undefined ? {} : { ownerFirm: s.ownerFirm }),
    createdAt: iso(s.createdAt),
    state: s.state,
    ...(s.stateReason === undefined ? {} : { stateReason: s.stateReason }),
    ...(s.stateChangedAt === undefined ? {} : { stateChangedAt: iso(s.stateChangedAt) }),
    consecutiveDeadLetters: s.consecutiveDead,
  };
}

export function deliveryDto(d: DeliveryWithLog): z.infer<typeof WebhookDeliverySchema> {
  return {
    id: d.id,
    subscription: d.subscription,
    event: { id: d.event.id, type: d.event.type, timestamp: iso(d.event.occurredAt) },
    status: d.status,
    attempts: d.attempts,
    ...(d.nextAt === undefined ? {} : { nextAttemptAt: iso(d.nextAt) }),
    createdAt: iso(d.createdAt),
    ...(d.doneAt === undefined ? {} : { doneAt: iso(d.doneAt) }),
    ...(d.lastStatusCode === undefined ? {} : { lastStatusCode: d.lastStatusCode }),
    ...(d.lastError === undefined ? {} : { lastError: d.lastError }),
    ...(d.replayOf === undefined ? {} : { replayOf: d.replayOf }),
    ...(d.replayedBy === undefined ? {} : { replayedBy: d.replayedBy }),
    log: d.log.map((a) => ({
      n: a.n,
      at: iso(a.at),
      durationMs: a.durationMs,
      ...(a.statusCode === undefined ? {} : { statusCode: a.statusCode }),
      ...(a.error === undefined ? {} : { error: a.error }),
    })),
  };
}
