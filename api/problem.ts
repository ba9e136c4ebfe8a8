import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Problem } from './schemas.ts';

/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Handlers throw `HttpProblem`; the
 * error handler and the not-found handler below turn everything into a problem body.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem types with semantics beyond their HTTP status (others use about:blank). */
export const PROBLEM_TYPES = {
  validation: 'urn:citywatch:problem:validation',
  unknownUnit: 'urn:citywatch:problem:unknown-unit',
  noPosition: 'urn:citywatch:problem:no-position',
  storeUnavailable: 'urn:citywatch:problem:store-unavailable',
} as const;

/**
 * A store that could not be read: the backend's failure, not the request's. The cause is logged, never
 * sent; the answer is a 503 naming the store ("event", "position").
 */
export function storeUnavailable(log: FastifyBaseLogger, store: string, cause: unknown): HttpProblem {
  log.error({ err: cause }, `${store} store read failed`);
  const name = `${store[0]?.toUpperCase() ?? ''}${store.slice(1)}`;
  return new HttpProblem({
    status: 503,
    type: PROBLEM_TYPES.storeUnavailable,
    title: `${name} store unavailable`,
    detail: `The ${store} store could not be read; try again shortly.`,
    cause,
  });
}

export interface HttpProblemInit {
  status: number;
  /** defaults to about:blank */
  type?: string;
  /** defaults to the HTTP reason phrase */
  title?: string;
  detail?: string;
  /** response headers to set with the problem (e.g. WWW-Authenticate) */
  headers?: Record<string, string>;
  errors?: Problem['errors'];
  cause?: unknown;
}

export class HttpProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  readonly errors: Problem['errors'];

  constructor(init: HttpProblemInit) {
    const title = init.title ?? STATUS_CODES[init.status] ?? 'Error';
    super(init.detail ?? title, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'HttpProblem';
    this.status = init.status;
    this.type = init.type ?? 'about:blank';
    this.title = title;
    this.detail = init.detail;
    this.headers = init.headers ?? {};
    this.errors = init.errors;
  }
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  problem: Omit<Problem, 'instance'>,
) {
  // requestId: the X-Request-Id of this answer, which every log line of the request carries (reqId).
  const body: Problem = { ...problem, instance: request.url, requestId: request.id };
  // Sent pre-serialized: a problem must not depend on the route's response serializers.
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Fastify error handler: every error becomes a problem; 5xx details are logged, never sent. */
export function problemErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof HttpProblem) {
    if (error.status >= 500) request.log.error({ err: error.cause ?? error }, error.message);
    reply.headers(error.headers);
    return sendProblem(reply, request, {
      type: error.type,
      title: error.title,
      status: error.status,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      ...(error.errors === undefined ? {} : { errors: error.errors }),
    });
  }

  if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
    const part = error.validationContext ?? 'request';
    const errors = (error.validation ?? []).flatMap((issue) => {
      const message = issue.message ?? 'invalid';
      // zod reports unknown keys on the parent object: name each key as the field at fault.
      const keys = (issue.params as { keys?: unknown } | undefined)?.keys;
      const base = issue.instancePath === '/' ? '' : issue.instancePath;
      if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys) && keys.length > 0) {
        return keys.map((key) => ({ in: part, pointer: `${base}/${String(key)}`, message }));
      }
      return [{ in: part, pointer: base, message }];
    });
    return sendProblem(reply, request, {
      type: PROBLEM_TYPES.validation,
      title: 'Invalid request',
      status: 400,
      detail: errors.map((e) => `${e.in}${e.pointer}: ${e.message}`).join('; '),
      errors,
    });
  }

  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, request, {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Internal Server Error',
      status,
      detail: 'The server could not complete the request; the error has been logged.',
    });
  }
  // Fastify's own client errors (bad JSON, unsupported media type, body too large, ...).
  return sendProblem(reply, request, {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Client Error',
    status,
    detail: error.message,
  });
}

/** Fastify not-found handler: unknown routes (and wrong methods) as a 404 problem. */
export function problemNotFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return sendProblem(reply, request, {
    type: 'about:blank',
    title: 'Not Found',
    status: 404,
    detail: `No route for ${request.method} ${request.url.split('?', 1)[0]}`,
  });
}
