/**
 * What the ground-truth oracle writes: one violation a unit really committed, of the engine's types
 * (written out here, not imported: the oracle is independent of geofence/).
 */

/** The violation types (the engine's list, written out: test/simulators/oracle-independence checks they match). */
export const TRUTH_TYPES = [
  'OFF_ROUTE',
  'OFF_HOURS',
  'NO_PERMIT',
  'ILLEGAL_DUMP',
  'SUSPECTED_DUMP',
  'SPILLAGE',
  'WRONG_SITE',
  'OVERSPEED',
  'RESTRICTED_ZONE',
  'OVERLOAD',
  'OFFLINE',
  'TRACK_GAP',
  // sanitation and body cameras (issue 15): plans.ts
  'MISSED_COLLECTION',
  'LATE_COLLECTION',
  'SWEEP_OVERSPEED',
  'SWEEP_COVERAGE',
  'OUT_OF_AREA',
  'SOS',
  'NOT_RECORDING',
  'OUT_OF_GRID',
  'LOW_BATTERY',
  'LOW_STORAGE',
  'NOT_UPLOADED',
] as const;
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
