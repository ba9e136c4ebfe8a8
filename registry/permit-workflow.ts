/** A permit's states (issue 4, the workflow); the registry stores one on every permit version. */
export const PERMIT_STATES = ['submitted', 'approved', 'active', 'rejected', 'revoked', 'expired'] as const;
export type PermitState = (typeof PERMIT_STATES)[number];
/**
 * The permit approval workflow (建筑垃圾处置核准), as pure functions: no I/O, no clock (the caller gives
 * the local date). The registry stores a permit's `state` (the last decision taken on it) in every version;
 * the `status` users see is derived from that state and the permit's validity dates:
 *
 *   stored state           status on local date d
 *   submitted              submitted
 *   rejected               rejected
 *   approved | active(*)   approved (d < validFrom), active (validFrom <= d <= validTo), expired (d > validTo)
 *   revoked                revoked
 *   expired(*)             expired
 *
 * (*) 'active' and 'expired' are accepted as stored states for compatibility with permits written before
 * the workflow existed (and by seeds that put 'active' directly); 'active' means approved. The workflow
 * itself only ever writes submitted, approved, rejected and revoked: activation and expiry follow the
 * calendar, so no job has to flip them at midnight.
 *
 * Transitions, judged on the status (so an expired permit cannot be revoked, nor a rejected one approved):
 *
 *   submitted -> approved | rejected          (the city; a rejection needs a reason)
 *   rejected  -> submitted                    (the firm amends and resubmits)
 *   approved | active -> revoked              (the city, with a reason)
 *   expired, revoked: final
 */

export const PERMIT_STATUSES = ['submitted', 'approved', 'active', 'expired', 'rejected', 'revoked'] as const;
export type PermitStatus = (typeof PERMIT_STATUSES)[number];

/** The states a transition may ask for (what the workflow writes). */
export const PERMIT_TARGETS = ['submitted', 'approved', 'rejected', 'revoked'] as const;
export type PermitTarget = (typeof PERMIT_TARGETS)[number];

export const PERMIT_TRANSITIONS: Readonly<Record<PermitStatus, readonly PermitTarget[]>> = {
  submitted: ['approved', 'rejected'],
  rejected: ['submitted'],
  approved: ['revoked'],
  active: ['revoked'],
  expired: [],
  revoked: [],
};

/** Targets that must carry a reason (the firm is told why; a court may read it). */
export const PERMIT_REASON_REQUIRED: ReadonlySet<PermitTarget> = new Set(['rejected', 'revoked']);

/** States the engine enforces (expiry by date is the engine's own check, on validFrom/validTo). */
export function isEnforcedState(state: PermitState): boolean {
  return state === 'approved' || state === 'active';
}

/** The status of a permit on a local date (YYYY-MM-DD, Asia/Shanghai). */
export function permitStatus(
  permit: { state: PermitState; validFrom: string; validTo: string },
  localDate: string,
): PermitStatus {
  if (!isEnforcedState(permit.state)) return permit.state;
  if (localDate < permit.validFrom) return 'approved';
  return localDate > permit.validTo ? 'expired' : 'active';
}

/** A stored state as the decision it records: legacy 'active' is an approval. */
export function decisionOf(state: PermitState): PermitState {
  return state === 'active' ? 'approved' : state;
}

/** Why the transition is refused, or undefined when it is allowed. */
export function permitTransitionRefusal(current: PermitStatus, requested: PermitState): string | undefined {
  const allowed = PERMIT_TRANSITIONS[current];
  if ((allowed as readonly string[]).includes(decisionOf(requested))) return undefined;
  const next = allowed.length === 0 ? 'nothing (final)' : allowed.join(' or ');
  return `the permit is ${current} and cannot become ${requested}; from ${current} it can become ${next}`;
}

/** What a version did, from the stored states before and after it (for the audit trail). */
export type PermitAction =
  | 'create'
  | 'amend'
  | 'submit'
  | 'approve'
  | 'reject'
  | 'revoke'
  | 'expire'
  | 'delete';

export function permitAction(before: PermitState | undefined, after: PermitState | undefined): PermitAction {
  if (after === undefined) return 'delete';
  if (before === undefined) return 'create';
  if (decisionOf(before) === decisionOf(after)) return 'amend';
  switch (decisionOf(after)) {
    case 'submitted':
      return 'submit';
    case 'approved':
      return 'approve';
    case 'rejected':
      return 'reject';
    case 'revoked':
      return 'revoke';
    default:
      return 'expire';
  }
}
