/**
 * Minimal HTTP for the InfluxDB adapter (Node's global fetch), with a timeout and error messages that
 * say what failed and why: "InfluxDB write failed: HTTP 404 database not found: \"x\"",
 * "InfluxDB query failed: http://127.0.0.1:8086 unreachable (ECONNREFUSED)".
 */

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
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code;
  if (code) return code;
  return e.cause?.message ?? e.message ?? String(err);
}

/**
 * fetch with a deadline. Resolves with status and body for any HTTP answer; rejects with InfluxError
 * `${what} failed: ...` when the server cannot be reached or does not answer in time.
 */
export async function httpRequest(
  what: string,
  url: URL,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpResult> {
  const where = url.origin;
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new InfluxError(`${what} failed: no answer from ${where} within ${init.timeoutMs} ms`);
    }
    throw new InfluxError(`${what} failed: ${where} unreachable (${networkReason(err)})`);
  }
}
