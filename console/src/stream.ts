import { API, ApiError, request, withQuery } from './api.ts';

/**
 * One live stream (GET /api/v1/live/positions or /violations) through EventSource. EventSource cannot
 * send the key, so each connection opens with a fresh single-use stream ticket (POST /live/tickets,
 * with the key as a bearer header); the key never appears in a URL.
 *
 * A lost connection is reopened here rather than by EventSource's own retry (which would present the
 * spent ticket again): a new ticket, and `lastEventId` set to the last event received, so the platform
 * sends every event missed meanwhile exactly once (or `reset` when they are no longer retained). While
 * it is down the state is `reconnecting`, which the page shows.
 */

export type StreamName = 'positions' | 'violations';
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface StreamHandlers {
  /** one event's parsed data; `receivedAt` is performance.now() when the page got it */
  event(data: unknown, receivedAt: number): void;
  /** events were lost (the platform no longer retains them): reload the current state */
  reset(): void;
  state(state: StreamState): void;
}

const EVENT_NAMES: Record<StreamName, string> = { positions: 'position', violations: 'violation' };
const MAX_BACKOFF_MS = 15_000;

export class LiveStream {
  lastEventId: string | undefined;
  state: StreamState = 'stopped';
  /** connections opened so far (the first and every reconnection) */
  connections = 0;
  private source: EventSource | undefined;
  private backoffMs = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: StreamName,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    if (this.state !== 'stopped') return;
    this.setState('connecting');
    void this.connect();
  }

  stop(): void {
    this.setState('stopped');
    clearTimeout(this.timer);
    this.source?.close();
    this.source = undefined;
  }

  /** Drops the connection as a network failure would (used by the page's own tests of reconnection). */
  interrupt(): void {
    if (this.source === undefined) return;
    this.source.close();
    this.source = undefined;
    this.lost();
  }

  private setState(state: StreamState): void {
    if (this.state === state) return;
    this.state = state;
    this.handlers.state(state);
  }

  private async connect(): Promise<void> {
    let ticket: string;
    try {
      const res = await request('/live/tickets', { method: 'POST', body: { streams: [this.name] } });
      ticket = ((await res.json()) as { ticket: string }).ticket;
    } catch (err) {
      // A refused key ends the session (api.ts tells the app); anything else is retried.
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return this.stop();
      return this.retry();
    }
    if (this.state === 'stopped') return;
    const url = withQuery(`${API}/live/${this.name}`, { ticket, lastEventId: this.lastEventId });
    const source = new EventSource(url);
    this.source = source;
    this.connections++;
    const resumable = this.lastEventId !== undefined;
    source.onopen = () => {
      this.backoffMs = 1000;
      this.setState('live');
      // A reconnection with no event received before it has no id to resume from: what was published
      // meanwhile is not replayed, so the current state is loaded again instead.
      if (this.connections > 1 && !resumable) this.handlers.reset();
    };
    source.addEventListener(EVENT_NAMES[this.name], (e) => {
      const m = e as MessageEvent<string>;
      const receivedAt = performance.now();
      if (m.lastEventId) this.lastEventId = m.lastEventId;
      let data: unknown;
      try {
        data = JSON.parse(m.data);
      } catch {
        return;
      }
      this.handlers.event(data, receivedAt);
    });
    source.addEventListener('reset', () => this.handlers.reset());
    // `dropped` (this page read too slowly) is followed by the end of the stream: handled as a loss.
    source.onerror = () => {
      if (this.source !== source) return;
      source.close();
      this.source = undefined;
      this.lost();
    };
  }

  private lost(): void {
    if (this.state === 'stopped') return;
    this.setState('reconnecting');
    this.retry();
  }

  private retry(): void {
    if (this.state === 'stopped') return;
    if (this.state !== 'connecting') this.setState('reconnecting');
    clearTimeout(this.timer);
    const delay = this.backoffMs * (0.75 + Math.random() * 0.5);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
