import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type HealthReport, HealthReportSchema, jsonResponse } from './schemas.ts';

export interface HealthRoutesOptions {
  health: () => Promise<HealthReport>;
  /** a health check slower than this counts as down (default 2,000 ms) */
  timeoutMs?: number;
}

/**
 * GET /healthz: liveness plus the state of every component. 200 while the platform works (ok or
 * degraded), 503 when it is down, so a load balancer or an orchestrator can act on the status alone.
 * Unauthenticated; it shows states and counts, no fleet data.
 */
export const healthRoutes: FastifyPluginAsyncZod<HealthRoutesOptions> = async (app, options) => {
  const timeoutMs = options.timeoutMs ?? 2000;

  async function check(): Promise<HealthReport> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`health check took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return HealthReportSchema.parse(await Promise.race([options.health(), timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness and component states',
        description: '200 while the platform works (status ok or degraded), 503 when it is down.',
        tags: ['operations'],
        response: {
          200: jsonResponse('the platform works: status ok or degraded', HealthReportSchema),
          503: jsonResponse('the platform is down', HealthReportSchema),
        },
      },
    },
    async (request, reply) => {
      let report: HealthReport;
      try {
        report = await check();
      } catch (err) {
        request.log.error({ err }, 'health check failed');
        report = {
          status: 'down',
          components: {
            health: { state: 'down', detail: err instanceof Error ? err.message : String(err) },
          },
        };
      }
      reply.header('cache-control', 'no-store');
      return reply.code(report.status === 'down' ? 503 : 200).send(report);
    },
  );
};
