import type { WebhookEventType } from './events.ts';
import type { SubscriptionFilter } from './match.ts';

/** The webhook store's records (delivery/webhooks/store.ts): subscriptions, deliveries, attempts, pages. */

/**
 * Whether a subscription gets deliveries: `active`; `disabled` by its owner or because the receiver
 * answered 410 Gone; `paused` after too many deliveries in a row were dead-lettered. Neither of the
 * last two gets new deliveries, and their pending ones wait until the owner enables it again.
 */
export type SubscriptionState = 'active' | 'disabled' | 'paused';

export interface NewSubscription {
  url: string;
  events: readonly WebhookEventType[];
  firms?: readonly string[] | undefined;
  vehicles?: readonly string[] | undefined;
  codes?: readonly string[] | undefined;
  description?: string | undefined;
  /** principal.keyId of the creator */
  ownerKey: string;
  /** visibleFirm(principal) of the creator: set for firm keys */
  ownerFirm?: string | undefined;
}

export interface Subscription extends SubscriptionFilter {
  id: string;
  url: string;
  description?: string | undefined;
  ownerKey: string;
  createdAt: number;
  state: SubscriptionState;
  /** why it is disabled or paused */
  stateReason?: string | undefined;
  stateChangedAt?: number | undefined;
  /** dead-lettered deliveries since the last delivered one */
  consecutiveDead: number;
}

/** With the signing secret: only the store, the dispatcher and the creation reply see it. */
export interface SubscriptionWithSecret extends Subscription {
  secret: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface Attempt {
  n: number;
  at: number;
  durationMs: number;
  statusCode?: number;
  error?: string;
}

export interface Delivery {
  id: string;
  subscription: string;
  event: { id: string; type: WebhookEventType; occurredAt: number };
  status: DeliveryStatus;
  attempts: number;
  /** pending: earliest next attempt */
  nextAt?: number;
  createdAt: number;
  /** delivered or dead: when */
  doneAt?: number;
  lastStatusCode?: number;
  lastError?: string;
  replayOf?: string;
  replayedBy?: string;
}

export interface DeliveryWithLog extends Delivery {
  log: Attempt[];
}

/** What the dispatcher needs to make one attempt. */
export interface DueDelivery {
  id: string;
  subscription: string;
  target: string;
  url: string;
  secret: string;
  eventId: string;
  body: string;
  attempts: number;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageQuery {
  limit?: number | undefined;
  /** nextCursor of the previous page */
  cursor?: string | undefined;
}

export class WebhookCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid cursor ${JSON.stringify(cursor.slice(0, 40))}`);
    this.name = 'WebhookCursorError';
  }
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  /** pending: when to try again */
  nextAt?: number;
  /** the receiver answered 410 Gone: the subscription is disabled with this reason */
  disableReason?: string;
  /** pause the subscription once this many deliveries in a row are dead (0 or unset: never) */
  pauseAfterDead?: number;
}

/** A subscription's state changed as the result of an attempt. */
export interface StateChange {
  subscription: string;
  state: SubscriptionState;
  reason: string;
}

/** The origin deliveries are throttled by: one slow host cannot take the slots of another. */
export function targetOf(url: string): string {
  return new URL(url).origin;
}
