import type { Counter, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { TripEvent } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import {
  checkUrl,
  type OutboundPolicy,
  type OutboundRefusedError,
  STRICT_POLICY,
} from '../../outbound/guarded-request.ts';
import { tripWebhookEvent, violationWebhookEvent, type WebhookEvent } from './events.ts';
import { DeliveryIntake } from './intake.ts';
import { attemptResult, webhookMetrics } from './metrics.ts';
import { ABANDONED, postDelivery, SHUTDOWN } from './post.ts';
import type {
  DeliveryWithLog,
  DueDelivery,
  NewSubscription,
  StateChange,
  SubscriptionState,
} from './records.ts';
import { DEFAULT_RETRY_POLICY, nextStep, type RetryPolicy } from './schedule.ts';
import type { WebhookStore } from './store.ts';

/**
 * The I/O half of the webhooks: takes the compliance engine's events off the live bus, matches them to
 * subscriptions, makes each delivery durable in the store before any attempt, and POSTs them with fetch.
 *
 * Nothing here may hold up the pipeline: the bus listener only matches in memory and buffers; the
 * buffer is written in one transaction on the next turn of the event loop (delivery/webhooks/intake.ts).
 * A slow or dead receiver cannot hold up the others either: each attempt has a timeout, each target
 * (URL origin) has a few slots, and the due-query skips the targets whose slots are all taken, so their
 * backlog never sits in front of anyone else's.
 *
 * Every attempt goes through the outbound guard (outbound/guarded-request.ts): https only unless http is
 * allowed, never to a loopback, private, link-local or other special-purpose address unless the
 * operator's allowlist covers it, connected to the very address that was checked, redirects not
 * followed. A refused attempt is final (the delivery is dead-lettered at once with the reason in its log:
 * retrying cannot change a policy), and counted in citywatch_webhook_refused_total{reason}.
 *
 * Delivery hygiene: a receiver answering 410 Gone disables its subscription; `pauseAfterDead` dead
 * letters in a row pause it. Neither gets new deliveries until its owner enables it again.
 */

export interface WebhookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  logger: WebhookLogger;
  retry?: Partial<RetryPolicy>;
  /** per attempt, until the response headers (default 10 s; Standard Webhooks suggests 15-30 s at most) */
  timeoutMs?: number;
  /** attempts in flight per target origin (default 4) */
  perTargetConcurrency?: number;
  /** attempts in flight in all (default 64) */
  maxInFlight?: number;
  /** delivered deliveries are forgotten after this many days (default 30); dead letters stay */
  retentionDays?: number;
  /**
   * false for an API key that is disabled or revoked: its subscriptions get no new deliveries (they
   * resume if the key is enabled again). Unset: every owner counts as active.
   */
  ownerActive?: (keyId: string) => boolean;
  /** where deliveries may go (default: https to public addresses only) */
  outbound?: OutboundPolicy;
  /** pause a subscription after this many dead-lettered deliveries in a row (default 5; 0: never) */
  pauseAfterDead?: number;
  /** for the citywatch_webhook_* metrics (attempts, deliveries, dead letters, refusals, stops) */
  metrics?: MetricsRegistry;
  /** told when the platform disables (410) or pauses a subscription, e.g. for the audit log */
  onStateChange?: (change: StateChange & { at: number }) => void;
  now?: () => number;
  random?: () => number;
}

export interface WebhookStatus {
  pending: number;
  dead: number;
  inFlight: number;
  /** matched events not yet in the store */
  buffered: number;
}

/** Lease beyond the timeout: an attempt still in flight is never picked again. */
const LEASE_GRACE_MS = 5_000;
/** Longest sleep of the scheduler: a safety net, every change wakes it anyway. */
const MAX_SLEEP_MS = 30_000;
const PRUNE_EVERY_MS = 3_600_000;

export class WebhookDispatcher {
  readonly store: WebhookStore;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly perTargetLimit: number;
  private readonly maxInFlight: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: WebhookLogger;
  /**
   * See WebhookDispatcherOptions.ownerActive. Settable because the key store may be opened after the
   * dispatcher, which has to be on the bus before the compliance service starts.
   */
  ownerActive: (keyId: string) => boolean;
  readonly outbound: OutboundPolicy;
  private readonly pauseAfterDead: number;
  private readonly refused: Counter<'reason'> | undefined;
  private readonly stops: Counter<'state'> | undefined;
  private readonly attemptSeconds: Histogram<'result'> | undefined;
  private readonly finished: Counter<'outcome'> | undefined;
  onStateChange: ((change: StateChange & { at: number }) => void) | undefined;
  /** matched events, buffered and written to the store */
  private readonly intake: DeliveryIntake;
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly perTarget = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private started = false;
  private stopped = false;

