import { createHash, randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveStreamName } from './live-hub.ts';
import { effectiveScopes, hasScope, type Principal, ROLES, type Scope } from './principal.ts';
import { HttpProblem } from './problem.ts';
import { jsonResponse, problemResponse } from './schemas.ts';
import { bearerSecurity } from './security-scheme.ts';

/**
 * Stream tickets: the browser-safe way into the live streams. A browser's EventSource cannot send an
 * Authorization header (WHATWG HTML, "The EventSource interface": the constructor takes only a URL and
 * `withCredentials`), and a long-lived API key in a URL ends up in logs, history and Referer headers. So a
 * page holding a key asks for a ticket with it (POST /live/tickets, bearer header) and opens the stream
 * with `?ticket=`. A ticket:
 *  - is random (256 bits), kept only as its SHA-256, in memory;
 *  - is good for one connection (redeemed once: a ticket copied out of a log is already spent) and
 *    only within its time to live (LIVE_TICKET_TTL_S, 30 s by default);
 *  - opens only the streams it names, which must be ones the key may read: its principal has exactly
 *    those streams' scopes, so the auth hook's scope check refuses any other route, and any route but a
 *    live stream ignores `?ticket=` altogether (api/auth.ts);
 *  - carries the key's role and firm: a firm's ticket streams its own units only.
 * A page reconnecting after a lost stream takes a new ticket and resumes with `lastEventId`.
 */

export const TICKET_PREFIX = 'cwt_';
/** Outstanding (issued, not yet redeemed or expired) tickets at most; beyond, a 429. */
export const MAX_OUTSTANDING_TICKETS = 10_000;

export const STREAM_SCOPES: Readonly<Record<LiveStreamName, Scope>> = {
  positions: 'positions:read',
  violations: 'violations:read',
};
const STREAMS = ['positions', 'violations'] as const satisfies readonly LiveStreamName[];

interface Ticket {
  principal: Principal;
  expiresAt: number;
}

export type TicketRedemption =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'unknown' | 'expired' };

const digest = (ticket: string) => createHash('sha256').update(ticket, 'utf8').digest('base64url');

export class StreamTicketStore {
  private readonly tickets = new Map<string, Ticket>();
  private readonly now: () => number;

  constructor(
    private readonly opts: {
      ttlMs: number;
      maxOutstanding?: number;
      /** the clock tickets expire by (tests move it instead of waiting) */
      now?: () => number;
    },
  ) {
    this.now = opts.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.opts.ttlMs;
  }

  get outstanding(): number {
    return this.tickets.size;
  }

  /**
   * A ticket for these streams, for a principal that may read them all (the route checks). Undefined
   * when MAX_OUTSTANDING_TICKETS unexpired tickets are waiting.
   */
  issue(
    principal: Principal,
    streams: readonly LiveStreamName[],
  ): { ticket: string; expiresAt: number } | undefined {
    const now = this.now();
    this.sweep(now);
    if (this.tickets.size >= (this.opts.maxOutstanding ?? MAX_OUTSTANDING_TICKETS)) return undefined;
    const ticket = TICKET_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = now + this.opts.ttlMs;
    this.tickets.set(digest(ticket), {
      // Only the streams' scopes: whatever else the key may do, the ticket may not.
      principal: {
        keyId: principal.keyId,
        role: principal.role,
        ...(principal.firm === undefined ? {} : { firm: principal.firm }),
        scopes: streams.map((s) => STREAM_SCOPES[s]),
      },
      expiresAt,
    });
    return { ticket, expiresAt };
  }

  /** The ticket's principal, once: a redeemed ticket is gone. */
  redeem(ticket: string): TicketRedemption {
    const key = digest(ticket);
    const found = this.tickets.get(key);
    if (found === undefined) return { ok: false, reason: 'unknown' };
    this.tickets.delete(key);
    if (found.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, principal: found.principal };
  }

  /** Drops expired tickets (Map iteration is in issue order, and every ticket has the same TTL). */
  private sweep(now: number): void {
    for (const [key, t] of this.tickets) {
      if (t.expiresAt > now) break;
      this.tickets.delete(key);
    }
  }
}

