import { z } from 'zod';
import type { ValidationIssue } from '../geometry.ts';
import { validatePosition } from '../geometry.ts';
import { IdReferenceSchema } from '../ids.ts';

/**
 * Incidents (issue 15, item 5) as the compliance registry stores them (the engine's shape:
 * geofence/plans.ts Incident). They are written by the dispatch desk (dispatch/incidents.ts), never as
 * a whole by a client: creation, assignment, arrival and closing are each a new version, so the record
 * of an incident is its version history. The schema checks the stored shape and its order of events.
 */

const instant = z.number().int().nonnegative().describe('epoch ms');

export const IncidentStoredSchema = z.strictObject({
  title: z.string().trim().min(1).max(500),
  position: z.array(z.number()),
  radiusM: z.number().positive().max(5000),
  openedAt: instant,
  unit: IdReferenceSchema.optional(),
  assignedAt: instant.optional(),
  arrivedAt: instant.optional(),
  closedAt: instant.optional(),
});

/** How many closed incidents the engine's snapshot keeps (the latest closed): late fixes of them judge. */
export const CLOSED_INCIDENTS_IN_SNAPSHOT = 1000;

export function normalizeIncident(input: Record<string, unknown>): {
  value: Record<string, unknown>;
  issues: ValidationIssue[];
} {
  const { id: _id, ...body } = input;
  const parsed = IncidentStoredSchema.safeParse(body);
  if (!parsed.success) {
    return {
      value: {},
      issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    };
  }
  const v = parsed.data;
  const issues: ValidationIssue[] = [...validatePosition(v.position, 'position')];
  if ((v.unit === undefined) !== (v.assignedAt === undefined)) {
    issues.push({ path: 'assignedAt', message: 'an assignment names the unit and its instant' });
  }
  if (v.arrivedAt !== undefined && v.assignedAt === undefined) {
    issues.push({ path: 'arrivedAt', message: 'an arrival needs an assignment' });
  }
  return { value: structuredClone(v) as Record<string, unknown>, issues };
}
