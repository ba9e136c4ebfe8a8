import { z } from 'zod';
import { TimeZoneSchema } from '../../core/instants.ts';
import { VIOLATION_CODES } from '../../geofence/model.ts';

/** The scorecard routes' schemas (api/scorecards.ts). */

const count = z.number().int().nonnegative();
const rate = z.number().nullable();

export const ScorecardSchema = z
  .object({
    month: z.string().describe('YYYY-MM, China Standard Time'),
    firm: z.string(),
    firmName: z.string().optional(),
    rank: z
      .number()
      .int()
      .positive()
      .nullable()
      .describe(
        '1 = best (violations per 100 trips, then per 1,000 km, then open violations); null: no trip and no violation',
      ),
    rankedFirms: count.describe('how many firms were ranked'),
    trips: count.describe('completed trips loaded in the month'),
    compliantTrips: count,
    compliantShare: rate.describe('compliantTrips / trips, 0..1 (4 decimals); null without trips'),
    km: z.number().describe('distance of those trips, km (2 decimals)'),
    violations: count.describe('violations that started in the month'),
    violationsByCode: z.object(Object.fromEntries(VIOLATION_CODES.map((c) => [c, count]))),
    per100Trips: rate.describe('violations per 100 trips (2 decimals); null without trips'),
    per1000Km: rate.describe('violations per 1,000 km (2 decimals); null without km'),
    openViolations: count.describe('the month’s violations whose enforcement status is not closed'),
  })
  .meta({ id: 'FirmScorecard', description: '月度考核: one firm’s figures for a month' });

const share = z.number().nullable();
const byCode = z.object(Object.fromEntries(VIOLATION_CODES.map((c) => [c, count])));

export const SanitationSectionSchema = z
  .object({
    firm: z.string(),
    firmName: z.string().optional(),
    vehicles: count.describe('vehicles its sweep plans and collection points name, or registered to it'),
    violations: count.describe('violations of those vehicles that started in the month'),
    violationsByCode: byCode,
    sweepShifts: count.describe('sweep shifts of the month that had ended'),
    plannedKm: z.number(),
    sweptKm: z.number(),
    coverage: share.describe('sweptKm / plannedKm, 0..1; null without a shift'),
    collectionWindows: count,
    onTime: count,
    late: count,
    missed: count,
    onTimeShare: share.describe('onTime / (onTime + late + missed), 0..1; null without a decided window'),
  })
  .meta({ id: 'SanitationScorecard', description: 'a sanitation team’s (firm’s) month' });

export const EnforcementSectionSchema = z
  .object({
    firm: z.string(),
    firmName: z.string().optional(),
    cameras: count.describe('body cameras its duty plans name, or registered to it'),
    violations: count.describe('violations of those cameras that started in the month'),
    violationsByCode: byCode,
    shifts: count.describe('camera shifts of the month that had ended'),
    dutyHours: z.number(),
    heardShare: share.describe('of the shifts’ length, 0..1; null without a shift'),
    recordingShare: share,
    inGridShare: share,
  })
  .meta({ id: 'EnforcementScorecard', description: 'an enforcement squad’s (department’s) month' });

export const ScorecardListSchema = z
  .object({
    month: z.string(),
    from: z.string().describe('first instant of the month, ISO-8601 UTC'),
    to: z.string().describe('first instant of the next month, ISO-8601 UTC (exclusive)'),
    items: z.array(ScorecardSchema).describe('in rank order; unranked firms last'),
    sanitationTeams: z
      .array(SanitationSectionSchema)
      .describe('firms with sweep plans, collection points or sanitation vehicles, by firm id (not ranked)'),
    enforcementSquads: z
      .array(EnforcementSectionSchema)
      .describe('firms with duty plans or body cameras, by firm id (not ranked)'),
  })
  .meta({ id: 'FirmScorecards' });

export const OneScorecardSchema = ScorecardSchema.extend({
  sanitation: SanitationSectionSchema.omit({ firm: true, firmName: true }).optional(),
  enforcement: EnforcementSectionSchema.omit({ firm: true, firmName: true }).optional(),
}).meta({ id: 'FirmScorecardWithSections' });

const CsvSchema = z
  .string()
  .describe(
    'RFC 4180 with a UTF-8 byte order mark: CRLF line ends, a header line, one firm per row; columns month, ' +
      "from, to (the month's first instant and the next month's, ISO 8601 in the `tz` zone with its offset), " +
      'rank, rankedFirms, firm, firmName, trips, compliantTrips, compliantShare, km, violations, per100Trips, ' +
      'per1000Km, openViolations, then one column per violation code; empty cell = null',
  );

export const QuerySchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'expected YYYY-MM')
    .optional()
    .describe('the month, YYYY-MM (China Standard Time); default the current month in China Standard Time'),
  format: z.enum(['json', 'csv']).optional().describe('json or csv; overrides the Accept header'),
  tz: TimeZoneSchema.optional().describe(
    'CSV only: the time zone of its from and to columns (ISO 8601 local time with the offset); default ' +
      'Asia/Shanghai. The month itself is always China Standard Time (the 考核 calendar); JSON stays UTC',
  ),
});

export const FirmParamsSchema = z.object({ firm: z.string().min(1).max(128).describe('firm id') });

export const both = (description: string, json: z.ZodType) => ({
  description,
  content: { 'application/json': { schema: json }, 'text/csv': { schema: CsvSchema } },
});
