import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import type { LiveStreamName } from './live-hub.ts';

/** What the live-stream metrics read (LiveHub.stats()), at scrape time only: publishing is untouched. */
export interface LiveStatsSource {
  stats(): Record<LiveStreamName, { subscribers: number; dropped: number }>;
}

const STREAMS: readonly LiveStreamName[] = ['positions', 'violations'];

/**
 * citywatch_live_clients{stream} and citywatch_live_dropped_total{stream}: Server-Sent Events clients of
 * GET /api/v1/live/{positions,violations}, and the clients dropped for reading too slowly (api/live-
 * channel.ts). Read from the hub when Prometheus scrapes, so the hot path (publishing) pays nothing.
 */
export function registerLiveMetrics(registry: MetricsRegistry, hub: LiveStatsSource): void {
  const seen: Record<LiveStreamName, number> = { positions: 0, violations: 0 };
  const dropped = new Counter({
    name: 'citywatch_live_dropped_total',
    help: 'live-stream (SSE) clients dropped because they fell too far behind (they may resume with Last-Event-ID), by stream',
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      const stats = hub.stats();
      for (const stream of STREAMS) {
        const delta = stats[stream].dropped - seen[stream];
        if (delta > 0) this.labels(stream).inc(delta);
        seen[stream] = stats[stream].dropped;
      }
    },
  });
  for (const stream of STREAMS) dropped.labels(stream).inc(0);
  new Gauge({
    name: 'citywatch_live_clients',
    help: 'live-stream (SSE) clients connected now, by stream',
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      const stats = hub.stats();
      for (const stream of STREAMS) this.labels(stream).set(stats[stream].subscribers);
    },
  });
}
