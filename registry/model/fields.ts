import { z } from 'zod';
import type { ValidationIssue } from './issues.ts';
import { reportIssues } from './issues.ts';

/**
 * Field schemas shared by the compliance registry's entities (registry/model/places.ts, permit.ts), with
 * the messages the registry reports. A check that zod cannot state (a ring that crosses itself, a
 * window "HH:MM-HH:MM", a date that exists) is one of registry/geometry.ts's validators, run as the
 * field's refinement: its issues keep their paths under the field (`polygons[0][1]`, `windows[2]`).
 */

/** A validator of registry/geometry.ts as a zod refinement: its issues under the field's path. */
export const refinedBy =
  (validate: (value: unknown, path: string) => ValidationIssue[]) =>
  (value: unknown, ctx: z.RefinementCtx): void =>
    reportIssues(ctx, validate(value, ''));

/** One of some values, refused with the list of them. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => `'${v}'`).join(', ')}` });

/** A display text: not blank, at most `max` characters (stored as given). */
export const textField = (max = 200) =>
  z
    .string({ error: 'must be a non-empty string' })
    .refine((s) => s.trim().length > 0, 'must be a non-empty string')
    .max(max, `must be at most ${max} characters`);

/** References to other entities (the registry checks they exist): at least `min`, none twice. */
export const idListField = (min = 1) =>
  z
    .array(z.string({ error: 'not a valid id' }).min(1, 'not a valid id').max(256, 'not a valid id'), {
      error: 'must be a list of ids',
    })
    .min(min, `at least ${min} required`)
    .superRefine((ids, ctx) => {
      const seen = new Set<string>();
      ids.forEach((id, i) => {
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate '${id}'` });
        seen.add(id);
      });
    });
