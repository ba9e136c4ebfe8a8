import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Histogram, type Registry } from 'prom-client';
import { z } from 'zod';

export const HTTP_DURATION_METRIC = 'citywatch_http_request_duration_seconds';

/** Route label of requests that matched no route (one series, whatever the path). */
export const UNMATCHED_ROUTE = 'unmatched';

type HttpHistogram = Histogram<'route' | 'method' | 'status'>;

/**
 * The per-route HTTP latency histogram, registered on `registry` once (building a second API on the same
 * registry reuses it rather than failing on the duplicate name).
 */
export function httpDurationHistogram(registry: Registry): HttpHistogram {
  const existing = registry.getSingleMetric(HTTP_DURATION_METRIC);
  if (existing !== undefined) return existing as HttpHistogram;
  return new Histogram({
    name: HTTP_DURATION_METRIC,
    help: 'HTTP request duration from receipt to response, by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
}

/**
 * Times every request of `app` and of the plugins registered on it afterwards (call it on the root
 * instance before registering routes). The route label is the route template (`/api/v1/vehicles/:id/position`),
 * never the raw URL, so unit ids do not multiply the series.
 *
 * A streamed answer (Server-Sent Events) is timed until its stream starts: the time a client waits for
 * it. Its end is no latency, and fastify's onResponse does not even run when the client hangs up, which
 * is how a live stream usually ends, so the stream's routes would otherwise have no series at all.
 */
export function instrumentHttp(app: FastifyInstance, registry: Registry): void {
  const histogram = httpDurationHistogram(registry);
  const timed = new WeakSet<FastifyRequest>();
  const observe = (request: FastifyRequest, reply: FastifyReply) => {
    if (timed.has(request)) return;
    timed.add(request);
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    histogram
      .labels({ route, method: request.method, status: String(reply.statusCode) })
      .observe(reply.elapsedTime / 1000);
  };
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof (payload as { pipe?: unknown } | null)?.pipe === 'function') observe(request, reply);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => observe(request, reply));
}

export interface MetricsRoutesOptions {
  registry: Registry;
  /** metrics of other processes (the MQTT edge processes), Prometheus text appended to the registry's */
  more?: () => Promise<string>;
}

/**
 * GET /metrics: the Prometheus text exposition of the platform's registry. Unauthenticated, as
 * Prometheus scrapers expect: serve it on an internal network only, or block /metrics at the reverse
 * proxy, because it reveals fleet sizes and traffic.
 */
export const metricsRoutes: FastifyPluginAsyncZod<MetricsRoutesOptions> = async (app, { registry, more }) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition format. No authentication: do not expose this endpoint publicly.',
        tags: ['operations'],
        response: {
          200: {
            description: 'metrics in Prometheus text format',
            content: { 'text/plain': { schema: z.string() } },
          },
        },
      },
    },
    async (request, reply) => {
      const text = await registry.metrics();
      if (more === undefined) return reply.type(registry.contentType).send(text);
      let extra: string;
      try {
        extra = await more();
      } catch (err) {
        // one edge process not answering must not take the platform's own metrics with it
        request.log.warn({ err }, 'metrics of the MQTT edge processes not collected');
        extra = '';
      }
      return reply.type(registry.contentType).send(`${text}\n${extra}`);
    },
  );
};
