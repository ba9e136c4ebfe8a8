/**
 * HTTP for the InfluxDB adapters: one InfluxConnection per server holds a keep-alive pool of at most
 * `maxSockets` sockets (node:http Agent), so however many callers want the store at once (the pump, the
 * event outbox, evidence jobs, API track queries), the platform never holds more sockets to InfluxDB
 * than that; the others wait for a free socket inside their own deadline. Error messages say what
 * failed and why: "InfluxDB write failed: HTTP 404 database not found: \"x\"", "InfluxDB query failed:
 * http://127.0.0.1:8086 unreachable (ECONNREFUSED)".
 *
 * Global fetch was used before: its default dispatcher opens a new socket for every concurrent request,
 * without a limit, which is how an evidence storm held 8,192 sockets to influxd (issue 10).
 */
import http from 'node:http';
import https from 'node:https';
import { text } from 'node:stream/consumers';

export class InfluxError extends Error {
  override name = 'InfluxError';
  constructor(
    message: string,
    /** HTTP status when the server answered, undefined for network errors and timeouts */
    readonly status?: number,
  ) {
    super(message);
  }

  /** 400 (bad line, field type conflict): sending the same points again fails the same way */
  get permanent(): boolean {
    return this.status === 400;
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface HttpInit {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** the whole call: waiting for a free socket, connecting, sending, the answer */
  timeoutMs: number;
}

/** The server's own error text: 1.x `{"error": ...}`, 2.x `{"code", "message"}`, or the raw body. */
export function serverErrorText(body: string): string {
  const trimmed = body.trim();
  try {
    const json = JSON.parse(trimmed) as { error?: unknown; message?: unknown };
    if (typeof json.error === 'string') return json.error;
    if (typeof json.message === 'string') return json.message;
  } catch {
    // not JSON
  }
  return trimmed.length > 500 ? `${trimmed.slice(0, 500)}...` : trimmed;
}

function networkReason(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: { code?: string }[] };
  // an AggregateError (IPv4 and IPv6 both refused) carries the codes of its parts
  return e.code ?? e.errors?.[0]?.code ?? e.message ?? String(err);
}

/** sockets to one InfluxDB server by default (INFLUX_MAX_SOCKETS) */
export const DEFAULT_MAX_SOCKETS = 16;

/** idle keep-alive sockets are closed after this long */
const IDLE_SOCKET_MS = 15_000;

class DeadlineError extends Error {}

interface Waiter {
  grant(): void;
}

export class InfluxConnection {
  readonly maxSockets: number;
  /** for clients that bring their own HTTP code (@influxdata/influxdb-client's transportOptions) */
  readonly agent: http.Agent;
  private readonly secure: boolean;
  /** requests handed to the agent and not yet closed */
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(url: string, maxSockets = DEFAULT_MAX_SOCKETS) {
    if (!Number.isInteger(maxSockets) || maxSockets < 1)
      throw new InfluxError(`InfluxDB maxSockets must be an integer >= 1: ${maxSockets}`);
    this.maxSockets = maxSockets;
    this.secure = new URL(url).protocol === 'https:';
    const options: http.AgentOptions = {
      keepAlive: true,
      // the cap is per origin in node; one connection serves one server, so it is the total too
      maxSockets,
      maxTotalSockets: maxSockets,
      maxFreeSockets: maxSockets,
      // an idle socket is closed after this (node closes only free sockets on it)
      timeout: IDLE_SOCKET_MS,
      scheduling: 'fifo',
    };
    this.agent = this.secure ? new https.Agent(options) : new http.Agent(options);
  }

  /** sockets open now (in use and idle), never more than maxSockets */
  get openSockets(): number {
    let n = 0;
    for (const list of Object.values(this.agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  /** calls waiting for a free socket */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * One request with a deadline. Resolves with status and body for any HTTP answer; rejects with
   * InfluxError `${what} failed: ...` when the server cannot be reached or does not answer in time
   * (the time waiting for a socket counts: a caller never waits longer than timeoutMs).
   *
   * At most maxSockets requests are handed to the agent at once, the others wait here in FIFO order:
   * a request that gives up while waiting leaves the queue (queued in the agent, it would still get a
   * socket of its own, opened only to be closed), and a slot is released only once the request's socket
   * is back in the pool or closed for good (its descriptor gone), so the process never holds more than
   * maxSockets sockets to the server, not even for a moment.
   */
  request(what: string, url: URL, init: HttpInit): Promise<HttpResult> {
    const where = url.origin;
    const deadline = Date.now() + Math.max(1, init.timeoutMs);
    const late = () => new InfluxError(`${what} failed: no answer from ${where} within ${init.timeoutMs} ms`);
    return this.acquire(deadline).then(
      () => this.send(url, init, deadline, late, what, where),
      () => Promise.reject(late()),
    );
  }

  private send(
    url: URL,
    init: HttpInit,
    deadline: number,
    late: () => InfluxError,
    what: string,
    where: string,
  ): Promise<HttpResult> {
    const send = this.secure ? https.request : http.request;
    return new Promise<HttpResult>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...init.headers };
      const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
      if (body) headers['content-length'] = body.length;
      const req = send(url, { method: init.method, headers, agent: this.agent });
      // 'close' comes once the response is read (the socket back in the pool) or the socket destroyed
      req.once('close', () => this.release());
      let timedOut = false;
      const timer = setTimeout(
        () => {
          timedOut = true;
          req.destroy(new DeadlineError());
        },
        Math.max(1, deadline - Date.now()),
      );
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        reject(
          timedOut || err instanceof DeadlineError
            ? late()
            : new InfluxError(`${what} failed: ${where} unreachable (${networkReason(err)})`),
        );
      };
      req.once('error', fail);
      req.once('response', (res) => {
        text(res).then((answer) => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: answer });
        }, fail);
      });
      req.end(body);
    });
  }

  /** Resolves when a slot is free; rejects at the deadline (the waiter leaves the queue). */
  private acquire(deadline: number): Promise<void> {
    if (this.active < this.maxSockets && this.queue.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          this.active++;
          resolve();
        },
      };
      const timer = setTimeout(
        () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new DeadlineError());
        },
        Math.max(1, deadline - Date.now()),
      );
      this.queue.push(waiter);
    });
  }

  private release(): void {
    this.active--;
    this.queue.shift()?.grant();
  }

  /** closes the sockets (idle ones at once, busy ones as their requests end) */
  close(): void {
    this.agent.destroy();
  }
}
