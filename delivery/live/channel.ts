import { type EventFilter, type EventMeta, matches } from './filter.ts';
import { EventRing } from './ring.ts';

/**
 * One live stream (positions, or violations): its replay ring and its subscribers.
 *
 * A subscriber is not a queue but a position in the ring (`next`, the id it needs next). Publishing
 * appends to the ring and lets every subscriber write what it has room for; a subscriber whose socket
 * is full simply stops until 'drain'. So:
 *  - publishing never waits for a client and never copies an event per client (frames are shared);
 *  - a slow client costs at most its sink's buffer (plus the ring, which exists anyway);
 *  - resuming after a disconnect and catching up after backpressure are the same code path, so a
 *    client gets every matching event exactly once, in order, or is told that it cannot.
 * A client that stays blocked while more than `maxLag` events pass it (or while its next event leaves
 * the ring) is dropped with an explicit `dropped` event, and may reconnect with Last-Event-ID.
 */

/** The writable end of a client connection (a stream piped into the HTTP response). */
export interface Sink {
  write(chunk: string): boolean;
  end(chunk?: string): void;
  destroy(): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  readonly destroyed: boolean;
}

export interface ChannelOptions {
  capacity: number;
  retentionMs: number;
  idBase: number;
  /** events a blocked client may fall behind before it is dropped */
  maxLag: number;
  /** how long a dropped client gets to read its last event before its connection is destroyed */
  dropGraceMs?: number;
  now?: () => number;
}

export interface SubscribeOptions {
  filter: EventFilter;
  sink: Sink;
  /** the Last-Event-ID the client sent, verbatim */
  lastEventId?: string | undefined;
}

export interface Subscription {
  close(): void;
}

/** SSE lines are split on CR and LF: data must not contain them (JSON.stringify never emits them raw). */
export function sseFrame(id: number, event: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;
}

/** An event without an id: a client's Last-Event-ID stays at the last real event. */
function controlFrame(event: string, data: object): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Writes are batched up to this many characters, so a catch-up is not thousands of tiny writes. */
const CHUNK_CHARS = 64 * 1024;

class Subscriber {
  waiting = false;
  closed = false;
  constructor(
    readonly filter: EventFilter,
    readonly sink: Sink,
    public next: number,
  ) {}
}

export class LiveChannel {
  private readonly ring: EventRing<EventMeta>;
  private readonly subscribers = new Set<Subscriber>();
  private readonly now: () => number;
  private droppedTotal = 0;

  constructor(
    readonly name: string,
    /** the SSE `event:` name of this channel's events */
    readonly eventName: string,
    private readonly opts: ChannelOptions,
  ) {
    this.ring = new EventRing({
      capacity: opts.capacity,
      retentionMs: opts.retentionMs,
      idBase: opts.idBase,
    });
    this.now = opts.now ?? Date.now;
  }

  /** Appends events (`data` is the JSON payload) and lets every subscriber catch up. */
  publish(events: Iterable<{ meta: EventMeta; data: string }>): void {
    const at = this.now();
    let any = false;
    for (const e of events) {
      this.ring.append(e.meta, (id) => sseFrame(id, this.eventName, e.data), at);
      any = true;
    }
    if (!any) return;
    for (const sub of this.subscribers) {
      if (sub.waiting) this.checkLag(sub);
      else this.pump(sub);
    }
  }

