import { z } from 'zod';
import { thresholds as collection } from './collection-visits.ts';
import { thresholds as lowBattery } from './low-battery.ts';
import { thresholds as lowStorage } from './low-storage.ts';
import { thresholds as notRecording } from './not-recording.ts';
import { thresholds as notUploaded } from './not-uploaded.ts';
import { thresholds as outOfArea } from './out-of-area.ts';
import { thresholds as outOfGrid } from './out-of-grid.ts';
import { thresholds as sweepCoverage } from './sweep-coverage.ts';
import { thresholds as sweepOverspeed } from './sweep-overspeed.ts';

/**
 * The thresholds of the sanitation and body-camera rules (issue 15), each declared ONCE, as a zod schema
 * with its default and description in its rule module (issue 11, "one schema per contract"). This is
 * their union: the engine's Thresholds type and defaults (model.ts), the registry's validation, the
 * API's threshold schema (OpenAPI), the scenario file and the README table are derived from it.
 */
export const PLAN_RULE_THRESHOLDS = z.object({
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

export type PlanRuleThresholds = z.infer<typeof PLAN_RULE_THRESHOLDS>;

export const DEFAULT_PLAN_RULE_THRESHOLDS: PlanRuleThresholds = Object.freeze(PLAN_RULE_THRESHOLDS.parse({}));

/** The same keys, each optional and without its default: overrides (a permit's, a PUT's). */
export const PLAN_RULE_THRESHOLD_OVERRIDES = z.object(
  Object.fromEntries(
    Object.entries(PLAN_RULE_THRESHOLDS.shape).map(([k, s]) => [
      k,
      ((s as z.ZodDefault).unwrap() as z.ZodType).optional().describe(s.description ?? k),
    ]),
  ) as { [K in keyof PlanRuleThresholds]: z.ZodOptional<z.ZodType<PlanRuleThresholds[K]>> },
);

/** A default as the README shows it: durations in ms also in minutes or hours. */
function shown(key: string, v: unknown): string {
  if (typeof v === 'number' && key.endsWith('Ms') && v >= 60_000) {
    return v % 3_600_000 === 0 ? `${v} (${v / 3_600_000} h)` : `${v} (${v / 60_000} min)`;
  }
  return String(v);
}

/**
 * The README's table of these thresholds, rendered from the schema (test/readme-plans.test.ts checks
 * that the README holds exactly this, so the two cannot drift).
 */
export function planThresholdsTable(): string {
  const rows = Object.entries(PLAN_RULE_THRESHOLDS.shape).map(([key, schema]) => {
    const v = (DEFAULT_PLAN_RULE_THRESHOLDS as Record<string, unknown>)[key];
    return `| \`${key}\` | ${shown(key, v)} | ${schema.description ?? ''} |`;
  });
  return ['| threshold | default | what |', '|---|---|---|', ...rows].join('\n');
}
