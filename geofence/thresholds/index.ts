import { z } from 'zod';
import { thresholds as accuracy } from './accuracy.ts';
import { thresholds as collection } from './collection-visits.ts';
import { thresholds as confirm } from './confirm.ts';
import { thresholds as illegalDump } from './illegal-dump.ts';
import { thresholds as lowBattery } from './low-battery.ts';
import { thresholds as lowStorage } from './low-storage.ts';
import { thresholds as noPermit } from './no-permit.ts';
import { thresholds as notRecording } from './not-recording.ts';
import { thresholds as notUploaded } from './not-uploaded.ts';
import { thresholds as offHours } from './off-hours.ts';
import { thresholds as offRoute } from './off-route.ts';
import { thresholds as offline } from './offline.ts';
import { thresholds as outOfArea } from './out-of-area.ts';
import { thresholds as outOfGrid } from './out-of-grid.ts';
import { thresholds as outliers } from './outliers.ts';
import { thresholds as overload } from './overload.ts';
import { thresholds as overspeed } from './overspeed.ts';
import { thresholds as restrictedZone } from './restricted-zone.ts';
import { thresholds as spillage } from './spillage.ts';
import { thresholds as suspectedDump } from './suspected-dump.ts';
import { thresholds as sweepCoverage } from './sweep-coverage.ts';
import { thresholds as sweepOverspeed } from './sweep-overspeed.ts';
import { thresholds as trackGap } from './track-gap.ts';

/**
 * Every threshold of the engine, each declared ONCE, as a zod schema with its default and description,
 * one module per rule in this folder, named as the rule's module (rules/off-route.ts reads and re-exports
 * thresholds/off-route.ts; the shared ones: accuracy.ts, the GNSS allowance; confirm.ts, signal
 * confirmation; outliers.ts, the outlier screen). They import nothing of the engine, so that the engine's
 * types can be built from them without an import cycle. This is their union, and everything else is
 * derived from it: the engine's `Thresholds` type and defaults, the registry's validation of a PUT or a
 * permit's overrides (registry/compliance.ts), the API's threshold schemas and so the OpenAPI document
 * (api/compliance-schemas.ts), the scenario file's schema (simulators/scenario/file-schema.ts) and the README's
 * table (test/geofence/thresholds-one-schema.test.ts). A new rule adds its module here and one line below.
 */
export const THRESHOLDS = z.object({
  ...accuracy.shape,
  ...offRoute.shape,
  ...restrictedZone.shape,
  ...offHours.shape,
  ...illegalDump.shape,
  ...suspectedDump.shape,
  ...spillage.shape,
  ...overspeed.shape,
  ...overload.shape,
  ...noPermit.shape,
  ...confirm.shape,
  ...outliers.shape,
  ...offline.shape,
  ...trackGap.shape,
  ...sweepOverspeed.shape,
  ...collection.shape,
  ...sweepCoverage.shape,
  ...outOfArea.shape,
  ...notRecording.shape,
  ...outOfGrid.shape,
  ...lowBattery.shape,
  ...lowStorage.shape,
  ...notUploaded.shape,
});

/**
 * Thresholds in force, city-wide and overridable per permit. Durations in ms, distances in metres,
 * speeds in km/h, weights in tonnes (the key's suffix says which).
 */
export type Thresholds = z.infer<typeof THRESHOLDS>;

/** The defaults of the domain brief (shared/domain.md), as the schemas declare them. */
export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze(THRESHOLDS.parse({}));

/** A map of threshold schemas (THRESHOLDS.shape, or a test's extension of it). */
export type ThresholdShape = Record<string, z.ZodType>;

/**
 * The same keys, each optional and without its default, and no other key: overrides (a permit's, or a
 * PUT that keeps the defaults for what it leaves out). Built by a function so that a test can show that
 * a threshold added to any rule's schema reaches every derived contract.
 */
export function overridesSchema<S extends ThresholdShape>(shape: S) {
  return z.strictObject(
    Object.fromEntries(
      Object.entries(shape).map(([key, schema]) => {
        const bare = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
        return [key, bare.optional().describe(schema.description ?? key)];
      }),
    ) as { [K in keyof S]: z.ZodOptional<z.ZodType<z.output<S[K]>>> },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' ? 'unknown threshold' : 'thresholds must be an object',
    },
  );
}

export const THRESHOLD_OVERRIDES = overridesSchema(THRESHOLDS.shape);

/** A default as the README shows it: durations in ms also in minutes or hours, lists and maps as JSON. */
function shown(key: string, v: unknown): string {
  if (typeof v === 'number' && key.endsWith('Ms') && v >= 60_000) {
    return v % 3_600_000 === 0 ? `${v} (${v / 3_600_000} h)` : `${v} (${v / 60_000} min)`;
  }
  return typeof v === 'object' ? `\`${JSON.stringify(v)}\`` : String(v);
}

/**
 * The README's table of every threshold, rendered from the schemas (test/geofence/thresholds-one-schema.test.ts checks
 * that the README holds exactly this, so the two cannot drift).
 */
export function thresholdsTable(shape: ThresholdShape = THRESHOLDS.shape): string {
  const rows = Object.entries(shape).map(([key, schema]) => {
    const parsed = schema.safeParse(undefined);
    const value = parsed.success ? shown(key, parsed.data) : '(required)';
    return `| \`${key}\` | ${value} | ${schema.description ?? ''} |`;
  });
  return ['| threshold | default | what |', '|---|---|---|', ...rows].join('\n');
}
