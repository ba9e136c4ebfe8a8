import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ENTITY_REF_KINDS, VIOLATION_CODES } from '../geofence/model.ts';
import { VIOLATION_PHASES, WITHDRAWAL_REASONS } from '../geofence/types.ts';
import { type EventStore, EventStoreQueryError, VIOLATION_PHASE_FILTERS } from '../store/events-port.ts';
import {
  UnknownViolationError,
  VIOLATION_NOTE_REQUIRED,
  VIOLATION_STATUSES,
  ViolationTransitionError,
} from '../store/violation-status.ts';
import { bearerSecurity } from './auth.ts';
import { spanInstantFields, withInstants } from './instants.ts';
import { authorizeViolationChange, listFirm, requireRole, visible } from './principal.ts';
import { HttpProblem, PROBLEM_TYPES } from './problem.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

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

const id = z.string().min(1).max(256);
const position = z.tuple([z.number(), z.number()]).describe('[lon, lat], WGS-84 degrees');
const figure = z.union([z.number(), z.string(), z.boolean()]);

const WithdrawalSchema = z
  .object({
    reason: z
      .enum(WITHDRAWAL_REASONS)
      .describe(
        'backfill: fixes that arrived late (older than the vehicle’s newest), judged in the vehicle’s time order, showed it did not happen so',
      ),
    lateTs: z.number().int().describe('epoch ms of the earliest of those late fixes'),
    supersededBy: z
      .string()
      .optional()
      .describe(
        'the violation that replaced it, when the late fixes moved its onset (a new onset is a new id)',
      ),
  })
  .meta({
    id: 'ViolationWithdrawal',
    description:
      'why the engine withdrew a violation it had raised (phase withdrawn): not counted against the firm',
  });

/** epoch ms, or an ISO 8601 date-time */
const instant = z
  .string()
  .min(1)
  .max(64)
  .transform((s, ctx) => {
    const n = /^-?\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!Number.isSafeInteger(n)) {
      ctx.addIssue({ code: 'custom', message: 'expected epoch ms or an ISO 8601 date-time' });
      return z.NEVER;
    }
    return n;
  });

const limit = z.coerce.number().int().min(1).max(10_000);

export const ViolationsQuerySchema = z.strictObject({
  firm: id.optional().describe('only violations of this firm'),
  vehicle: id.optional().describe('only violations of this vehicle'),
  code: z.enum(VIOLATION_CODES).optional().describe('only violations of this code'),
  status: z
    .enum(VIOLATION_STATUSES)
    .optional()
    .describe(
      'only violations with this enforcement status (open, acknowledged, disputed, confirmed, closed)',
    ),
  phase: z
    .enum(VIOLATION_PHASE_FILTERS)
    .optional()
    .describe(
      'engine lifecycle: ongoing (no endTs yet), closed (the behaviour has ended), withdrawn (a re-judging with late fixes found it did not happen as raised), or any; without it, every violation but the withdrawn ones',
    ),
  from: instant.optional().describe('startTs at or after this instant (epoch ms or ISO 8601)'),
  to: instant.optional().describe('startTs at or before this instant (epoch ms or ISO 8601)'),
  limit: limit.optional().describe('page size (default 100, max 10,000)'),
  cursor: z.string().min(1).max(512).optional().describe('nextCursor of the previous page'),
});

export const TripsQuerySchema = z.strictObject({
  firm: id.optional().describe('only trips of this firm'),
  vehicle: id.optional().describe('only trips of this vehicle'),
  from: instant.optional().describe('startTs at or after this instant (epoch ms or ISO 8601)'),
  to: instant.optional().describe('startTs at or before this instant (epoch ms or ISO 8601)'),
  limit: limit.optional().describe('page size (default 100, max 10,000)'),
  cursor: z.string().min(1).max(512).optional().describe('nextCursor of the previous page'),
});

export const ViolationParamsSchema = z.object({
  id: id.describe('violation id: {vehicle}:{code}:{startTs}'),
});

export const ViolationSchema = z
  .object({
    id: z.string(),
    code: z.enum(VIOLATION_CODES),
    vehicle: z.string(),
    firm: z.string(),
    permit: z.string().optional(),
    startTs: z.number().int().describe('epoch ms'),
    endTs: z.number().int().optional().describe('epoch ms, set when closed'),
    detectedTs: z
      .number()
      .int()
      .optional()
      .describe(
        'epoch ms: when the engine raised it (the fix, or the silence tick, at which the rule’s minimum was met; startTs is the backdated onset)',
      ),
    ...spanInstantFields,
    durationMs: z.number().optional(),
    level: z.number().int().describe('escalation level, 0 = base'),
    startPos: position,
    lastPos: position,
    refs: z
      .array(
        z.object({
          kind: z.enum(ENTITY_REF_KINDS),
          id: z.string(),
          version: z.number().int(),
        }),
      )
      .describe('registry entities (with versions) the judgement rests on'),
    thresholds: z.record(z.string(), z.unknown()),
    ruleVersion: z.number().int(),
    details: z.record(z.string(), figure),
    withdrawal: WithdrawalSchema.optional().describe('set when the phase is withdrawn'),
    phase: z
      .enum(VIOLATION_PHASES)
      .describe(
        'engine lifecycle: the latest phase recorded (closed = the behaviour has ended; withdrawn = a re-judging with late fixes found it did not happen as raised: kept for the record, never counted against the firm)',
      ),
    status: z
      .enum(VIOLATION_STATUSES)
      .describe('enforcement status: what the city did about it (POST /violations/{id}/status)'),
  })
  .meta({ id: 'Violation' });