const TicketBodySchema = z
  .strictObject({
    streams: z
      .array(z.enum(STREAMS))
      .min(1)
      .max(STREAMS.length)
      .optional()
      .describe('the streams the ticket opens; default every live stream the key may read'),
  })
  .meta({ id: 'StreamTicketRequest' });

const TicketSchema = z
  .object({
    ticket: z.string().describe('pass as `?ticket=` when opening a live stream; good for one connection'),
    expiresAt: z.string().describe('ISO-8601 UTC: the ticket must be used before then'),
    ttlS: z.number().describe('seconds from issue to expiry'),
    streams: z.array(z.enum(STREAMS)).describe('the live streams the ticket opens'),
    principal: z
      .object({
        keyId: z.string(),
        role: z.enum(ROLES),
        firm: z.string().optional().describe('firm keys: the firm whose data the key sees'),
        scopes: z.array(z.string()).describe('what the key (not the ticket) may do'),
      })
      .describe('the key the ticket was issued to'),
  })
  .meta({ id: 'StreamTicket' });

export interface LiveTicketRoutesOptions {
  tickets: StreamTicketStore;
}

export const liveTicketRoutes: FastifyPluginAsyncZod<LiveTicketRoutesOptions> = async (app, { tickets }) => {
  app.post(
    '/live/tickets',
    {
      // A key that may read a live stream may ask; which streams is checked against its scopes below.
      // Nothing is changed.
      config: { audit: false, anyScope: ['positions:read', 'violations:read'] },
      schema: {
        summary: 'A stream ticket for a browser (EventSource)',
        description:
          'A short-lived, single-use ticket that opens the named live streams with `?ticket=` instead of ' +
          'the Authorization header, which EventSource cannot send; never put an API key in a URL. The ' +
          'ticket expires after `ttlS` seconds (LIVE_TICKET_TTL_S), opens one connection, and grants nothing ' +
          'but those streams, with the key’s role and firm. After a lost connection take a new ticket and ' +
          'resume with `lastEventId`. The answer also says which key it was issued to (role, firm, scopes).',
        tags: ['live'],
        security: bearerSecurity,
        body: TicketBodySchema.optional(),
        response: {
          201: jsonResponse('the ticket', TicketSchema),
          400: problemResponse('invalid body'),
          401: problemResponse('missing or invalid bearer token'),
          403: problemResponse('the key may not read a stream asked for'),
          429: problemResponse('too many tickets outstanding, or the key has spent its request budget'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      const asked = request.body?.streams;
      const readable = STREAMS.filter((s) => hasScope(principal, STREAM_SCOPES[s]));
      const refused = (asked ?? []).filter((s) => !readable.includes(s));
      if (refused.length > 0 || readable.length === 0) {
        const scope = STREAM_SCOPES[refused[0] ?? 'positions'];
        throw new HttpProblem({
          status: 403,
          title: 'Missing scope',
          detail:
            refused.length > 0
              ? `The stream ${refused[0]} needs the scope ${scope}; the key does not have it.`
              : 'The key may read no live stream (positions:read or violations:read).',
        });
      }
      const streams = asked === undefined ? readable : STREAMS.filter((s) => asked.includes(s));
      const issued = tickets.issue(principal, streams);
      if (issued === undefined) {
        throw new HttpProblem({
          status: 429,
          title: 'Too many stream tickets',
          detail: `${MAX_OUTSTANDING_TICKETS} stream tickets are waiting to be used; retry in a few seconds.`,
          headers: { 'retry-after': String(Math.ceil(tickets.ttlMs / 1000)) },
        });
      }
      reply.code(201);
      return {
        ticket: issued.ticket,
        expiresAt: new Date(issued.expiresAt).toISOString(),
        ttlS: tickets.ttlMs / 1000,
        streams,
        principal: {
          keyId: principal.keyId,
          role: principal.role,
          ...(principal.firm === undefined ? {} : { firm: principal.firm }),
          scopes: [...effectiveScopes(principal)],
        },
      };
    },
  );
};
