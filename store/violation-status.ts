/**
 * The enforcement status of a violation (what the city did about it), as a pure state machine. It is not
 * the engine's lifecycle `phase` (opened → updated → closed: whether the behaviour is still going on):
 * a violation the engine closed an hour ago is usually still `open` here, waiting for a monitor.
 *
 *   open ──acknowledge──▶ acknowledged ──confirm──▶ confirmed ──close──▶ closed
 *                              │                        ▲
 *                              └──dispute──▶ disputed ──┴──close──▶ closed
 *
 *   open         recorded by the engine, nobody has looked at it yet
 *   acknowledged a monitor has seen it and taken it up
 *   disputed     the firm contests it, with a reason (its evidence is then re-examined)
 *   confirmed    the city upholds it (after a dispute, too): it counts against the firm
 *   closed       handled: penalty done, or the dispute accepted (disputed → closed)
 *
 * Who may ask for which status is the API's decision (api/violations.ts); the stores apply the machine
 * atomically with the read of the current status, so two concurrent decisions cannot both pass.
 */

export const VIOLATION_STATUSES = ['open', 'acknowledged', 'disputed', 'confirmed', 'closed'] as const;
export type ViolationStatus = (typeof VIOLATION_STATUSES)[number];

export const VIOLATION_STATUS_TRANSITIONS: Readonly<Record<ViolationStatus, readonly ViolationStatus[]>> = {
  open: ['acknowledged'],
  acknowledged: ['disputed', 'confirmed'],
  disputed: ['confirmed', 'closed'],
  confirmed: ['closed'],
  closed: [],
};

/** Statuses a change must explain (a dispute without its grounds cannot be examined). */
export const VIOLATION_NOTE_REQUIRED: ReadonlySet<ViolationStatus> = new Set(['disputed']);

/** Why the change is refused, or undefined when it is allowed. */
export function violationTransitionRefusal(
  current: ViolationStatus,
  requested: ViolationStatus,
): string | undefined {
  const allowed = VIOLATION_STATUS_TRANSITIONS[current];
  if (allowed.includes(requested)) return undefined;
  const next = allowed.length === 0 ? 'nothing (final)' : allowed.join(' or ');
  return `the violation is ${current} and cannot become ${requested}; from ${current} it can become ${next}`;
}

/** One audited change of status. */
export interface ViolationStatusChange {
  /** 1, 2, ... per violation */
  seq: number;
  from: ViolationStatus;
  to: ViolationStatus;
  /** who decided: the API key id */
  actor: string;
  /** epoch ms */
  at: number;
  note?: string;
}

/** A change asked of the store. */
export interface ViolationStatusRequest {
  id: string;
  to: ViolationStatus;
  actor: string;
  /** epoch ms (the caller's clock: the stores read none) */
  at: number;
  note?: string;
}

export class UnknownViolationError extends Error {
  override name = 'UnknownViolationError';
  constructor(readonly id: string) {
    super(`no violation ${JSON.stringify(id)}`);
  }
}

export class ViolationTransitionError extends Error {
  override name = 'ViolationTransitionError';
  constructor(
    readonly id: string,
    readonly current: ViolationStatus,
    readonly requested: ViolationStatus,
  ) {
    super(`violation ${JSON.stringify(id)}: ${violationTransitionRefusal(current, requested)}`);
  }
}

/** The checks every adapter applies before recording a change (throws; returns the next seq). */
export function checkViolationChange(
  req: ViolationStatusRequest,
  current: { status: ViolationStatus; seq: number },
): ViolationStatusChange {
  if (violationTransitionRefusal(current.status, req.to) !== undefined) {
    throw new ViolationTransitionError(req.id, current.status, req.to);
  }
  const change: ViolationStatusChange = {
    seq: current.seq + 1,
    from: current.status,
    to: req.to,
    actor: req.actor,
    at: req.at,
  };
  if (req.note !== undefined && req.note.length > 0) change.note = req.note;
  return change;
}
