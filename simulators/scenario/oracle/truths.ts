import { VIOLATION_CODES } from '../../../core/violation-codes.ts';

/**
 * What the ground-truth oracle writes: one violation a unit really committed, of the engine's types
 * (the domain's list from core/; the oracle is independent of geofence/).
 */

/**
 * The violation types: the domain's list (core/violation-codes.ts, the core layer, not geofence/), so
 * the oracle names the types the engine raises (test/simulators/oracle-independence checks it).
 */
export const TRUTH_TYPES = VIOLATION_CODES;
export type TruthType = (typeof TRUTH_TYPES)[number];

export interface TruthViolation {
  vehicle: string;
  type: TruthType;
  /** epoch ms */
  start: number;
  /** epoch ms; undefined while still going on at the end of the run */
  end?: number;
  details: Record<string, number | string>;
}

/** Records one truth: (type, start, end or undefined while it goes on, details). */
export type AddTruth = (
  type: TruthType,
  start: number,
  end: number | undefined,
  details?: Record<string, number | string>,
) => void;

/** A truth of `vehicle` (no `end` while it goes on at the end of the run). */
export function truthOf(
  vehicle: string,
  type: TruthType,
  start: number,
  end: number | undefined,
  details: Record<string, number | string> = {},
): TruthViolation {
  return { vehicle, type, start, ...(end !== undefined ? { end } : {}), details };
}

/** A unit's truths in the order they are written: by start, then type. */
export function sortTruths(truths: TruthViolation[]): void {
  truths.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
}

/** What both oracles share: the truths of one unit, recorded as they are found. */
export abstract class TruthRecorder {
  readonly truths: TruthViolation[] = [];

  constructor(private readonly unitId: string) {}

  protected add(
    type: TruthType,
    start: number,
    end: number | undefined,
    details: Record<string, number | string> = {},
  ): void {
    this.truths.push(truthOf(this.unitId, type, start, end, details));
  }
}
