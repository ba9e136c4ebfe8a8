import { z } from 'zod';
import { parseWindow } from '../geo/windows.ts';

/**
 * The kinds of value a rule threshold takes, as zod schemas with one error message per kind (issue 11,
 * "one schema per contract"). Every rule module declares its thresholds with these, once, with the
 * default and a description; the registry, the API (and its OpenAPI document), the scenario file and
 * the README table are all built from those declarations (geofence/thresholds/). The messages are the
 * ones the registry gave before the schemas existed, so a client reading them sees no change.
 */

const NON_NEGATIVE = 'must be a non-negative number';
const POSITIVE_INTEGER = 'must be a positive integer';
const NON_NEGATIVE_LIST = 'must be a list of non-negative numbers';
const UNIT_KINDS_WITH_SPEED = ['muck_truck', 'sanitation'] as const;

const nonNegative = () => z.number({ error: NON_NEGATIVE }).min(0, { error: NON_NEGATIVE });

/** A duration in ms (keys end in `Ms`). */
export const durationMs = (defaultMs: number, what: string) =>
  nonNegative().default(defaultMs).describe(what);

/** A speed in km/h (keys end in `Kmh`). */
export const speedKmh = (defaultKmh: number, what: string) =>
  nonNegative().default(defaultKmh).describe(what);

/** A distance in metres (keys end in `M`). */
export const metres = (defaultM: number, what: string) => nonNegative().default(defaultM).describe(what);

/** A weight in tonnes (keys end in `T`). */
export const tonnes = (defaultT: number, what: string) => nonNegative().default(defaultT).describe(what);

/** A dimensionless non-negative figure: a factor, a share (0..1), a percentage. */
export const figure = (defaultValue: number, what: string) =>
  nonNegative().default(defaultValue).describe(what);

/** A count of fixes or of anything else: at least 1. */
export const count = (defaultCount: number, what: string) =>
  z
    .number({ error: POSITIVE_INTEGER })
    .int({ error: POSITIVE_INTEGER })
    .min(1, { error: POSITIVE_INTEGER })
    .default(defaultCount)
    .describe(what);

/** A list of non-negative numbers (escalation steps in ms, grades as fractions). */
export const figures = (defaults: number[], what: string) =>
  z
    .array(z.number({ error: NON_NEGATIVE_LIST }).min(0, { error: NON_NEGATIVE_LIST }), {
      error: NON_NEGATIVE_LIST,
    })
    .default(() => [...defaults])
    .describe(what);

/**
 * Daily windows "HH:MM-HH:MM" in China Standard Time (may cross midnight), checked by the engine's own
 * parser so that what the registry accepts is what the engine can read.
 */
export const dailyWindows = (defaults: string[], what: string) =>
  z
    .array(
      z.string({ error: 'a window must be a "HH:MM-HH:MM" string' }).superRefine((text, ctx) => {
        try {
          parseWindow(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
      { error: 'windows must be a list of "HH:MM-HH:MM" strings' },
    )
    .default(() => [...defaults])
    .describe(what);

/** A speed limit per unit kind in km/h (body cameras are never judged for speed); a kind left out has none. */
export const speedLimitsByKind = (
  defaults: Partial<Record<(typeof UNIT_KINDS_WITH_SPEED)[number], number>>,
  what: string,
) => {
  const limit = z
    .number({ error: 'must be a positive number (km/h)' })
    .positive({ error: 'must be a positive number (km/h)' });
  return z
    .strictObject(
      { muck_truck: limit.optional(), sanitation: limit.optional() },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? 'unknown unit kind'
            : `must be an object with ${UNIT_KINDS_WITH_SPEED.join(' and/or ')}`,
      },
    )
    .default(() => ({ ...defaults }))
    .describe(what);
};
