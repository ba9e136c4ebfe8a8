/**
 * The replay window of one live stream: the most recent events, each with an id one greater than the
 * previous, kept for `retentionMs` and at most `capacity` of them (whichever evicts first). Pure: time is
 * passed in, nothing is read from a clock, so the eviction rules are testable without waiting.
 *
 * Ids are contiguous, so an id maps to a slot by arithmetic: lookup is O(1) and a client's position in
 * the stream is just the next id it needs.
 */
export interface RingEntry<M> {
  id: number;
  /** when it was appended, epoch ms (retention is measured from here) */
  at: number;
  meta: M;
  /** the event as sent on the wire, rendered once for every subscriber */
  frame: string;
}

export interface EventRingOptions {
  capacity: number;
  retentionMs: number;
  /** the id before the first one this ring issues (see LiveHub for why it is not 0) */
  idBase: number;
}

export class EventRing<M> {
  private readonly slots: (RingEntry<M> | undefined)[];
  private first: number;
  private next: number;

  constructor(private readonly opts: EventRingOptions) {
    if (!Number.isSafeInteger(opts.capacity) || opts.capacity < 1)
      throw new Error('ring capacity must be >= 1');
    this.slots = new Array(opts.capacity);
    this.first = opts.idBase + 1;
    this.next = opts.idBase + 1;
  }

  /** id of the oldest retained event; `lastId + 1` when none is retained */
  get firstId(): number {
    return this.first;
  }

  /** id of the newest event issued (retained or not); the id base before the first event */
  get lastId(): number {
    return this.next - 1;
  }

  get size(): number {
    return this.next - this.first;
  }

  append(meta: M, render: (id: number) => string, at: number): RingEntry<M> {
    this.evict(at);
    if (this.size === this.opts.capacity) this.dropOldest();
    const id = this.next++;
    const entry: RingEntry<M> = { id, at, meta, frame: render(id) };
    this.slots[id % this.opts.capacity] = entry;
    return entry;
  }

  /** the retained event with this id */
  get(id: number): RingEntry<M> | undefined {
    if (id < this.first || id >= this.next) return undefined;
    return this.slots[id % this.opts.capacity];
  }

  /** Drops the events older than the retention window at `now`. */
  evict(now: number): void {
    const oldest = now - this.opts.retentionMs;
    while (this.first < this.next) {
      const entry = this.slots[this.first % this.opts.capacity];
      if (entry !== undefined && entry.at >= oldest) break;
      this.dropOldest();
    }
  }

  /**
   * true when a client that has seen every event up to `lastEventId` can be given all the later ones:
   * nothing after it has been evicted, and it is not an id this ring never issued (a stale id from
   * before a restart, or garbage).
   */
  canResumeAfter(lastEventId: number): boolean {
    return lastEventId >= this.first - 1 && lastEventId <= this.lastId;
  }

  private dropOldest(): void {
    this.slots[this.first % this.opts.capacity] = undefined;
    this.first++;
  }
}
