/**
 * Every violation code the engine raises. No imports: the monitor console's browser bundle reads this
 * list too (console/src/i18n.ts).
 */

/** The codes of the sanitation and body-camera rules (issue 15), judged against plans, not permits. */
export const PLAN_VIOLATION_CODES = [
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
export const VIOLATION_CODES = [
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
  ...PLAN_VIOLATION_CODES,
] as const;
