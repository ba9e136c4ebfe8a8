import { createHash } from 'node:crypto';
import { withInstants } from '../../core/instants.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';

/**
 * What a webhook carries: the compliance engine's violation and trip events as webhook events. Pure: the
 * only input besides the engine event is `nowMs`, used as the occurred-at of a violation update (the
 * engine gives an update no instant of its own).
 */

export const WEBHOOK_EVENT_TYPES = [
  'violation.opened',
  'violation.updated',
  'violation.closed',
  'violation.withdrawn',
  'trip.started',
  'trip.completed',
  'trip.withdrawn',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEvent {
  /** `evt_` + 32 hex digits, derived from type and payload (see eventId) */
  id: string;
  type: WebhookEventType;
  /** epoch ms the event happened (not when it is delivered) */
  occurredAt: number;
  /** the firm the event belongs to: the tenancy key */
  firm: string;
  vehicle: string;
  /** violation code; undefined for trip events */
  code?: string;
  /** the violation or trip, as the API serves it */
  data: unknown;
}

/**
 * Deterministic: the same engine event gets the same id, so a receiver that dedupes on `Webhook-Id`
 * (as Standard Webhooks recommends) also drops the duplicates a re-judged track would produce. Hex only:
 * the id is part of the signed content `{id}.{timestamp}.{body}` and must not contain a full stop.
 */
export function eventId(type: WebhookEventType, data: unknown): string {
  const digest = createHash('sha256').update(type).update('\n').update(JSON.stringify(data)).digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/**
 * `violation.withdrawn` (a re-judging with late fixes found it did not happen as raised: data.withdrawal
 * says why) occurred when it was withdrawn. Events of a re-judging carry `data.rejudged`, which also
 * enters the id: a violation withdrawn and opened again by later late fixes is a new event, not a
 * duplicate of its first opening.
 */
export function violationWebhookEvent(event: ViolationEvent, nowMs: number): WebhookEvent {
  const v = event.violation;
  const type = `violation.${event.phase}` as const;
  const occurredAt =
    event.phase === 'opened' ? v.startTs : event.phase === 'closed' ? (v.endTs ?? nowMs) : nowMs;
  // data as GET /violations serves it: with the ISO instants beside the epoch-ms ones.
  const data = event.rejudged ? { ...withInstants(v), rejudged: event.rejudged } : withInstants(v);
  const id = eventId(type, event.rejudged ? { ...v, rejudged: event.rejudged } : v);
  return { id, type, occurredAt, firm: v.firm, vehicle: v.vehicle, code: v.code, data };
}

export function tripWebhookEvent(event: TripEvent, nowMs?: number): WebhookEvent {
  const trip = event.trip;
  const type = `trip.${event.kind}` as const;
  const occurredAt =
    event.kind === 'completed' && 'endTs' in trip
      ? trip.endTs
      : event.kind === 'withdrawn'
        ? (nowMs ?? trip.startTs)
        : trip.startTs;
  const data = event.rejudged ? { ...withInstants(trip), rejudged: event.rejudged } : withInstants(trip);
  const id = eventId(type, event.rejudged ? { ...trip, rejudged: event.rejudged } : trip);
  return { id, type, occurredAt, firm: trip.firm, vehicle: trip.vehicle, data };
}

/**
 * The request body, serialized once and sent byte for byte to every subscriber (the signature covers
 * these bytes). Layout of the Standard Webhooks payload recommendation: `type`, `timestamp` (when the
 * event occurred, ISO-8601 UTC) and `data`, plus the event `id` (also sent as `Webhook-Id`).
 */
export function eventBody(event: WebhookEvent): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: event.data,
  });
}
