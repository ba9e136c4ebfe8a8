import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UNIT_KINDS } from '../core/fix.ts';
import type { Subscription } from '../delivery/live/channel.ts';
import { bboxParam, type EventFilter } from '../delivery/live/filter.ts';
import { VIOLATION_CODES } from '../geofence/model.ts';
import { bearerSecurity } from './auth.ts';
import type { LiveStreamName, LiveStreams } from './live-hub.ts';
import { type Principal, visibleFirm } from './principal.ts';
import { commaList, problemResponse, vehicleList } from './schemas.ts';

/**
 * GET /api/v1/live/positions and /api/v1/live/violations: Server-Sent Events. The hub (api/live-hub.ts)
 * does the buffering, replay and backpressure; this module only turns a request into a filter and a
 * response stream. Register inside a scope guarded by `bearerAuth` (prefix /api/v1).
 */

export interface LiveRoutesOptions {
  live: LiveStreams;
}

/** Reconnection delay suggested to EventSource clients (the SSE `retry:` field), ms. */
export const LIVE_RETRY_MS = 3000;

/** Violation codes: repeat the parameter or give a comma list. */
const codeList = commaList(z.enum(VIOLATION_CODES), 100);

const filterFields = {
  firm: z.string().min(1).max(128).optional().describe('only events of this firm'),
  vehicle: vehicleList.optional().describe('only these units: repeat the parameter or give a comma list'),
  kind: z.enum(UNIT_KINDS).optional().describe('only units of this kind'),
  bbox: bboxParam
    .optional()
    .describe(
      'only events inside minLon,minLat,maxLon,maxLat (WGS-84; a violation is placed at its last position)',
    ),
};

/** How a browser gets in and resumes: EventSource sends neither an Authorization header nor, on a new connection, Last-Event-ID. */
const browserFields = {
  ticket: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe(
      'a stream ticket (POST /live/tickets) instead of the Authorization header, for EventSource; single use, short-lived. Never an API key',
    ),
  lastEventId: z
    .string()
    .max(64)
    .optional()
    .describe('as the Last-Event-ID header, for a new EventSource resuming a lost stream; the header wins'),
};

export const LivePositionsQuerySchema = z.strictObject({ ...filterFields, ...browserFields });
export const LiveViolationsQuerySchema = z.strictObject({
  ...filterFields,
  ...browserFields,
  code: codeList.optional().describe('only these violation codes: repeat the parameter or give a comma list'),
});

const LiveHeadersSchema = z.object({
  'last-event-id': z
    .string()
    .max(64)
    .optional()
    .describe('id of the last event received: the stream resumes right after it, or sends `reset`'),
});

type LiveQuery = z.output<typeof LiveViolationsQuerySchema>;

/** The request's filter: the key's firm (tenancy) and the query's criteria, all combined with AND. */
export function liveFilter(principal: Principal, query: Partial<LiveQuery>): EventFilter {
  const firms = [visibleFirm(principal), query.firm].filter((f): f is string => f !== undefined);
  return {
    ...(firms.length > 0 ? { firms } : {}),
    ...(query.vehicle !== undefined ? { vehicles: new Set(query.vehicle) } : {}),
    ...(query.kind !== undefined ? { kind: query.kind } : {}),
    ...(query.bbox !== undefined ? { bbox: query.bbox } : {}),
    ...(query.code !== undefined ? { codes: new Set<string>(query.code) } : {}),
  };
}

const STREAM_DESCRIPTION =
  'text/event-stream. Each event has an integer `id` (increasing; compare numerically), an `event` name ' +
  'and a JSON `data` line. Reconnect with the `Last-Event-ID` header to receive every missed event ' +
  'exactly once; when they are no longer retained (LIVE_RETENTION_S, LIVE_MAX_EVENTS) an `event: reset` ' +
  'without id comes first, then every event still retained. Comment lines (`: heartbeat`) keep proxies ' +
  'open. A client that reads too slowly receives `event: dropped` (reason slow-consumer) and the stream ' +
  'ends; reconnect with Last-Event-ID.';

export const liveRoutes: FastifyPluginAsyncZod<LiveRoutesOptions> = async (app, { live }) => {
  const open = new Set<Subscription>();
  // Streams never end on their own: end them first so that close() does not wait for them forever.
  app.addHook('preClose', async () => {
    for (const sub of [...open]) sub.close();
  });

  const stream = (
    name: LiveStreamName,
    request: { principal: Principal; headers: Record<string, unknown> },
    query: Partial<LiveQuery> & { lastEventId?: string | undefined },
    reply: FastifyReply,
  ) => {
    const sink = new PassThrough({ highWaterMark: live.clientBufferBytes });
    // Written before subscribing so the headers and this line reach the client at once: once the client
    // has the response head, its subscription exists and it misses nothing published afterwards.
    sink.write(`retry: ${LIVE_RETRY_MS}\n: connected\n\n`);
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' ? header : query.lastEventId;
    const sub = live.subscribe(name, {
      filter: liveFilter(request.principal, query),
      sink,
      lastEventId,
    });
    open.add(sub);
    sink.once('close', () => open.delete(sub));
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(sink);
  };

  const responses = (what: string, scope: string) => ({
    200: {
      description: `${what} as Server-Sent Events`,
      content: { 'text/event-stream': { schema: z.string().describe(STREAM_DESCRIPTION) } },
    },
    400: problemResponse('invalid query'),
    401: problemResponse('missing or invalid bearer token'),
    403: problemResponse(`the key lacks the scope ${scope}`),
    429: problemResponse('the key has spent its request budget; retry after Retry-After seconds'),
  });

  app.get(
    '/live/positions',
    {
      config: { scope: 'positions:read', streamTicket: true },
      schema: {
        summary: 'Live positions (Server-Sent Events)',
        description:
          `Every accepted fix as \`event: position\` with a Position as data, in acceptance order. ${STREAM_DESCRIPTION} ` +
          'A firm key receives its own units only.',
        tags: ['live'],
        security: bearerSecurity,
        querystring: LivePositionsQuerySchema,
        headers: LiveHeadersSchema,
        response: responses('positions', 'positions:read'),
      },
    },
    async (request, reply) => stream('positions', request, request.query, reply),
  );

  app.get(
    '/live/violations',
    {
      config: { scope: 'violations:read', streamTicket: true },
      schema: {
        summary: 'Live violations (Server-Sent Events)',
        description:
          'Every violation event of the compliance engine as `event: violation` with data ' +
          '`{ phase: opened|updated|closed|withdrawn, violation: Violation, rejudged? }` (the MQTT alert payload, ' +
          'with the ISO-8601 `startAt`/`endAt` beside the epoch-ms `startTs`/`endTs`, as in GET /violations). ' +
          'Late fixes judged in time order correct what was sent: `withdrawn` (with `violation.withdrawal`), and ' +
          'events of a re-judging carry `rejudged: {reason, lateTs}`. ' +
          `${STREAM_DESCRIPTION} A firm key receives its own violations only.`,
        tags: ['live'],
        security: bearerSecurity,
        querystring: LiveViolationsQuerySchema,
        headers: LiveHeadersSchema,
        response: responses('violation events', 'violations:read'),
      },
    },
    async (request, reply) => stream('violations', request, request.query, reply),
  );
};
