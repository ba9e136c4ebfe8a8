import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerSecurity } from '../auth.ts';
import { csvTextStream } from '../csv.ts';
import { HttpProblem, PROBLEM_TYPES } from '../problem.ts';
import { ACCESS_RESPONSES } from '../resource-kit.ts';
import { jsonResponse, problemResponse } from '../schemas.ts';
import { AuditCursorError, type AuditLog, type AuditQuery, type AuditRecord } from './log.ts';

/** GET /audit (JSON pages or CSV) and GET /audit/verify, for administrators. */

export interface AuditRoutesOptions {
  log: AuditLog;
}

export const AuditRecordSchema = z
  .object({
    seq: z.number().int().describe('1, 2, 3, ... in the order the changes were made'),
    at: z.string().describe('when (ISO-8601 UTC)'),
    requestId: z.string().nullable().describe('the X-Request-Id of the request that made the change'),
    actor: z.string().describe('the API key’s name, ADMIN_TOKEN, or platform (the platform’s own changes)'),
    keyId: z.string(),
    role: z.string().describe('admin, monitor, firm (system for the platform)'),
    firm: z.string().nullable().describe('a firm key’s firm'),
    ip: z.string().nullable().describe('the source address of the request'),
    action: z
      .string()
      .describe('<entity>.<verb>: create, replace, update, delete, status, rotate, replay, ...'),
    entityKind: z.string(),
    entityId: z.string(),
    before: z
      .string()
      .nullable()
      .describe('sha256: digest of the entity’s canonical JSON before (null: none)'),
    after: z.string().nullable().describe('the same after the change (null: deleted)'),
    status: z.number().int().nullable().describe('the HTTP status answered'),
    prevHash: z.string().describe('the previous record’s hash (64 zeros for the first)'),
    hash: z.string().describe('SHA-256 of this record’s canonical JSON, prevHash included'),
  })
  .meta({ id: 'AuditRecord' });

const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s).toISOString())
  .describe('ISO-8601 with a zone');

const AuditQuerySchema = z.strictObject({
  keyId: z.string().min(1).max(128).optional(),
  action: z.string().min(1).max(64).optional().describe('e.g. permit.status'),
  entityKind: z.string().min(1).max(32).optional().describe('e.g. vehicle'),
  entityId: z.string().min(1).max(256).optional(),
  from: instant.optional().describe('records at or after this instant'),
  to: instant.optional().describe('records at or before this instant'),
  format: z
    .enum(['json', 'csv'])
    .optional()
    .describe('csv: every matching record, oldest first (also chosen by Accept: text/csv); default json'),
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('page size (default 100); JSON only'),
  cursor: z.string().min(1).max(32).optional().describe('nextCursor of the previous page; JSON only'),
});

const CSV_COLUMNS = [
  'seq',
  'at',
  'actor',
  'keyId',
  'role',
  'firm',
  'ip',
  'action',
  'entityKind',
  'entityId',
  'before',
  'after',
  'status',
  'requestId',
  'prevHash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditRecord>;

export const auditRoutes: FastifyPluginAsyncZod<AuditRoutesOptions> = async (app, { log }) => {
  const tags = ['audit'];

  app.get(
    '/audit',
    {
      config: { scope: 'audit:read', roles: ['admin'] },
      schema: {
        summary: 'The audit log',
        description:
          'Every change made through the API to firms, vehicles, officers, devices, sites, routes, zones, ' +
          'thresholds, permits, violation statuses, API keys and webhooks (and the platform’s own pauses of a ' +
          'webhook subscription), newest first, in pages (`nextCursor`). Filters combine with AND. ' +
          '`format=csv` (or `Accept: text/csv`) exports every matching record, oldest first, as RFC 4180 CSV. ' +
          'Each record is chained to the previous one by its hash: `GET /audit/verify` checks the chain.',
        tags,
        security: bearerSecurity,
        querystring: AuditQuerySchema,
        response: {
          200: {
            description: 'one page of records (JSON), or every matching record (CSV)',
            content: {
              'application/json': {
                schema: z.object({
                  items: z.array(AuditRecordSchema),
                  nextCursor: z.string().optional().describe('absent on the last page'),
                }),
              },
              'text/csv': { schema: z.string() },
            },
          },
          400: problemResponse('invalid query: the parameter at fault is named'),
          ...ACCESS_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const { format, limit, cursor, ...filters } = request.query;
      const query: AuditQuery = filters;
      const csv = format === 'csv' || (format === undefined && wantsCsv(request.headers.accept));
      if (csv) {
        if (cursor !== undefined || limit !== undefined)
          throw queryProblem(
            cursor !== undefined ? '/cursor' : '/limit',
            'a CSV export has every matching record: no limit or cursor',
          );
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="citywatch-audit.csv"');
        // a stream is sent as it is read, never serialised: the export is not held in memory. Key
        // names and ids are chosen by API users: cells a spreadsheet would run as formulas are defused.
        const rows = log.each(query) as Iterable<Record<string, unknown>>;
        return reply.send(csvTextStream(CSV_COLUMNS, rows, { defuseFormulas: true }) as unknown as string);
      }
      try {
        return log.page({ ...query, limit, cursor });
      } catch (err) {
        if (err instanceof AuditCursorError) throw queryProblem('/cursor', err.message);
        throw err;
      }
    },
  );

  app.get(
    '/audit/verify',
    {
      config: { scope: 'audit:read', roles: ['admin'] },
      schema: {
        summary: 'Verify the audit log’s hash chain',
        description:
          'Recomputes every record’s hash from the first: `valid` false names the first record that does ' +
          'not hold (`hash`: changed, `link` or `sequence`: removed or reordered before it). Keep the `head` ' +
          'hash somewhere else: a chain cut at its end is only seen by comparing it.',
        tags,
        security: bearerSecurity,
        response: {
          200: jsonResponse(
            'the verdict',
            z.object({
              valid: z.boolean(),
              records: z.number().int().describe('records that hold, from the first'),
              head: z
                .object({ seq: z.number().int(), hash: z.string(), at: z.string() })
                .optional()
                .describe('the last record that holds'),
              firstInvalid: z
                .object({ seq: z.number().int(), reason: z.enum(['hash', 'link', 'sequence']) })
                .optional(),
            }),
          ),
          ...ACCESS_RESPONSES,
        },
      },
    },
    async () => log.verify(),
  );
};

function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  const first = accept.split(',')[0]?.split(';')[0]?.trim().toLowerCase();
  return first === 'text/csv';
}

function queryProblem(pointer: string, message: string): HttpProblem {
  return new HttpProblem({
    status: 400,
    type: PROBLEM_TYPES.validation,
    title: 'Invalid request',
    detail: message,
    errors: [{ in: 'querystring', pointer, message }],
  });
}
