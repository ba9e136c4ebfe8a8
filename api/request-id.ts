import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Request ids: every request gets one, fastify's `request.id`, which its pino child logger puts on every
 * log line of the request (`reqId`). It is sent back as `X-Request-Id` and is in every problem body
 * (`requestId`), so an integrator quoting it lets the operator find the request's log lines.
 *
 * A client may bring its own id (`X-Request-Id` from a gateway or its own tracing) to correlate logs
 * across systems; it is taken only when it is a plain token (letters, digits, `.`, `_`, `:`, `-`, 8 to 64
 * characters), so nothing a client sends can forge or break a log line. Otherwise a random UUID.
 */

export const REQUEST_ID_HEADER = 'x-request-id';
const CLIENT_ID = /^[A-Za-z0-9._:-]{8,64}$/;

export function genReqId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
}

/** Sets X-Request-Id on every answer, first thing, so errors and streams carry it too. */
export function registerRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
