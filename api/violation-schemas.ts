import { z } from 'zod';
import { spanInstantFields } from '../core/instants.ts';
import { ENTITY_REF_KINDS, VIOLATION_CODES } from '../geofence/model.ts';
import { VIOLATION_PHASES, WITHDRAWAL_REASONS } from '../geofence/types.ts';
import { VIOLATION_PHASE_FILTERS } from '../store/events-port.ts';
import { VIOLATION_STATUSES } from '../store/violation-status.ts';

/** The schemas of the violation and trip routes (api/violations.ts): queries, answers, status changes. */

const id = z.string().min(1).max(256);
const position = z.tuple([z.number(), z.number()]).describe('[lon, lat], WGS-84 degrees');
const figure = z.union([z.number(), z.string(), z.boolean()]);

export const WithdrawalSchema = z
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

export const StatusChangeBodySchema = z
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

export const StatusAuditSchema = z
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

export const ViolationPageSchema = z.object({
  items: z.array(ViolationSchema),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

export const ViolationDetailSchema = z.object({
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

export const TripSchema = z
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

export const TripPageSchema = z.object({
  items: z.array(TripSchema),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

/** Query errors (bad cursor) are the request's; everything else is the backend's (503). */