const StatusChangeBodySchema = z
  .strictObject({
    status: z
      .enum(['acknowledged', 'disputed', 'confirmed', 'closed'])
      .describe(
        'acknowledged, confirmed, closed: monitor and admin keys; disputed: the violation’s firm (or an admin), with a note',
      ),
    note: z
      .string()
      .trim()
      .max(2000)
      .optional()
      .describe('why; required to dispute (the grounds the city will examine)'),
  })
  .meta({ id: 'ViolationStatusChange' });

const StatusAuditSchema = z
  .object({
    id: z.string(),
    items: z.array(
      z.object({
        seq: z.number().int().positive(),
        from: z.enum(VIOLATION_STATUSES),
        to: z.enum(VIOLATION_STATUSES),
        actor: z.string().describe('the API key id that made the change'),
        at: z.string().describe('ISO-8601 UTC'),
        note: z.string().optional(),
      }),
    ),
    count: z.number().int().nonnegative(),
  })
  .meta({ id: 'ViolationStatusAudit', description: 'every status change of a violation, oldest first' });

const ViolationPageSchema = z.object({
  items: z.array(ViolationSchema),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

const ViolationDetailSchema = z.object({
  violation: ViolationSchema,
  phases: z.array(
    z.object({
      seq: z.number().int(),
      phase: z.enum(VIOLATION_PHASES),
      rejudged: z
        .object({ reason: z.enum(WITHDRAWAL_REASONS), lateTs: z.number().int() })
        .optional()
        .describe(
          'set on the events of a re-judging with late fixes (they correct what was recorded before)',
        ),
      violation: ViolationSchema.omit({ phase: true, status: true }).describe(
        'the engine’s violation as of this event',
      ),
    }),
  ),
});

const TripSchema = z
  .object({
    status: z
      .enum(['started', 'completed', 'withdrawn'])
      .describe(
        'withdrawn: a re-judging with late fixes found the trip did not happen as recorded (never counted)',
      ),
    id: z.string(),
    vehicle: z.string(),
    firm: z.string(),
    permit: z.string(),
    originSite: z.string(),
    originVersion: z.number().int(),
    startTs: z.number().int().describe('epoch ms'),
    startPos: position,
    loadTrigger: z.string(),
    disposalSite: z.string().optional().describe('completed trips: disposal site, "" when none'),
    endTs: z.number().int().optional().describe('epoch ms, completed trips'),
    ...spanInstantFields,
    durationMs: z.number().optional(),
    distanceKm: z.number().optional(),
    endPos: position.optional(),
    unloadTrigger: z.string().optional(),
    compliant: z.boolean().optional(),
    violationCount: z.number().int().optional(),
    violations: z.array(z.string()).optional(),
  })
  .meta({ id: 'Trip' });

const TripPageSchema = z.object({
  items: z.array(TripSchema),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

/** Query errors (bad cursor) are the request's; everything else is the backend's (503). */
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
    log.error({ err: cause }, 'event store read failed');
    throw new HttpProblem({
      status: 503,
      type: PROBLEM_TYPES.storeUnavailable,
      title: 'Event store unavailable',
      detail: 'The event store could not be read; try again shortly.',
      cause,
    });
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
        response: {
          200: jsonResponse('one page of violations', ViolationPageSchema),
          400: invalid,
          401: unauthorized,
          503: unavailable,
        },
      },
    },
    async (request) => {
      const firm = listFirm(request.principal, request.query.firm);
      if (firm === null) return { items: [] };
      const page = await fromEvents(request.log, () => events.violations(strip({ ...request.query, firm })));
      return { ...page, items: page.items.map(withInstants) };
    },
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
          400: invalid,
          401: unauthorized,
          404: problemResponse('unknown violation'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const vid = request.params.id;
      const [violation, phases] = await fromEvents(request.log, () =>
        Promise.all([events.violation(vid), events.violationPhases(vid)]),
      );
      // Another firm's violation is unknown to a firm key, exactly like one that does not exist.
      if (!visible(request.principal, violation)) throw unknownViolation(vid);
      return {
        violation: withInstants(violation!),
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
          400: invalid,
          401: unauthorized,
          404: problemResponse('unknown violation'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const vid = request.params.id;
      const [violation, changes] = await fromEvents(request.log, () =>
        Promise.all([events.violation(vid), events.violationStatusHistory(vid)]),
      );
      if (!visible(request.principal, violation)) throw unknownViolation(vid);
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
        response: {
          200: jsonResponse('one page of trips', TripPageSchema),
          400: invalid,
          401: unauthorized,
          503: unavailable,
        },
      },
    },
    async (request) => {
      const firm = listFirm(request.principal, request.query.firm);
      if (firm === null) return { items: [] };
      const page = await fromEvents(request.log, () => events.trips(strip({ ...request.query, firm })));
      return { ...page, items: page.items.map(withInstants) };
    },
  );
};
