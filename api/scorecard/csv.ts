/**
 * Scorecards as CSV (RFC 4180, api/csv.ts): CRLF line ends, a header line, fields quoted when they hold a comma, a
 * quote, CR or LF; one firm per row, in rank order. The text starts with a UTF-8 byte order mark because
 * the people who open it are in city offices, with spreadsheet software that reads a CSV without one
 * in the local code page (GBK) and garbles the firm names; parsers that know UTF-8 skip it.
 */

import { DEFAULT_FILE_TIME_ZONE, zonedIso } from '../../core/instants.ts';
import { VIOLATION_CODES } from '../../geofence/model.ts';
import { csvText } from '../csv.ts';
import type { FirmScorecard } from './compute.ts';
import type { MonthRange } from './month.ts';

export const SCORECARD_CSV_COLUMNS: readonly string[] = [
  'month',
  'from',
  'to',
  'rank',
  'rankedFirms',
  'firm',
  'firmName',
  'trips',
  'compliantTrips',
  'compliantShare',
  'km',
  'violations',
  'per100Trips',
  'per1000Km',
  'openViolations',
  ...VIOLATION_CODES,
];

/**
 * `names` gives each firm's display name (empty when unknown); `range` the month's instants, written as
 * local times of `tz` (the city's by default: people open these files).
 */
export function scorecardsCsv(
  cards: readonly FirmScorecard[],
  names: (firm: string) => string | undefined,
  range: Pick<MonthRange, 'fromMs' | 'toMs'>,
  tz = DEFAULT_FILE_TIME_ZONE,
): string {
  const local = zonedIso(tz);
  const span = { from: local(range.fromMs), to: local(range.toMs) };
  const rows = cards.map((card) => ({
    ...card,
    ...card.violationsByCode,
    ...span,
    firmName: names(card.firm),
  }));
  return `\uFEFF${csvText(SCORECARD_CSV_COLUMNS, rows)}`;
}

/**
 * json or csv: `format` when given, else the Accept header (the higher quality of application/json and
 * text/csv, json on a tie or without a header); undefined when the header accepts neither (406).
 */
export function chooseScorecardFormat(
  format: 'json' | 'csv' | undefined,
  accept: string | undefined,
): 'json' | 'csv' | undefined {
  if (format !== undefined) return format;
  if (accept === undefined || accept.trim() === '') return 'json';
  const q = { json: 0, csv: 0 };
  const specificity = { json: 0, csv: 0 };
  let parsed = false;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const m = /^([\w.+*-]+)\/([\w.+*-]+)$/.exec(range);
    if (!m) continue;
    parsed = true;
    const qm = params.map((p) => /^q=([01](?:\.\d{0,3})?)$/.exec(p)).find((x) => x !== null);
    const quality = qm ? Number(qm[1]) : 1;
    // most specific range wins per type: exact > type/* > */*
    const rank = (type: string, sub: string) =>
      m[1] === type && m[2] === sub
        ? 3
        : m[1] === type && m[2] === '*'
          ? 2
          : m[1] === '*' && m[2] === '*'
            ? 1
            : 0;
    for (const [key, type, sub] of [
      ['json', 'application', 'json'],
      ['csv', 'text', 'csv'],
    ] as const) {
      const r = rank(type, sub);
      if (r > specificity[key]) {
        specificity[key] = r;
        q[key] = quality;
      }
    }
  }
  if (!parsed) return 'json';
  if (q.json === 0 && q.csv === 0) return undefined;
  return q.csv > q.json ? 'csv' : 'json';
}
