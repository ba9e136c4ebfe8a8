import type { Site } from '../../geofence/model.ts';
import { ValidationError, type ValidationIssue } from '../geometry.ts';
import {
  decisionOf,
  PERMIT_REASON_REQUIRED,
  type PermitState,
  type PermitStatus,
  type PermitTarget,
  permitAction,
  permitTransitionRefusal,
} from '../permit-workflow.ts';
import {
  type ComplianceKind,
  type EntityOf,
  type EntityVersion,
  type InputOf,
  LIVE_PERMIT_STATES,
  NotFoundError,
  type PermitAuditEntry,
  type RegistryPermit,
  TransitionError,
  type WriteOptions,
} from './types.ts';

/**
 * The permits' part of the compliance registry (registry/compliance.ts): their audit trail, the approval
 * workflow a write is held to (registry/permit-workflow.ts), and the references between permits and the
 * sites and routes they name.
 */

/** What these checks read of the registry. */
export interface PermitReader {
  get<K extends ComplianceKind>(kind: K, id: string): EntityOf<K> | undefined;
  list<K extends ComplianceKind>(kind: K): EntityOf<K>[];
  history<K extends ComplianceKind>(kind: K, id: string): EntityVersion<K>[];
  permitStatus(permit: RegistryPermit, atMs?: number): PermitStatus;
}

/**
 * The audit trail of a permit: every version (creation, amendments, decisions, deletion) with its author,
 * time and reason, oldest first. `from`/`to` are the statuses on the day of the change. Empty when unknown.
 */
export function permitAudit(registry: PermitReader, id: string): PermitAuditEntry[] {
  let before: RegistryPermit | undefined;
  return registry.history('permit', id).map((rec) => {
    const at = Date.parse(rec.createdAt);
    const after = rec.entity;
    const entry: PermitAuditEntry = {
      version: rec.version,
      action: permitAction(before?.state, after?.state),
      at: rec.createdAt,
    };
    if (before !== undefined) entry.from = registry.permitStatus(before, at);
    if (after !== undefined) {
      entry.to = registry.permitStatus(after, at);
      entry.state = after.state;
    }
    if (rec.actor !== undefined) entry.actor = rec.actor;
    if (rec.note !== undefined) entry.reason = rec.note;
    before = after;
    return entry;
  });
}

/**
 * Throws TransitionError unless writing `state` to permit `id` is allowed by the workflow, and a
 * ValidationError (path `reason`) when a rejection or revocation comes without a reason.
 */
export function checkWorkflow(
  registry: PermitReader,
  id: string,
  state: PermitState,
  note: string | undefined,
): void {
  const current = registry.get('permit', id);
  if (current === undefined) {
    const decision = decisionOf(state);
    if (decision !== 'submitted' && decision !== 'approved') {
      throw new TransitionError(
        id,
        'none',
        state,
        `a new permit starts submitted (or approved by the city), not ${state}`,
      );
    }
    return;
  }
  if (permitAction(current.state, state) === 'amend') return;
  const status = registry.permitStatus(current);
  const refusal = permitTransitionRefusal(status, state);
  if (refusal !== undefined) throw new TransitionError(id, status, state, refusal);
  if (PERMIT_REASON_REQUIRED.has(state as PermitTarget) && !note?.trim()) {
    throw new ValidationError([{ path: 'reason', message: `required to make a permit ${state}` }]);
  }
}

/** What a workflow decision writes with (registry/compliance.ts put). */
export interface PermitWriter extends PermitReader {
  put(kind: 'permit', input: InputOf<'permit'>, opts: WriteOptions): RegistryPermit;
}

/**
 * A workflow decision on a permit: a new version, identical but for its state, recorded with the actor
 * and the reason (registry/compliance.ts transitionPermit: the errors it throws are listed there).
 */
export function transitionPermit(
  registry: PermitWriter,
  id: string,
  to: PermitTarget,
  opts: { actor?: string; reason?: string; ifVersion?: number },
): RegistryPermit {
  const current = registry.get('permit', id);
  if (current === undefined) throw new NotFoundError('permit', id);
  // A decision must change something: "approve" twice is refused, not written as an amendment.
  const status = registry.permitStatus(current);
  const refusal = permitTransitionRefusal(status, to);
  if (refusal !== undefined) throw new TransitionError(id, status, to, refusal);
  const reason = opts.reason?.trim();
  const { version: _v, ...input } = current;
  const write: WriteOptions = { workflow: true };
  if (opts.actor !== undefined) write.actor = opts.actor;
  if (reason) write.note = reason;
  if (opts.ifVersion !== undefined) write.ifVersion = opts.ifVersion;
  return registry.put('permit', { ...structuredClone(input), state: to }, write);
}

/** The live permits that name a site (as origin or disposal) or a route: ids, in permit order. */
export function permitsNaming(registry: PermitReader, kind: 'site' | 'route', id: string): string[] {
  const field = kind === 'site' ? (['origins', 'disposals'] as const) : (['routes'] as const);
  return livePermits(registry)
    .filter((p) => field.some((f) => p[f].includes(id)))
    .map((p) => p.id);
}

/** The permits that still count on their sites and routes. */
export function livePermits(registry: PermitReader): RegistryPermit[] {
  return registry.list('permit').filter((p) => LIVE_PERMIT_STATES.has(p.state));
}

/** Permits name live sites of the right kind and live routes; a site keeps the kind its permits use. */
export function referenceIssues(
  registry: PermitReader,
  kind: ComplianceKind,
  value: Record<string, unknown>,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (kind === 'permit') {
    if (!LIVE_PERMIT_STATES.has(value.state as PermitState)) return issues;
    const sites = (field: 'origins' | 'disposals', want: Site['kind']) => {
      (value[field] as string[]).forEach((sid, i) => {
        const site = registry.get('site', sid);
        if (site === undefined) issues.push({ path: `${field}[${i}]`, message: `unknown site '${sid}'` });
        else if (site.kind !== want) {
          issues.push({
            path: `${field}[${i}]`,
            message: `site '${sid}' is a ${site.kind} site, not ${want}`,
          });
        }
      });
    };
    sites('origins', 'origin');
    sites('disposals', 'disposal');
    (value.routes as string[]).forEach((rid, i) => {
      if (registry.get('route', rid) === undefined) {
        issues.push({ path: `routes[${i}]`, message: `unknown route '${rid}'` });
      }
    });
  } else if (kind === 'site' && typeof value.id === 'string') {
    const other = value.kind === 'origin' ? 'disposals' : 'origins';
    const users = livePermits(registry).filter((p) => p[other].includes(value.id as string));
    if (users.length > 0) {
      issues.push({
        path: 'kind',
        message: `permit(s) ${users.map((p) => `'${p.id}'`).join(', ')} use this site as ${other === 'origins' ? 'an origin' : 'a disposal site'}`,
      });
    }
  }
  return issues;
}
