import { performance } from 'node:perf_hooks';
import { guardedRequest, type OutboundPolicy, OutboundRefusedError } from '../../outbound/guarded-request.ts';
import type { DueDelivery } from './records.ts';
import { parseRetryAfter } from './schedule.ts';
import { signedHeaders } from './signature.ts';

/**
 * One delivery attempt on the wire (delivery/webhooks/dispatcher.ts decides what it means): the signed POST
 * through the outbound guard, bounded by a timeout, with what came back.
 */

/** The abort reason of an attempt abandoned at shutdown (stop() makes it due again). */
export const SHUTDOWN = Symbol('shutdown');
const TIMEOUT = Symbol('timeout');
/** postDelivery's answer for an attempt abandoned at shutdown: nothing to record. */
export const ABANDONED = Symbol('abandoned');

export interface PostResult {
  /** the receiver's answer, if any */
  statusCode?: number | undefined;
  /** no answer: why (or the guard's refusal) */
  error?: string | undefined;
  retryAfterMs?: number | undefined;
  /** the outbound guard refused the target: never sent */
  refusal?: OutboundRefusedError | undefined;
  timedOut: boolean;
  elapsedMs: number;
}

/** POSTs a delivery's body, signed at `at`; aborted by `controller` (SHUTDOWN) or after `timeoutMs`. */
export async function postDelivery(
  outbound: OutboundPolicy,
  d: DueDelivery,
  at: number,
  timeoutMs: number,
  controller: AbortController,
): Promise<PostResult | typeof ABANDONED> {
  const t0 = performance.now();
  const timer = setTimeout(() => controller.abort(TIMEOUT), timeoutMs);
  let statusCode: number | undefined;
  let error: string | undefined;
  let retryAfterMs: number | undefined;
  let refusal: OutboundRefusedError | undefined;
  try {
    const res = await guardedRequest(outbound, d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'citywatch-webhooks/1',
        ...signedHeaders(d.secret, d.eventId, Math.floor(at / 1000), d.body),
      },
      body: d.body,
      signal: controller.signal,
    });
    // Standard Webhooks, "Delivery success and failure": a 3xx is a failure; it is never followed.
    statusCode = res.status;
    const retryAfter = res.headers['retry-after'];
    retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, at);
  } catch (err) {
    if (controller.signal.reason === SHUTDOWN) return ABANDONED;
    if (err instanceof OutboundRefusedError) {
      refusal = err;
      error = `refused: ${err.message}`;
    } else
      error =
        controller.signal.reason === TIMEOUT
          ? `timeout after ${timeoutMs} ms`
          : describeRequestError(err as Error);
  } finally {
    clearTimeout(timer);
  }
  return {
    statusCode,
    error,
    retryAfterMs,
    refusal,
    timedOut: controller.signal.reason === TIMEOUT,
    elapsedMs: performance.now() - t0,
  };
}

/** The system error's code (ECONNREFUSED, ENOTFOUND, ...) or, failing that, its message. */
function describeRequestError(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}
