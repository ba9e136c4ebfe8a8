import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { REPLAYED_HEADER } from '../idempotency/plugin.ts';
import { ADMIN_PRINCIPAL } from '../principal.ts';
import { stateDigest } from './chain.ts';
import type { AuditLog } from './log.ts';

/**
 * Records every change made through /api/v1 in the audit log, from one declaration per route:
 * `config: { audit: { entity: 'vehicle' } }` (the verb follows from the method: POST create, PUT
 * replace, PATCH update, DELETE delete; `action` names another, such as `status` or `rotate`).
 *
 * Before the handler (preHandler: authenticated, validated) the entity's state is read and digested;
 * after it, when the answer is a 2xx that is not an idempotent replay, the state is read again and the
 * record appended before the answer leaves (onSend), so no acknowledged change goes unrecorded. Digests
 * are of the entity as stored, without secrets or usage counters, so one record's `after` equals the next
 * change's `before` unless something else changed the entity between them.
 *
 * Every POST, PUT, PATCH and DELETE route of the scope must declare `audit` (or `audit: false` for one that
 * changes nothing, such as evidence verification): the platform does not start otherwise, so a new route
 * cannot forget it.
 */

export type AuditEntityKind =
  | 'firm'
  | 'vehicle'
  | 'officer'
  | 'device'
  | 'site'
  | 'route'
  | 'zone'
  | 'permit'
  | 'thresholds'
  | 'violation'
  | 'key'
  | 'webhook'
  | 'device_model'
  // plans (issue 15)
  | 'collection_point'
  | 'sweep_plan'
  | 'duty_plan'
  | 'upload_station'
  // dispatch (issue 15, item 5)
  | 'incident';

export interface AuditRouteConfig {
  entity: AuditEntityKind;
  /** the verb when the method does not say it (status, rotate, replay) */
  action?: string;
  /** the entity's id when the path has none (thresholds: `city`) */
  id?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    audit?: AuditRouteConfig | false;
  }
}

/** The entity's current state as stored (without secrets), or undefined when there is none. */
export type AuditSnapshot = (kind: AuditEntityKind, id: string) => unknown | Promise<unknown>;

export interface AuditPluginOptions {
  log: AuditLog;
  snapshot: AuditSnapshot;
  /** a key's name, for the `actor` column */
  keyName?: (keyId: string) => string | undefined;
  metrics?: MetricsRegistry;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const VERBS: Record<string, string> = { POST: 'create', PUT: 'replace', PATCH: 'update', DELETE: 'delete' };

interface Pending {
  config: AuditRouteConfig;
  id: string | undefined;
  before: string | null;
}

/** The created entity's id: the body's `id` (or `device.id`), else the last segment of Location. */
function createdId(reply: FastifyReply, payload: unknown): string | undefined {
  if (typeof payload === 'string' && payload.startsWith('{')) {
    try {
      const body = JSON.parse(payload) as { id?: unknown; device?: { id?: unknown } };
      const id = body.id ?? body.device?.id;
      if (typeof id === 'string' || typeof id === 'number') return String(id);
    } catch {
      // not JSON: fall back to Location
    }
  }
  const location = reply.getHeader('location');
  if (typeof location === 'string') return decodeURIComponent(location.split('/').at(-1) ?? '') || undefined;
  return undefined;
}

function checkDeclared(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (!methods.some((m) => MUTATING.has(m))) return;
  const config = route.config as { audit?: unknown } | undefined;
  if (config?.audit === undefined)
    throw new Error(
      `audit: ${methods.join(',')} ${route.url} changes state but declares no config.audit (an entity, or false)`,
    );
}

/** Not encapsulated (skip-override): its hooks apply to every route of the scope it is registered in. */
export const auditTrail: FastifyPluginAsync<AuditPluginOptions> = Object.assign(
  async (app: Parameters<FastifyPluginAsync<AuditPluginOptions>>[0], options: AuditPluginOptions) => {
    const { log, snapshot } = options;
    const pending = new WeakMap<FastifyRequest, Pending>();
    const failures =
      options.metrics &&
      ((options.metrics.getSingleMetric('citywatch_audit_write_failures_total') as Counter | undefined) ??
        new Counter({
          name: 'citywatch_audit_write_failures_total',
          help: 'changes whose audit record could not be written (the change itself was made)',
          registers: [options.metrics],
        }));
    const digestOf = async (kind: AuditEntityKind, id: string) => stateDigest(await snapshot(kind, id));

    app.addHook('onRoute', checkDeclared);

    app.addHook('preHandler', async (request: FastifyRequest) => {
      const config = request.routeOptions.config?.audit;
      if (!config) return;
      const params = request.params as Record<string, string> | undefined;
      const id = config.id ?? params?.id;
      pending.set(request, {
        config,
        id,
        before: id === undefined ? null : await digestOf(config.entity, id),
      });
    });

    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const p = pending.get(request);
      if (!p) return payload;
      pending.delete(request);
      if (reply.statusCode < 200 || reply.statusCode >= 300 || reply.getHeader(REPLAYED_HEADER) !== undefined)
        return payload;
      const { principal } = request;
      try {
        const id = p.id ?? createdId(reply, payload) ?? '';
        log.append({
          requestId: request.id,
          actor:
            principal.keyId === ADMIN_PRINCIPAL.keyId
              ? 'ADMIN_TOKEN'
              : (options.keyName?.(principal.keyId) ?? principal.keyId),
          keyId: principal.keyId,
          role: principal.role,
          firm: principal.firm,
          ip: request.ip,
          action: `${p.config.entity}.${p.config.action ?? VERBS[request.method] ?? request.method.toLowerCase()}`,
          entityKind: p.config.entity,
          entityId: id,
          before: p.before,
          after: id === '' ? null : await digestOf(p.config.entity, id),
          status: reply.statusCode,
        });
      } catch (err) {
        failures?.inc();
        request.log.error(
          { err: (err as Error).message },
          'audit: the change was made but could not be recorded',
        );
      }
      return payload;
    });
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'audit-trail' },
);
