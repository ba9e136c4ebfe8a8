import { z } from 'zod';
import { dayNumberOf } from '../../geofence/geo/windows.ts';
import { THRESHOLD_OVERRIDES } from '../../geofence/thresholds/index.ts';
import { PERMIT_STATES } from '../permit-workflow.ts';
import { idListField, oneOf, textField } from './fields.ts';
import { windowsField } from './places.ts';

/**
 * A disposal permit (建筑垃圾处置核准) as the compliance registry stores it, declared once: the registry
 * validates with it (registry/compliance/inputs.ts) and the API's permit body is built from its fields
 * (api/compliance-schemas.ts). That the sites and routes it names exist is the registry's to check.
 */

/** A local date "YYYY-MM-DD" that exists (Asia/Shanghai). */
const localDate = z.string({ error: 'a date must be a "YYYY-MM-DD" string' }).superRefine((date, ctx) => {
  try {
    dayNumberOf(date);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const PermitFields = {
  firm: textField(128).describe('transport firm id'),
  vehicles: idListField().describe('vehicle ids'),
  origins: idListField().describe('origin site ids (工地)'),
  disposals: idListField().describe('disposal site ids (消纳场)'),
  routes: idListField().describe('route ids'),
  validFrom: localDate.describe('first local date, YYYY-MM-DD (Asia/Shanghai)'),
  validTo: localDate.describe('last local date, inclusive'),
  windows: windowsField(1).describe('permitted hours'),
  cargo: z.string({ error: 'must be a string' }).max(200, 'must be at most 200 characters'),
  state: oneOf(PERMIT_STATES),
  thresholds: THRESHOLD_OVERRIDES.optional().describe('overrides of the city thresholds for this permit'),
};

/** validTo is not before validFrom (both dates that exist). */
export function checkPermitDates(permit: { validFrom: string; validTo: string }, ctx: z.RefinementCtx): void {
  let from: number;
  let to: number;
  try {
    from = dayNumberOf(permit.validFrom);
    to = dayNumberOf(permit.validTo);
  } catch {
    return; // reported on the field
  }
  if (from > to) {
    ctx.addIssue({
      code: 'custom',
      path: ['validTo'],
      message: `${permit.validTo} is before ${permit.validFrom} (validFrom)`,
    });
  }
}

export const PermitBodySchema = z.object(PermitFields).superRefine(checkPermitDates);