  subscribe(options: SubscribeOptions): Subscription {
    const { sink, filter } = options;
    this.ring.evict(this.now());
    let next = this.ring.lastId + 1;
    if (options.lastEventId !== undefined) {
      const last = /^\d{1,16}$/.test(options.lastEventId) ? Number(options.lastEventId) : Number.NaN;
      if (this.ring.canResumeAfter(last)) {
        next = last + 1;
      } else {
        // Events after the client's id are gone (evicted, or issued before a restart): say so, then
        // replay what is still retained so the loss is as small as it can be.
        sink.write(
          controlFrame('reset', {
            reason: Number.isNaN(last) ? 'unknown-event-id' : 'events-lost',
            detail:
              'Events after the given Last-Event-ID are no longer retained; reload the current state ' +
              '(GET /api/v1/positions or /api/v1/violations). Every event still retained follows.',
            lastEventId: options.lastEventId.slice(0, 32),
            oldestRetainedId: this.ring.firstId,
          }),
        );
        next = this.ring.firstId;
      }
    }
    const sub = new Subscriber(filter, sink, next);
    this.subscribers.add(sub);
    sink.once('close', () => this.remove(sub));
    // The replay and the registration happen in the same tick: no event can slip between them.
    this.pump(sub);
    return { close: () => this.close(sub) };
  }

  /** A comment line to every client that is not blocked: keeps proxies from closing idle streams. */
  heartbeat(): void {
    for (const sub of this.subscribers) if (!sub.waiting && !sub.closed) sub.sink.write(': heartbeat\n\n');
  }

  /** Ends every client's stream (server shutdown). */
  closeAll(): void {
    for (const sub of [...this.subscribers]) this.close(sub);
  }

  stats(): { subscribers: number; retained: number; firstId: number; lastId: number; dropped: number } {
    return {
      subscribers: this.subscribers.size,
      retained: this.ring.size,
      firstId: this.ring.firstId,
      lastId: this.ring.lastId,
      dropped: this.droppedTotal,
    };
  }

  private pump(sub: Subscriber): void {
    if (sub.closed || sub.waiting) return;
    let chunk = '';
    let room = true;
    while (room && sub.next <= this.ring.lastId) {
      if (sub.next < this.ring.firstId) {
        this.drop(sub, chunk, 'its next event left the retention window');
        return;
      }
      const entry = this.ring.get(sub.next)!;
      sub.next++;
      if (!matches(sub.filter, entry.meta)) continue;
      chunk += entry.frame;
      if (chunk.length >= CHUNK_CHARS) {
        room = sub.sink.write(chunk);
        chunk = '';
      }
    }
    if (chunk.length > 0) room = sub.sink.write(chunk);
    if (!room) {
      sub.waiting = true;
      sub.sink.once('drain', () => {
        sub.waiting = false;
        this.pump(sub);
      });
    }
  }

  /** A blocked client: drop it once it has fallen too far behind. */
  private checkLag(sub: Subscriber): void {
    const behind = this.ring.lastId - sub.next + 1;
    if (sub.next < this.ring.firstId) this.drop(sub, '', 'its next event left the retention window');
    else if (behind > this.opts.maxLag)
      this.drop(sub, '', `it fell more than ${this.opts.maxLag} events behind`);
  }

  private drop(sub: Subscriber, pending: string, why: string): void {
    if (sub.closed) return;
    this.droppedTotal++;
    sub.closed = true;
    this.subscribers.delete(sub);
    // Ended, not destroyed: the client still reads what was written and learns why. A client that reads
    // nothing any more is cut after a grace period, so its buffer is freed either way.
    sub.sink.end(
      pending +
        controlFrame('dropped', {
          reason: 'slow-consumer',
          detail: `The client did not read fast enough: ${why}. Reconnect with Last-Event-ID to resume.`,
          // every matching event up to this id was written before this one: resume with it
          lastEventId: sub.next - 1,
        }),
    );
    const grace = setTimeout(() => {
      if (!sub.sink.destroyed) sub.sink.destroy();
    }, this.opts.dropGraceMs ?? 30_000);
    grace.unref();
    sub.sink.once('close', () => clearTimeout(grace));
  }

  private close(sub: Subscriber): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subscribers.delete(sub);
    if (!sub.sink.destroyed) sub.sink.end();
  }

  private remove(sub: Subscriber): void {
    sub.closed = true;
    this.subscribers.delete(sub);
  }
}
