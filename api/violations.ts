import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { withInstants } from '../core/instants.ts';
import { type EventStore, EventStoreQueryError, type Page } from '../store/events-port.ts';
import {
  UnknownViolationError,
  VIOLATION_NOTE_REQUIRED,
  ViolationTransitionError,
} from '../store/violation-status.ts';
import { bearerSecurity } from './auth.ts';
import { authorizeViolationChange, listFirm, requireRole, visible } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES, storeUnavailable } from './problem.ts';
import { jsonResponse, problemResponse } from './schemas.ts';
import {
  StatusAuditSchema,
  StatusChangeBodySchema,
  TripPageSchema,
  TripsQuerySchema,
  ViolationDetailSchema,
  ViolationPageSchema,
  ViolationParamsSchema,
  ViolationSchema,
  ViolationsQuerySchema,
} from './violation-schemas.ts';

export {
  TripsQuerySchema,
  ViolationParamsSchema,
  ViolationSchema,
  ViolationsQuerySchema,
} from './violation-schemas.ts';

/**
 * The compliance engine's output (store/events-port.ts): violations with their phase history and trips
 * (evidence packages: api/evidence.ts), and the enforcement workflow on them (store/violation-status.ts): a violation's
 * `phase` is the engine's (opened/updated/closed), its `status` the city's (open → acknowledged →
 * disputed/confirmed → closed). Register inside a scope guarded by `bearerAuth` (prefix /api/v1).
 */

export const VIOLATION_PROBLEM_TYPES = {
  unknownViolation: 'urn:citywatch:problem:unknown-violation',
  noEvidence: 'urn:citywatch:problem:no-evidence',
  illegalTransition: 'urn:citywatch:problem:illegal-transition',
} as const;

export interface ViolationRoutesOptions {
  events: EventStore;
  /** clock of the status changes (epoch ms); Date.now by default */
  now?: () => number;
}

export async function fromEvents<T>(log: FastifyBaseLogger, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    if (cause instanceof EventStoreQueryError)
      throw new HttpProblem({
        status: 400,
        type: PROBLEM_TYPES.validation,
        title: 'Invalid request',
        detail: cause.message,
        cause,
      });
    throw storeUnavailable(log, 'event', cause);
  }
}

export function unknownViolation(violationId: string): HttpProblem {
  return new HttpProblem({
    status: 404,
    type: VIOLATION_PROBLEM_TYPES.unknownViolation,
    title: 'Unknown violation',
    detail: `no violation ${JSON.stringify(violationId)}`,
  });
}

