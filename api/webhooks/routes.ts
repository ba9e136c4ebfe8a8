import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { WebhookDispatcher } from '../../delivery/webhooks/dispatcher.ts';
import type { DeliveryWithLog, SubscriptionWithSecret } from '../../delivery/webhooks/records.ts';
import { bearerSecurity } from '../auth.ts';
import { nextCursorField, paginate } from '../paging.ts';
import { visibleFirm } from '../principal.ts';
import { HttpProblem, PROBLEM_TYPES } from '../problem.ts';
import { replyCreated } from '../resource-kit.ts';
import { jsonResponse, problemResponse } from '../schemas.ts';
import {
  type Access,
  accessTo,
  listedOwner,
  paged,
  unknownSubscription,
  WEBHOOK_PROBLEM_TYPES,
} from './access.ts';
import {
  byCreation,
  CreatedSchema,
  CreateWebhookBodySchema,
  DeadLettersQuery,
  DeliveriesQuery,
  DeliveryPageSchema,
  DeliveryParams,
  deliveryDto,
  PatchWebhookBodySchema,
  SubscriptionParams,
  SubscriptionsQuery,
  toDto,
  WebhookDeliverySchema,
  WebhookSubscriptionSchema,
} from './route-schemas.ts';

/**
 * Webhook subscriptions, their delivery log, dead letters and replay (信息共享: violations and trips
 * pushed to other departments and to the firms). Register inside a scope guarded by `bearerAuth`.
 *
 * Ownership: a subscription belongs to the API key that created it (`principal.keyId`) and, for a firm
 * key, to its firm, whose events alone it ever receives (match.ts). Who may do what with a subscription:
 *  - its own key: everything;
 *  - admin: everything on every subscription;
 *  - monitor: read every subscription and its log (monitors read everything), change only its own (403);
 *  - firm: only its own key's; another key's answers 404, as if it did not exist (visibleFirm's rule).
 */

export interface WebhookRoutesOptions {
  webhooks: WebhookDispatcher;
}

