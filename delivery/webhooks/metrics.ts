import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';

/** The citywatch_webhook_* metrics of the dispatcher (delivery/webhooks/dispatcher.ts). */

/**
 * What an attempt came to, for citywatch_webhook_attempt_seconds{result}: a 2xx (`ok`), the receiver's
 * other answers by class, or no answer (`timeout`, `network`: refused connection, reset, DNS), or the
 * outbound guard's refusal (`refused`, never sent).
 */
export const ATTEMPT_RESULTS = [
  'ok',
  'redirect',
  'client_error',
  'server_error',
  'timeout',
  'network',
  'refused',
] as const;
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

export function attemptResult(
  statusCode: number | undefined,
  timedOut: boolean,
  refused: boolean,
): AttemptResult {
  if (refused) return 'refused';
  if (statusCode === undefined) return timedOut ? 'timeout' : 'network';
  if (statusCode >= 200 && statusCode < 300) return 'ok';
  if (statusCode >= 300 && statusCode < 400) return 'redirect';
  return statusCode >= 500 ? 'server_error' : 'client_error';
}

export interface WebhookMetrics {
  refused: Counter<'reason'>;
  stops: Counter<'state'>;
  attemptSeconds: Histogram<'result'>;
  finished: Counter<'outcome'>;
}

/**
 * Registers the webhook metrics. `readCounts` gives the store's pending and dead deliveries at scrape
 * time (undefined once stopped; a throw leaves the gauges as they were).
 */
export function webhookMetrics(
  registry: MetricsRegistry,
  readCounts: () => { pending: number; dead: number } | undefined,
): WebhookMetrics {
  const refused = new Counter({
    name: 'citywatch_webhook_refused_total',
    help: 'webhook attempts refused by the outbound guard (scheme, loopback, private and other special-purpose addresses), by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const stops = new Counter({
    name: 'citywatch_webhook_subscription_stops_total',
    help: 'subscriptions the platform stopped: disabled (the receiver answered 410 Gone) or paused (dead letters in a row)',
    labelNames: ['state'],
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: 'citywatch_webhook_attempt_seconds',
    help: "webhook delivery attempts: time to the receiver's answer (or the timeout), by result (ok = 2xx; redirect, client_error, server_error; timeout; network; refused by the outbound guard)",
    labelNames: ['result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'citywatch_webhook_deliveries_total',
    help: 'webhook deliveries finished, by outcome: delivered (a 2xx) or dead (dead-lettered: attempts used up, 410 Gone, or refused)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const result of ATTEMPT_RESULTS) attemptSeconds.zero({ result });
  for (const outcome of ['delivered', 'dead']) finished.labels(outcome).inc(0);
  // Read from the store at scrape time: they survive restarts and include replays and prunes.
  const counts = (): { pending: number; dead: number } | undefined => {
    try {
      return readCounts();
    } catch {
      return undefined;
    }
  };
  new Gauge({
    name: 'citywatch_webhook_deliveries_pending',
    help: 'webhook deliveries waiting for their next attempt (or in flight)',
    registers: [registry],
    collect() {
      const c = counts();
      if (c) this.set(c.pending);
    },
  });
  new Gauge({
    name: 'citywatch_webhook_dead_letters',
    help: 'dead-lettered webhook deliveries kept in the store (GET /api/v1/webhooks/dead-letters; each can be replayed)',
    registers: [registry],
    collect() {
      const c = counts();
      if (c) this.set(c.dead);
    },
  });
  return { refused, stops, attemptSeconds, finished };
}
