/**
 * Groups the registry stream's events into the batches cluster/registry-sync.ts applies, each in one
 * SQLite transaction per registry file (one fsync each, synchronous=FULL, instead of one per event: a
 * node filling an empty DATA_DIR from thousands of events spent seconds to minutes in fsyncs).
 *  - Live (the node has read the stream to the end it had at start): a batch ends with the event after
 *    which the consumer holds no more delivered ones, so a change alone is applied at once, in the turn
 *    it arrived in, as before the batches, and a burst (a node joining with a seed) shares transactions.
 *  - Filling: a batch also waits up to `fillWaitMs` for more, up to `max` events.
 *  - `max` 1: every event on its own, at once (one transaction each, as before batching; the
 *    benchmark's baseline).
 * Nothing here touches the files: `flush` is handed the events, in stream order.
 */
export interface BatchOptions {
  /** the most events in one batch */
  max: number;
  /** while filling, how long a batch waits for more events (ms) */
  fillWaitMs: number;
}

export const DEFAULT_BATCH: BatchOptions = { max: 1_000, fillWaitMs: 20 };

export class EventBatches<T> {
  private items: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly opts: BatchOptions,
    /** true while the node fills (has not read the stream to its end yet) */
    private readonly filling: () => boolean,
    private readonly flush: (items: T[]) => void,
  ) {}

  /**
   * an event delivered by the consumer, in stream order; `more`: the consumer holds further events
   * delivered already (its iterator's pending count)
   */
  push(item: T, more: boolean): void {
    this.items.push(item);
    if (this.items.length >= this.opts.max) this.flushNow();
    else if (this.filling() && this.opts.fillWaitMs > 0) {
      this.timer ??= setTimeout(() => this.flushNow(), this.opts.fillWaitMs);
    } else if (!more) this.flushNow();
    // the rest comes in this turn; should it not, the batch is applied at the end of the turn
    else this.immediate ??= setImmediate(() => this.flushNow());
  }

  /** applies what is held now */
  flushNow(): void {
    this.cancel();
    const items = this.items;
    this.items = [];
    if (items.length > 0) this.flush(items);
  }

  /** drops what is held (not applied: the consumer reads it again) */
  discard(): void {
    this.cancel();
    this.items = [];
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