export const webhookRoutes: FastifyPluginAsyncZod<WebhookRoutesOptions> = async (app, options) => {
  const { webhooks } = options;
  const store = webhooks.store;
  const tags = ['webhooks'];
  const unauthorized = problemResponse('missing or invalid bearer token');
  const invalid = problemResponse('invalid request');
  const unknown = problemResponse('unknown subscription (or another firm key’s)');

  /** The subscription if the principal may `need` it: 404 when it may not even see it, 403 when read-only. */
  function subscriptionFor(request: FastifyRequest, subId: string, need: Access): SubscriptionWithSecret {
    const sub = store.subscription(subId);
    const access = sub ? accessTo(request.principal, sub) : 'none';
    if (!sub || access === 'none') throw unknownSubscription(subId);
    if (need === 'manage' && access !== 'manage')
      throw new HttpProblem({
        status: 403,
        detail: `The subscription ${JSON.stringify(subId)} belongs to another API key; a monitor key may read it, not change it.`,
      });
    return sub;
  }

  app.post(
    '/webhooks',
    {
      config: { scope: 'webhooks:write', audit: { entity: 'webhook' } },
      schema: {
        summary: 'Subscribe to webhooks',
        description:
          'Deliveries are POSTed as JSON `{id, type, timestamp, data}` and signed as Standard Webhooks lays ' +
          'out: headers `Webhook-Id`, `Webhook-Timestamp` (unix seconds) and `Webhook-Signature` = ' +
          '`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the decoded secret. ' +
          'Failures (non-2xx, timeouts) are retried with exponential backoff and jitter, then dead-lettered. ' +
          'The `secret` is in this reply only. A firm key receives only its own firm’s events. ' +
          'The URL must be https (http only where the operator allows it), and its host must not be a ' +
          'loopback, private, link-local or other special-purpose address unless the operator allows it ' +
          '(WEBHOOK_ALLOW_HOSTS); a host name is checked against what it resolves to at every delivery. ' +
          'Redirects are not followed.',
        tags,
        security: bearerSecurity,
        body: CreateWebhookBodySchema,
        response: {
          201: jsonResponse('the subscription, with its signing secret (shown once)', CreatedSchema),
          400: invalid,
          401: unauthorized,
          403: problemResponse('a firm key asked for another firm’s events'),
        },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const body = request.body;
      const ownFirm = visibleFirm(principal);
      if (ownFirm !== undefined && body.firms) {
        const foreign = body.firms.findIndex((f) => f !== ownFirm);
        if (foreign >= 0)
          throw new HttpProblem({
            status: 403,
            detail: `A firm key receives only its own firm's events (${ownFirm}).`,
            errors: [{ in: 'body', pointer: `/firms/${foreign}`, message: 'not the key’s firm' }],
          });
      }
      const refusal = webhooks.refusalOf(body.url);
      if (refusal)
        throw new HttpProblem({
          status: 400,
          type: PROBLEM_TYPES.validation,
          title: 'Invalid request',
          detail: `The webhook URL is not allowed: ${refusal.message}.`,
          errors: [{ in: 'body', pointer: '/url', message: refusal.message }],
        });
      const sub = webhooks.createSubscription({
        url: body.url,
        events: body.events,
        firms: body.firms,
        vehicles: body.vehicles,
        codes: body.codes,
        description: body.description,
        ownerKey: principal.keyId,
        ownerFirm: ownFirm,
      });
      replyCreated(request, reply, sub.id);
      return { ...toDto(sub), secret: sub.secret };
    },
  );

  app.get(
    '/webhooks',
    {
      config: { scope: 'webhooks:read' },
      schema: {
        summary: 'Webhook subscriptions',
        description:
          'A firm key sees its own subscriptions; admin and monitor keys see all. Secrets are never listed. ' +
          'With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        querystring: SubscriptionsQuery,
        response: {
          200: jsonResponse(
            'subscriptions, oldest first',
            z.object({ items: z.array(WebhookSubscriptionSchema), nextCursor: nextCursorField }),
          ),
          400: invalid,
          401: unauthorized,
        },
      },
    },
    async (request) => {
      const page = paginate(store.subscriptions(listedOwner(request.principal)), byCreation, request.query);
      return {
        items: page.items.map(toDto),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },
  );

  app.get(
    '/webhooks/dead-letters',
    {
      config: { scope: 'webhooks:read' },
      schema: {
        summary: 'Dead letters',
        description:
          'Deliveries whose every attempt failed, newest first, with their attempt logs; replay one with ' +
          '`POST /webhooks/{id}/deliveries/{deliveryId}/replay`. A firm key sees its own subscriptions’ only.',
        tags,
        security: bearerSecurity,
        querystring: DeadLettersQuery,
        response: {
          200: jsonResponse('one page of dead deliveries', DeliveryPageSchema),
          400: invalid,
          401: unauthorized,
        },
      },
    },
    async (request) => {
      const { limit: size, cursor } = request.query;
      const page = paged(() =>
        store.deadLetters({ limit: size, cursor, ownerKey: listedOwner(request.principal) }),
      );
      return { ...page, items: page.items.map(deliveryDto) };
    },
  );

  app.get(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks:read' },
      schema: {
        summary: 'One webhook subscription',
        tags,
        security: bearerSecurity,
        params: SubscriptionParams,
        response: {
          200: jsonResponse('the subscription (without its secret)', WebhookSubscriptionSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
    async (request) => toDto(subscriptionFor(request, request.params.id, 'read')),
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks:write', audit: { entity: 'webhook' } },
      schema: {
        summary: 'Unsubscribe',
        description: 'Deletes the subscription with its pending deliveries and its delivery log.',
        tags,
        security: bearerSecurity,
        params: SubscriptionParams,
        response: {
          200: jsonResponse('the subscription as it was, now deleted', WebhookSubscriptionSchema),
          400: invalid,
          401: unauthorized,
          403: problemResponse('a monitor key may not delete another key’s subscription'),
          404: unknown,
        },
      },
    },
    async (request) => {
      const sub = subscriptionFor(request, request.params.id, 'manage');
      store.deleteSubscription(sub.id);
      return toDto(sub);
    },
  );

  app.patch(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks:write', audit: { entity: 'webhook' } },
      schema: {
        summary: 'Enable or disable a subscription',
        description:
          'Its owner (or an admin) enables a subscription the platform disabled (the receiver answered 410 ' +
          'Gone) or paused (deliveries dead-lettered in a row), or disables it. Enabled again, its waiting ' +
          'deliveries are attempted and its run of dead letters starts from zero.',
        tags,
        security: bearerSecurity,
        params: SubscriptionParams,
        body: PatchWebhookBodySchema,
        response: {
          200: jsonResponse('the subscription', WebhookSubscriptionSchema),
          400: invalid,
          401: unauthorized,
          403: problemResponse('a monitor key may not change another key’s subscription'),
          404: unknown,
        },
      },
    },
    async (request) => {
      const sub = subscriptionFor(request, request.params.id, 'manage');
      webhooks.setEnabled(sub.id, request.body.enabled, request.principal.keyId);
      return toDto(subscriptionFor(request, sub.id, 'manage'));
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { scope: 'webhooks:read' },
      schema: {
        summary: 'Delivery log of a subscription',
        description: 'Its deliveries, newest first, each with every attempt (status code, duration, error).',
        tags,
        security: bearerSecurity,
        params: SubscriptionParams,
        querystring: DeliveriesQuery,
        response: {
          200: jsonResponse('one page of deliveries', DeliveryPageSchema),
          400: invalid,
          401: unauthorized,
          404: unknown,
        },
      },
    },
    async (request) => {
      const sub = subscriptionFor(request, request.params.id, 'read');
      const { status, limit: size, cursor } = request.query;
      const page = paged(() => store.deliveries(sub.id, { status, limit: size, cursor }));
      return { ...page, items: page.items.map(deliveryDto) };
    },
  );

  app.get(
    '/webhooks/:id/deliveries/:deliveryId',
    {
      config: { scope: 'webhooks:read' },
      schema: {
        summary: 'One delivery with its attempts',
        tags,
        security: bearerSecurity,
        params: DeliveryParams,
        response: {
          200: jsonResponse('the delivery', WebhookDeliverySchema),
          400: invalid,
          401: unauthorized,
          404: problemResponse('unknown subscription or delivery'),
        },
      },
    },
    async (request) => {
      const sub = subscriptionFor(request, request.params.id, 'read');
      return deliveryDto(deliveryOf(sub.id, request.params.deliveryId));
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/replay',
    {
      config: { scope: 'webhooks:write', audit: { entity: 'webhook', action: 'replay' } },
      schema: {
        summary: 'Replay a delivery',
        description:
          'Sends the event again to the subscription as a new delivery (same event id, a fresh attempt ' +
          'schedule), typically a dead letter once the receiver works again. Refused (409) while the ' +
          'delivery is still pending.',
        tags,
        security: bearerSecurity,
        params: DeliveryParams,
        response: {
          202: jsonResponse('the new delivery, attempted right away', WebhookDeliverySchema),
          400: invalid,
          401: unauthorized,
          403: problemResponse('a monitor key may not replay another key’s deliveries'),
          404: problemResponse('unknown subscription or delivery'),
          409: problemResponse('the delivery is still pending'),
        },
      },
    },
    async (request, reply) => {
      const sub = subscriptionFor(request, request.params.id, 'manage');
      const original = deliveryOf(sub.id, request.params.deliveryId);
      if (original.status === 'pending')
        throw new HttpProblem({
          status: 409,
          type: WEBHOOK_PROBLEM_TYPES.deliveryPending,
          title: 'Delivery still pending',
          detail: `the delivery ${JSON.stringify(original.id)} is still being attempted (attempt ${original.attempts + 1} next)`,
        });
      const replay = webhooks.replay(original.id);
      if (!replay) throw unknownSubscription(sub.id);
      reply
        .code(202)
        .header('location', `${request.url.split('/deliveries/', 1)[0]}/deliveries/${replay.id}`);
      return deliveryDto(replay);
    },
  );

  function deliveryOf(subId: string, deliveryId: string): DeliveryWithLog {
    const delivery = store.delivery(deliveryId);
    if (!delivery || delivery.subscription !== subId)
      throw new HttpProblem({
        status: 404,
        type: WEBHOOK_PROBLEM_TYPES.unknownDelivery,
        title: 'Unknown webhook delivery',
        detail: `no delivery ${JSON.stringify(deliveryId)} of subscription ${JSON.stringify(subId)}`,
      });
    return delivery;
  }
};