  constructor(options: WebhookDispatcherOptions) {
    this.store = options.store;
    this.log = options.logger;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.perTargetLimit = options.perTargetConcurrency ?? 4;
    this.maxInFlight = options.maxInFlight ?? 64;
    this.retentionMs = (options.retentionDays ?? 30) * 86_400_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.ownerActive = options.ownerActive ?? (() => true);
    this.outbound = options.outbound ?? STRICT_POLICY;
    this.pauseAfterDead = options.pauseAfterDead ?? 5;
    this.onStateChange = options.onStateChange;
    this.intake = new DeliveryIntake({
      store: this.store,
      logger: this.log,
      ownerActive: (keyId) => this.ownerActive(keyId),
      now: () => this.now(),
      stored: () => this.schedulePump(),
    });
    if (options.metrics) {
      const m = webhookMetrics(options.metrics, () => (this.stopped ? undefined : this.store.counts()));
      this.refused = m.refused;
      this.stops = m.stops;
      this.attemptSeconds = m.attemptSeconds;
      this.finished = m.finished;
    }
  }

  /** Why a URL can never be delivered to under the policy (scheme, IP-literal or localhost host), if so. */
  refusalOf(url: string): OutboundRefusedError | undefined {
    return checkUrl(this.outbound, new URL(url));
  }

  /** Bus listener for ComplianceService 'violation'. */
  readonly onViolation = (event: ViolationEvent): void => {
    this.publishSafely(() => violationWebhookEvent(event, this.now()));
  };

  /** Bus listener for ComplianceService 'trip'. */
  readonly onTrip = (event: TripEvent): void => {
    this.publishSafely(() => tripWebhookEvent(event, this.now()));
  };

  private publishSafely(build: () => WebhookEvent): void {
    try {
      this.publish(build());
    } catch (err) {
      // A listener that throws would reach the compliance service; log here instead.
      this.log.error({ err: (err as Error).message }, 'webhooks: could not queue an event');
    }
  }

  /** Queues an event for every subscription it matches; written to the store on the next tick. */
  publish(event: WebhookEvent): void {
    if (!this.stopped) this.intake.publish(event);
  }

  createSubscription(input: NewSubscription) {
    return this.store.createSubscription(input, this.now());
  }

  /**
   * The owner enables (its waiting deliveries resume, the run of dead letters starts again) or disables
   * a subscription. False when it does not exist.
   */
  setEnabled(id: string, enabled: boolean, by: string): boolean {
    const state: SubscriptionState = enabled ? 'active' : 'disabled';
    const changed = this.store.setState(id, state, enabled ? undefined : `disabled by ${by}`, this.now());
    if (changed && enabled) this.schedulePump();
    return changed;
  }

  /** A new delivery of the same event (see WebhookStore.replay), attempted right away. */
  replay(deliveryId: string): DeliveryWithLog | undefined {
    const delivery = this.store.replay(deliveryId, this.now());
    if (delivery) this.schedulePump();
    return delivery;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    // Deliveries left pending by the previous run (and leases of attempts it abandoned) resume here.
    this.pump();
  }

  private prune(): void {
    try {
      const n = this.store.prune(this.now() - this.retentionMs);
      if (n > 0) this.log.info({ deliveries: n }, 'webhooks: pruned old delivered deliveries');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'webhooks: prune failed');
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.started || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private saturatedTargets(): string[] {
    return [...this.perTarget].filter(([, n]) => n >= this.perTargetLimit).map(([t]) => t);
  }

  /** Starts every due attempt there is a slot for, then sleeps until the next one is due. */
  private pump(): void {
    if (!this.started || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const now = this.now();
      for (;;) {
        const free = this.maxInFlight - this.inFlight.size;
        if (free <= 0) return; // a completion pumps again
        const due = this.store.due(now, free, this.saturatedTargets());
        let taken = 0;
        for (const d of due) {
          if ((this.perTarget.get(d.target) ?? 0) >= this.perTargetLimit) continue;
          this.launch(d, now);
          taken++;
        }
        // Fewer rows than slots: nothing else is due outside the saturated targets.
        if (taken === 0 || due.length < free) break;
      }
      const next = this.store.nextDueAt(this.saturatedTargets());
      const delay = next === undefined ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(5, next - now));
      this.timer = setTimeout(() => this.pump(), delay);
      this.timer.unref();
    } catch (err) {
      if (this.stopped) return;
      this.log.error({ err: (err as Error).message }, 'webhooks: scheduling failed; retrying in 1 s');
      this.timer = setTimeout(() => this.pump(), 1000);
      this.timer.unref();
    }
  }

