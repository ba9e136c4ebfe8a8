import type { WebhookEvent } from './events.ts';
import { matches } from './match.ts';
import type { Subscription } from './records.ts';
import type { WebhookStore } from './store.ts';

/**
 * The way in of the webhooks (delivery/webhooks/dispatcher.ts): an event is matched to the
 * subscriptions it goes to and buffered, in memory only, so that the bus listener never waits on the
 * disk; the buffer is written to the store in one transaction on the next turn of the event loop. A
 * write that fails keeps the buffer and is tried again in 1 s; beyond MAX_BUFFERED events a new one is
 * dropped (logged).
 */

/** Matched events held in memory while the store cannot be written; beyond this they are dropped (logged). */
const MAX_BUFFERED = 100_000;

export interface DeliveryIntakeOptions {
  store: WebhookStore;
  logger: { error(obj: object, msg: string): void };
  /** false for a subscription owner (API key) that may get no new deliveries */
  ownerActive: (keyId: string) => boolean;
  now: () => number;
  /** after a batch is stored: its deliveries are due */
  stored: () => void;
}

export class DeliveryIntake {
  private buffer: Array<{ event: WebhookEvent; subscriptions: Subscription[] }> = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly opts: DeliveryIntakeOptions) {}

  /** matched events not yet in the store */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Queues an event for every subscription it matches; written to the store on the next tick. */
  publish(event: WebhookEvent): void {
    if (this.closed) return;
    const subscriptions = this.opts.store
      .allSubscriptions()
      .filter((s) => s.state === 'active' && matches(s, event) && this.opts.ownerActive(s.ownerKey));
    if (subscriptions.length === 0) return;
    if (this.buffer.length >= MAX_BUFFERED) {
      this.opts.logger.error({ event: event.id, type: event.type }, 'webhooks: buffer full, event dropped');
      return;
    }
    this.buffer.push({ event, subscriptions });
    this.scheduleFlush(0);
  }

  /** Writes what is buffered (a last try) and takes no more events. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs).unref();
  }

  /** Writes the buffer in one transaction; on failure it stays buffered and is tried again in 1 s. */
  private flush(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    const { store } = this.opts;
    try {
      // A subscription deleted since the match must not get a delivery (and would fail the foreign key).
      const live = new Set(store.allSubscriptions().map((s) => s.id));
      const kept = batch
        .map((b) => ({ event: b.event, subscriptions: b.subscriptions.filter((s) => live.has(s.id)) }))
        .filter((b) => b.subscriptions.length > 0);
      store.enqueue(kept, this.opts.now());
      this.buffer = [];
    } catch (err) {
      this.opts.logger.error(
        { err: (err as Error).message, buffered: batch.length },
        'webhooks: could not store deliveries; kept in memory and retried',
      );
      if (!this.closed) this.scheduleFlush(1000);
      return;
    }
    this.opts.stored();
  }
}
