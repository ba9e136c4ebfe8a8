import { type Subscription, WebhookCursorError } from '../../delivery/webhooks/records.ts';
import type { Principal } from '../principal.ts';
import { visibleFirm } from '../principal.ts';
import { HttpProblem, PROBLEM_TYPES } from '../problem.ts';

/** Who may do what with a webhook subscription (the rules in api/webhooks/routes.ts), and the answers. */

export const WEBHOOK_PROBLEM_TYPES = {
  unknownSubscription: 'urn:citywatch:problem:unknown-webhook',
  unknownDelivery: 'urn:citywatch:problem:unknown-webhook-delivery',
  deliveryPending: 'urn:citywatch:problem:webhook-delivery-pending',
} as const;

export type Access = 'manage' | 'read' | 'none';

export function accessTo(principal: Principal, sub: Subscription): Access {
  if (sub.ownerKey === principal.keyId) return 'manage';
  if (principal.role === 'admin') return 'manage';
  if (principal.role === 'monitor') return 'read';
  return 'none';
}

/** Only a firm key is confined to its own subscriptions; admin and monitor list them all. */
export const listedOwner = (principal: Principal): string | undefined =>
  visibleFirm(principal) === undefined ? undefined : principal.keyId;

export function unknownSubscription(subId: string): HttpProblem {
  return new HttpProblem({
    status: 404,
    type: WEBHOOK_PROBLEM_TYPES.unknownSubscription,
    title: 'Unknown webhook subscription',
    detail: `no webhook subscription ${JSON.stringify(subId)}`,
  });
}

export function paged<T>(read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (cause instanceof WebhookCursorError)
      throw new HttpProblem({
        status: 400,
        type: PROBLEM_TYPES.validation,
        title: 'Invalid request',
        detail: cause.message,
        errors: [{ in: 'querystring', pointer: '/cursor', message: cause.message }],
      });
    throw cause;
  }
}
