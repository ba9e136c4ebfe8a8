import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';

/** Topic of a violation alert. */
export function alertTopic(firm: string, vehicle: string): string {
  const safe = (s: string) => s.replace(/[+#/]/g, '_') || '_';
  return `alerts/${safe(firm)}/${safe(vehicle)}`;
}

export interface LiveAlertsOptions {
  /** the in-process live bus: events 'violation' (ViolationEvent) and 'trip' (TripEvent) */
  bus: EventEmitter;
  /** QoS 1 publish of alerts; rejections are logged */
  publish: (topic: string, payload: string) => Promise<void>;
  logger: Logger;
  /** called for every violation opened (the metrics' count by code and kind) */
  opened?: (event: ViolationEvent) => void;
}

/**
 * The best-effort deliveries of a committed event (compliance/service.ts calls it after the commit that
 * produced the event): every violation event as JSON on MQTT `alerts/{firm}/{vehicle}` (QoS 1) and on
 * the live bus, every trip event on the live bus. The durable paths are the outbox and the webhooks.
 */
export class LiveAlerts {
  /** alert publishes failed since the last warning about them, and when that was (wall clock) */
  private failures = 0;
  private failureLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: LiveAlertsOptions) {}

  violation(event: ViolationEvent): void {
    const v = event.violation;
    if (event.phase === 'opened') this.opts.opened?.(event);
    this.opts
      .publish(alertTopic(v.firm, v.vehicle), JSON.stringify(event))
      .catch((err: Error) => this.failed(err, v.id));
    this.emit('violation', event);
  }

  trip(event: TripEvent): void {
    this.emit('trip', event);
  }

  private emit(name: 'violation' | 'trip', event: ViolationEvent | TripEvent): void {
    try {
      this.opts.bus.emit(name, event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
  }

  /**
   * MQTT alerts are best effort (webhooks and the event store are the durable paths). When the broker
   * is gone (shutting down, overloaded) every violation would fail alike: one warning per 10 s, with
   * how many failed since the last, instead of a line per violation.
   */
  private failed(err: Error, violation: string): void {
    this.failures++;
    const now = Date.now();
    if (now - this.failureLoggedAt < 10_000) return;
    this.opts.logger.warn(
      { err: err.message, violation, failedSinceLastWarning: this.failures },
      'compliance: alert publish failed',
    );
    this.failures = 0;
    this.failureLoggedAt = now;
  }
}
