import { type IncomingMessage, request } from 'node:http';

/**
 * A Server-Sent Events client over node:http for the tests, parsing the stream as the WHATWG HTML
 * specification's "event stream interpretation" does: lines end in CRLF, LF or CR; a blank line
 * dispatches the event; `:` starts a comment; `field: value` with one leading space stripped; data lines
 * are joined with LF; an event with no data is not dispatched. Comments are kept too (heartbeats).
 */

export interface SseEvent {
  /** the `id` field of this event, undefined when it had none (the stream's last id is unchanged) */
  id: string | undefined;
  /** `message` when the event had no `event` field */
  event: string;
  data: string;
}

export interface SseResponse {
  status: number;
  headers: IncomingMessage['headers'];
  /** the whole body when the status is not 200 */
  body: string;
}

/** How long a wait may take before the test fails instead of hanging (a guard, not an assertion). */
const GUARD_MS = 30_000;

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** the stream's last event id, as an EventSource would send it on reconnection */
  lastEventId: string | undefined;
  ended = false;
  private read = 0;
  private buffer = '';
  private pendingCr = false;
  private data: string[] = [];
  private eventType = '';
  private eventId: string | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly response: IncomingMessage,
    private readonly abort: () => void,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.feed(chunk));
    response.on('end', () => this.finish());
    response.on('close', () => this.finish());
    response.on('error', () => this.finish());
  }

  /** Connects; resolves with the client on 200, or with the plain response otherwise. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient | SseResponse> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          return;
        }
        resolve(new SseClient(res, () => req.destroy()));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Connects and fails unless the answer is a 200 event stream. */
  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const res = await SseClient.open(url, headers);
    if (!(res instanceof SseClient))
      throw new Error(`expected an event stream, got ${res.status}: ${res.body}`);
    return res;
  }

  /** The next event not yet taken (in order); waits for it. */
  async next(): Promise<SseEvent> {
    await this.until(() => this.read < this.events.length, 'the next event');
    return this.events[this.read++] as SseEvent;
  }

  /** The next n events not yet taken. */
  async take(n: number): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /** Waits until the server has ended the stream. */
  async closed(): Promise<void> {
    await this.until(() => this.ended, 'the end of the stream');
  }

  /** Waits until a condition on the received data holds. */
  async until(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`SSE: gave up waiting for ${what} (${this.events.length} events so far)`));
      }, GUARD_MS);
      const check = () => {
        if (!condition()) return;
        clearTimeout(guard);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
      if (this.ended) check();
    });
  }

  /** Stops reading from the socket (the server's writes back up). */
  pause(): void {
    this.response.pause();
  }

  resume(): void {
    this.response.resume();
  }

  /** Disconnects, as a browser tab being closed would. */
  close(): void {
    this.abort();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.notify();
  }

  private feed(chunk: string): void {
    let text = chunk;
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      if (m[0] === '\r' && m.index === this.buffer.length - 1) {
        this.pendingCr = true;
      }
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
    this.notify();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) {
        if (this.eventId !== undefined) this.lastEventId = this.eventId;
        this.events.push({
          id: this.eventId,
          event: this.eventType || 'message',
          data: this.data.join('\n'),
        });
      }
      this.data = [];
      this.eventType = '';
      this.eventId = undefined;
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventType = value;
    else if (field === 'id' && !value.includes('\u0000')) this.eventId = value;
  }
}
