/**
 * Every violation code the engine raises: the domain's list of violation types, in the core layer so
 * that the engine (geofence/model.ts re-exports it), the ground-truth oracle that scores it
 * (simulators/scenario/oracle/truths.ts, which may not import geofence/) and the monitor console's
 * browser bundle (console/src/i18n.ts) name the same types. No imports.
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