  private launch(d: DueDelivery, now: number): void {
    this.store.lease(d.id, now + this.timeoutMs + LEASE_GRACE_MS);
    this.perTarget.set(d.target, (this.perTarget.get(d.target) ?? 0) + 1);
    const controller = new AbortController();
    const done = this.attempt(d, controller)
      .catch((err: Error) => this.log.error({ err: err.message, delivery: d.id }, 'webhooks: attempt failed'))
      .finally(() => {
        this.inFlight.delete(d.id);
        const left = (this.perTarget.get(d.target) ?? 1) - 1;
        if (left > 0) this.perTarget.set(d.target, left);
        else this.perTarget.delete(d.target);
        this.schedulePump();
      });
    this.inFlight.set(d.id, { controller, done });
  }

  private async attempt(d: DueDelivery, controller: AbortController): Promise<void> {
    const n = d.attempts + 1;
    const at = this.now();
    const sent = await postDelivery(this.outbound, d, at, this.timeoutMs, controller);
    if (sent === ABANDONED || (this.stopped && controller.signal.reason === SHUTDOWN)) return;
    const { statusCode, error, retryAfterMs, refusal, elapsedMs } = sent;
    const durationMs = Math.round(elapsedMs * 10) / 10;
    this.attemptSeconds
      ?.labels(attemptResult(statusCode, sent.timedOut, refusal !== undefined))
      .observe(elapsedMs / 1000);
    const ok = statusCode !== undefined && statusCode >= 200 && statusCode < 300;
    const gone = statusCode === 410;
    // A refusal is policy and a 410 is the receiver's final word: neither is retried.
    const step = ok
      ? undefined
      : refusal || gone
        ? ({ kind: 'dead' } as const)
        : nextStep(n, this.policy, this.random(), retryAfterMs);
    const attempt = {
      n,
      at,
      durationMs,
      ...(statusCode === undefined ? {} : { statusCode }),
      ...(error === undefined ? {} : { error }),
    };
    if (refusal) {
      this.refused?.inc({ reason: refusal.reason });
      this.log.warn(
        { delivery: d.id, subscription: d.subscription, reason: refusal.reason, detail: refusal.message },
        'webhooks: outbound guard refused the target; dead-lettered',
      );
    }
    let change: StateChange | undefined;
    if (step === undefined) {
      this.store.recordAttempt(d.id, attempt, { status: 'delivered' });
      this.finished?.labels('delivered').inc();
    } else if (step.kind === 'dead') {
      change = this.store.recordAttempt(d.id, attempt, {
        status: 'dead',
        pauseAfterDead: this.pauseAfterDead,
        ...(gone ? { disableReason: `the receiver answered 410 Gone at ${new Date(at).toISOString()}` } : {}),
      });
      this.log.warn(
        { delivery: d.id, event: d.eventId, target: d.target, attempts: n, statusCode, error },
        'webhooks: delivery failed on every attempt; dead-lettered',
      );
      this.finished?.labels('dead').inc();
    } else this.store.recordAttempt(d.id, attempt, { status: 'pending', nextAt: this.now() + step.delayMs });
    if (change) this.stateChanged(change, at);
  }

  private stateChanged(change: StateChange, at: number): void {
    this.stops?.inc({ state: change.state });
    this.log.warn(
      { subscription: change.subscription, state: change.state, reason: change.reason },
      `webhooks: subscription ${change.state}; its owner can enable it again (PATCH /api/v1/webhooks/{id})`,
    );
    try {
      this.onStateChange?.({ ...change, at });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'webhooks: state change listener failed');
    }
  }

  status(): WebhookStatus {
    return { ...this.store.counts(), inFlight: this.inFlight.size, buffered: this.intake.buffered };
  }

  /**
   * Stops scheduling, writes what is buffered, abandons the attempts in flight (made due again, so the
   * next start sends them first) and closes the store.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.intake.close();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    const abandoned = [...this.inFlight.keys()];
    for (const { controller } of this.inFlight.values()) controller.abort(SHUTDOWN);
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.done));
    try {
      this.store.release(abandoned, this.now());
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'webhooks: could not release abandoned attempts');
    }
    if (this.intake.buffered > 0)
      this.log.warn({ buffered: this.intake.buffered }, 'webhooks: events not stored at shutdown');
    this.store.close();
  }
}
