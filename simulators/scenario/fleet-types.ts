import type { UnitKind } from '../../core/fix.ts';
import type { NewDevice } from '../../registry/types.ts';
import type { TripPlanner } from '../faults/inject.ts';
import type { Twist } from '../faults/inject-spec.ts';
import type { TerminalState } from '../faults/terminal.ts';
import type { ScenarioInjection } from './file-schema.ts';
import type { UnitOracle } from './oracle/oracle.ts';
import type { PlanUnitOracle } from './oracle/plans.ts';
import type { TruthViolation } from './oracle/truths.ts';

/**
 * The fleet simulator's contract (fleet-sim.ts): its options, the messages it emits, the trips it logs,
 * the ground truth it returns, and one simulated device's state.
 */

export interface SimOptions {
  seed: number;
  /** per-axis GNSS error, metres (default 4) */
  noiseM?: number;
  /** peak of a drift episode, metres (default 2 x noiseM, at least 20) */
  driftM?: number;
  /** report interval of every device, seconds (default: each device's own) */
  intervalS?: number;
  /** interval while in alarm, seconds (default 5) */
  alarmIntervalS?: number;
  /** the run's injections (file and command line) */
  injections: readonly ScenarioInjection[];
  /**
   * where a blind area's batch goes: after the first live fix (the terminal sends its current position
   * first, then the buffer: JT/T 808 0x0704 type 1), or before it (in the vehicle's time order)
   */
  batchOrder?: 'after-live' | 'before-live';
}

export type MessageKind = 'fix' | 'duplicate' | 'late' | 'malformed' | 'backfill' | 'action';

/** A registry change the run makes through the platform API at its instant (REVOKE). */
export interface SimAction {
  type: 'revoke_permit';
  permit: string;
  vehicle: string;
}

export interface SimMessage {
  /** simulated send instant, epoch ms */
  ts: number;
  device: string;
  topic: string;
  payload: string;
  kind: MessageKind;
  /** kind 'action': what to do (the payload is its JSON) */
  action?: SimAction;
}

export interface TripRecord {
  vehicle: string;
  trip: number;
  /** epoch ms */
  start: number;
  twist?: Twist;
  skipped?: string;
  /** faults laid on the trip (BLIND_AREA, SLEEP) */
  faults?: string[];
}

/** A truth with what caused it: the trip's twist, the vehicle's permit change, or neither. */
export interface GroundTruth extends TruthViolation {
  device: string;
  injected: boolean;
  trip?: number;
}

/** One simulated device: its unit, behaviour, oracles, schedule, and what its terminal holds back. */
export interface SimDevice extends TerminalState {
  index: number;
  device: NewDevice;
  unit: string;
  kind: UnitKind;
  planner?: TripPlanner;
  oracle: UnitOracle;
  /** sanitation vehicles and body cameras: the plans' truths (scenario/oracle/plans.ts) */
  planOracle?: PlanUnitOracle;
  nextTs: number;
  lastTs: number;
  held?: string;
  trip: number;
  /** how far its clock runs ahead (CLOCK_SKEW), ms */
  skewMs: number;
  /** fixes recorded in a blind area, not sent yet */
  backlog: Array<Record<string, unknown>>;
  /** REVOKE: the permit to revoke, until it is */
  revoke?: string;
}
