import type { WebhookEvent, WebhookEventType } from './events.ts';

/**
 * Which subscriptions an event goes to. Pure. Tenancy first: a subscription made with a firm key carries
 * that firm (`ownerFirm`, from `visibleFirm(principal)` at creation) and never matches another firm's
 * event, whatever its filters say. Then the filters, which combine with AND; an absent filter matches all.
 */

export interface SubscriptionFilter {
  events: readonly WebhookEventType[];
  /** set for subscriptions made with a firm key: only that firm's events */
  ownerFirm?: string | undefined;
  firms?: readonly string[] | undefined;
  vehicles?: readonly string[] | undefined;
  /** violation codes; trip events carry no code and are not filtered by it */
  codes?: readonly string[] | undefined;
}

export function matches(filter: SubscriptionFilter, event: WebhookEvent): boolean {
  if (filter.ownerFirm !== undefined && event.firm !== filter.ownerFirm) return false;
  if (!filter.events.includes(event.type)) return false;
  if (filter.firms && !filter.firms.includes(event.firm)) return false;
  if (filter.vehicles && !filter.vehicles.includes(event.vehicle)) return false;
  if (filter.codes && event.code !== undefined && !filter.codes.includes(event.code)) return false;
  return true;
}
