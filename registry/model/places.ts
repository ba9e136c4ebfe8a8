import { z } from 'zod';
import {
  DEFAULT_CORRIDOR_M,
  validateCorridor,
  validateLimits,
  validateLine,
  validatePolygons,
  validateSpeed,
  validateWindows,
} from '../geometry.ts';
import { oneOf, refinedBy, textField } from './fields.ts';
import { VEHICLE_KINDS } from './fleet.ts';
import { reportIssues } from './issues.ts';

/**
 * Sites, routes and zones as the compliance registry stores them (the engine's shapes: geofence/model.ts),
 * declared once: the registry validates with these schemas (registry/compliance/inputs.ts), and the API's
 * GeoJSON Feature properties are their fields less the geometry (api/compliance-schemas.ts). Geometry is
 * checked by registry/geometry.ts's validators (closed rings, no self-intersection, holes inside), which
 * name the vertex at fault; registry/geojson.ts rewrites the paths into the Feature.
 */

export const SITE_KINDS = ['origin', 'disposal'] as const;
export const ZONE_KINDS = ['restricted', 'speed'] as const;

/** Polygons and lines: their validators do every check, from the type on, and name the vertex. */
const polygons = z.unknown().superRefine(refinedBy(validatePolygons));
const line = z.unknown().superRefine(refinedBy(validateLine));

/** Daily windows "HH:MM-HH:MM" in China Standard Time (geofence/geo/windows.ts parseWindow). */
export const windowsField = (min = 0) =>
  z
    .array(z.string({ error: 'a window must be a "HH:MM-HH:MM" string' }), {
      error: 'windows must be a list of "HH:MM-HH:MM" strings',
    })
    .superRefine(refinedBy((w, path) => validateWindows(w, path, { min })))
    .describe('daily windows "HH:MM-HH:MM" in China Standard Time; may cross midnight');

const speed = z
  .number({ error: 'speed limit must be a number of km/h in (0, 250]' })
  .superRefine(refinedBy(validateSpeed));

export const SiteFields = {
  kind: oneOf(SITE_KINDS).describe('origin: construction site (工地); disposal: 消纳场'),
  name: textField(),
  polygons,
};

export const RouteLimitSchema = z
  .strictObject({
    from: z.number().int().describe('index of the first vertex of the stretch (inclusive)'),
    to: z.number().int().describe('index of the last vertex of the stretch (inclusive)'),
    speedLimitKmh: z.number().optional().describe('day limit, km/h'),
    nightLimitKmh: z.number().optional().describe('limit inside the night windows of the thresholds, km/h'),
  })
  .meta({ id: 'RouteLimit' });

export const RouteFields = {
  name: textField(),
  line,
  corridorM: z
    .number({ error: 'corridor width must be a number of metres' })
    .superRefine(refinedBy(validateCorridor))
    .default(DEFAULT_CORRIDOR_M)
    .describe(`corridor half-width each side, metres (default ${DEFAULT_CORRIDOR_M}, at most 1000)`),
  limits: z
    .array(RouteLimitSchema, { error: 'limits must be a list' })
    .default([])
    .describe('speed limits of stretches of the line'),
};

/** A route's limits name vertices of its line (checked once the line is sound). */
function checkLimits(route: { line: unknown; limits: unknown }, ctx: z.RefinementCtx): void {
  if (validateLine(route.line, 'line').length > 0) return;
  reportIssues(ctx, validateLimits(route.limits, (route.line as unknown[]).length, 'limits'));
}

export const ZoneFields = {
  kind: oneOf(ZONE_KINDS).describe('restricted: 禁行区; speed: a speed limit'),
  name: textField(),
  polygons,
  windows: windowsField()
    .default([])
    .describe('when it applies; empty or absent: all day (restricted: a permanent ban)'),
  speedLimitKmh: speed.optional().describe('speed zones: km/h'),
  appliesTo: z
    .array(oneOf(VEHICLE_KINDS), { error: "must be a non-empty list of 'muck_truck', 'sanitation'" })
    .min(1, "must be a non-empty list of 'muck_truck', 'sanitation'")
    .optional()
    .describe('unit kinds it applies to (default muck trucks)'),
};

/** A speed zone states its limit. */
export function checkZone(
  zone: { kind: (typeof ZONE_KINDS)[number]; speedLimitKmh?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  if (zone.kind === 'speed' && zone.speedLimitKmh === undefined) {
    ctx.addIssue({ code: 'custom', path: ['speedLimitKmh'], message: 'required for a speed zone' });
  }
}

export const SiteBodySchema = z.object(SiteFields);
export const RouteBodySchema = z.object(RouteFields).superRefine(checkLimits);
export const ZoneBodySchema = z.object(ZoneFields).superRefine(checkZone);