const strip = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export const violationRoutes: FastifyPluginAsyncZod<ViolationRoutesOptions> = async (app, options) => {
  const { events } = options;
  const now = options.now ?? Date.now;
  const unauthorized = problemResponse('missing or invalid bearer token');
  const invalid = problemResponse('invalid query');
  const unavailable = problemResponse('event store unavailable');
  /**
   * A violation and something of it, read together. Another firm's violation is unknown to a firm key,
   * exactly like one that does not exist: 404.
   */
  const readVisible = async <T>(request: FastifyRequest, vid: string, more: () => Promise<T>) => {
    const [violation, also] = await fromEvents(request.log, () =>
      Promise.all([events.violation(vid), more()]),
    );
    if (violation === undefined || !visible(request.principal, violation)) throw unknownViolation(vid);
    return [violation, also] as const;
  };
  /** the answers of a list read from the event store: one page of `what` */
  const pageResponses = <T extends z.ZodType>(what: string, schema: T) => ({
    200: jsonResponse(`one page of ${what}`, schema),
    400: invalid,
    401: unauthorized,
    503: unavailable,
  });
  /** One page of a list, as the key may see it: a firm key its own firm's (none when it asks for another). */
  const pageFor = async <Q extends { firm?: string | undefined }, R extends { startTs: number }>(
    request: FastifyRequest,
    query: Q,
    read: (query: Q) => Promise<Page<R>>,
  ) => {
    const firm = listFirm(request.principal, query.firm);
    if (firm === null) return { items: [] };
    const page = await fromEvents(request.log, () => read(strip({ ...query, firm })));
    return { ...page, items: page.items.map(withInstants) };
  };
  /** the error answers of a read of one violation */
  const oneViolationErrors = {
    400: invalid,
    401: unauthorized,
    404: problemResponse('unknown violation'),
    503: unavailable,
  };

  app.get(
    '/violations',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Violations',
        description:
          'Violations (latest state) judged by the compliance engine, ordered by (startTs, id). Filters ' +
          'combine with AND; page with `cursor` = the previous page’s `nextCursor`.',
        tags: ['violations'],
        security: bearerSecurity,
        querystring: ViolationsQuerySchema,
        response: pageResponses('violations', ViolationPageSchema),
      },
    },
    async (request) => pageFor(request, request.query, (q) => events.violations(q)),
  );

  app.get(
    '/violations/:id',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'One violation with its phase history',
        tags: ['violations'],
        security: bearerSecurity,
        params: ViolationParamsSchema,
        response: {
          200: jsonResponse('the violation and its phases, oldest first', ViolationDetailSchema),
          ...oneViolationErrors,
        },
      },
    },
    async (request) => {
      const vid = request.params.id;
      const [violation, phases] = await readVisible(request, vid, () => events.violationPhases(vid));
      return {
        violation: withInstants(violation),
        phases: phases.map((p) => ({ ...p, violation: withInstants(p.violation) })),
      };
    },
  );

  app.post(
    '/violations/:id/status',
    {
      config: { scope: 'violations:read', audit: { entity: 'violation', action: 'status' } },
      schema: {
        summary: 'Change the enforcement status of a violation',
        description:
          'open → acknowledged → disputed | confirmed; disputed → confirmed | closed; confirmed → closed. ' +
          'Monitor and admin keys (scope violations:write) acknowledge, confirm and close; the violation’s own ' +
          'firm disputes it, with a note. Each change is audited (GET /violations/{id}/audit). An illegal ' +
          'transition is a 409 problem naming the current and the requested status. Independent of the ' +
          'engine’s phase: an ongoing violation can be acknowledged, a closed one is usually still open.',
        tags: ['violations'],
        security: bearerSecurity,
        params: ViolationParamsSchema,
        body: StatusChangeBodySchema,
        response: {
          200: jsonResponse('the violation with its new status', ViolationSchema),
          400: problemResponse('invalid body (a dispute without a note)'),
          401: unauthorized,
          403: problemResponse('the key may not make this change'),
          404: problemResponse('unknown violation'),
          409: problemResponse('the current status does not allow it'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const vid = request.params.id;
      const { status: to } = request.body;
      const note = request.body.note || undefined;
      const violation = await fromEvents(request.log, () => events.violation(vid));
      if (to === 'disputed') {
        // The firm answers for its own violation; a monitor judges, it does not dispute.
        if (!visible(request.principal, violation)) throw unknownViolation(vid);
        requireRole(request, 'firm', 'admin');
      } else {
        authorizeViolationChange(request, violation, () => unknownViolation(vid));
      }
      if (VIOLATION_NOTE_REQUIRED.has(to) && note === undefined) {
        throw new HttpProblem({
          status: 400,
          type: PROBLEM_TYPES.validation,
          title: 'Invalid request',
          detail: `body/note: required to make a violation ${to}`,
          errors: [{ in: 'body', pointer: '/note', message: `required to make a violation ${to}` }],
        });
      }
      try {
        return withInstants(
          await events.setViolationStatus({
            id: vid,
            to,
            actor: request.principal.keyId,
            at: now(),
            ...(note === undefined ? {} : { note }),
          }),
        );
      } catch (err) {
        if (err instanceof UnknownViolationError) throw unknownViolation(vid);
        if (err instanceof ViolationTransitionError) {
          throw new HttpProblem({
            status: 409,
            type: VIOLATION_PROBLEM_TYPES.illegalTransition,
            title: 'Illegal transition',
            detail: `${err.message}.`,
          });
        }
        return fromEvents(request.log, () => Promise.reject(err));
      }
    },
  );

  app.get(
    '/violations/:id/audit',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Audit trail of the enforcement status of a violation',
        description: 'Every status change, oldest first: from, to, the API key that made it, when, and why.',
        tags: ['violations'],
        security: bearerSecurity,
        params: ViolationParamsSchema,
        response: {
          200: jsonResponse('the status changes', StatusAuditSchema),
          ...oneViolationErrors,
        },
      },
    },
    async (request) => {
      const vid = request.params.id;
      const [, changes] = await readVisible(request, vid, () => events.violationStatusHistory(vid));
      const items = changes.map((c) => ({ ...c, at: new Date(c.at).toISOString() }));
      return { id: vid, items, count: items.length };
    },
  );

  app.get(
    '/trips',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Trips',
        description: 'Muck truck trips (loading to unloading), ordered by (startTs, id).',
        tags: ['violations'],
        security: bearerSecurity,
        querystring: TripsQuerySchema,
        response: pageResponses('trips', TripPageSchema),
      },
    },
    async (request) => pageFor(request, request.query, (q) => events.trips(q)),
  );
};
