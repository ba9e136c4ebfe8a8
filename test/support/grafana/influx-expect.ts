/**
 * What each InfluxQL query of the dashboards is meant to show (test/grafana/influxql-queries.test.ts): the
 * tags and columns of its series and more checks on its rows, keyed by
 * `<file> | <panel title or annotation/variable> | <refId>`. Every query needs an expectation here: a panel
 * added without one fails, and an expectation left over from a panel since removed fails too.
 */
import type { World } from './world.ts';

export interface InfluxExpect {
  /** GROUP BY tags every series carries (time series: its labels; table: its columns) */
  tags?: string[];
  /** columns every series has */
  columns?: string[];
  /** more checks on the rows; a message when something is wrong */
  check?: (rows: Record<string, unknown>[], w: World) => string | undefined;
}

function rowsAre(key: string, allowed: (v: unknown) => boolean, what: string) {
  return (rows: Record<string, unknown>[]) => {
    const bad = rows.filter((r) => !allowed(r[key]));
    return bad.length === 0
      ? undefined
      : `${bad.length} rows with ${key} not ${what}: ${JSON.stringify(bad[0])}`;
  };
}

const nonEmptyColumn = (key: string) =>
  rowsAre(key, (v) => typeof v === 'string' && v.length > 0, 'a non-empty string');

export const INFLUX_EXPECT: Record<string, InfluxExpect> = {
  'fleet-overview.json | Latest positions by kind and state | A': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon', 'speed'],
    check: rowsAre('kind', (v) => v === 'muck_truck', 'muck_truck'),
  },
  'fleet-overview.json | Latest positions by kind and state | B': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon', 'speed'],
    check: rowsAre('kind', (v) => v === 'sanitation', 'sanitation'),
  },
  'fleet-overview.json | Latest positions by kind and state | C': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['lat', 'lon'],
    check: rowsAre('kind', (v) => v === 'body_camera', 'body_camera'),
  },
  'fleet-overview.json | Units reporting and silent, by kind and firm | A': {
    tags: ['kind', 'firm'],
    columns: ['reporting'],
    check: (rows, w) => {
      const total = rows.reduce((n, r) => n + Number(r.reporting), 0);
      return total === w.reporting ? undefined : `${total} reporting, expected ${w.reporting}`;
    },
  },
  'fleet-overview.json | Units reporting and silent, by kind and firm | B': {
    tags: ['kind', 'firm'],
    columns: ['silent'],
    check: (rows, w) =>
      rows.length === 1 &&
      rows[0]!.kind === w.silent.kind &&
      rows[0]!.firm === w.silent.firm &&
      rows[0]!.silent === 1
        ? undefined
        : `expected one silent ${w.silent.kind} of ${w.silent.firm}: ${JSON.stringify(rows)}`,
  },
  'fleet-overview.json | Fixes per minute, by kind | A': {
    tags: ['kind'],
    check: (rows) => {
      const kinds = new Set(rows.map((r) => r.kind));
      return kinds.size === 3 ? undefined : `kinds ${[...kinds]}`;
    },
  },
  'fleet-overview.json | Report interval by kind: p95 and longest gap | A': {
    tags: ['kind'],
    columns: ['p95', 'max'],
    check: (rows) => {
      const p95 = rows.map((r) => Number(r.p95)).filter((n) => n > 0);
      // devices report every 10-30 s
      return p95.length > 0 && p95.every((s) => s >= 1 && s <= 600) ? undefined : `p95 ${p95.slice(0, 5)}`;
    },
  },
  'fleet-overview.json | Silent units | A': {
    tags: ['vehicle', 'kind', 'firm'],
    columns: ['received'],
    check: (rows, w) => {
      const vehicles = rows.map((r) => r.vehicle);
      return vehicles.length === 1 && vehicles[0] === w.silent.vehicle
        ? undefined
        : `silent units ${vehicles}, expected ${w.silent.vehicle}`;
    },
  },
  'compliance.json | Violations by type | A': {
    tags: ['code'],
    check: (rows) => {
      const codes = new Set(rows.map((r) => r.code));
      return ['OFF_ROUTE', 'OVERSPEED', 'SPILLAGE'].every((c) => codes.has(c))
        ? undefined
        : `codes ${[...codes]}`;
    },
  },
  'compliance.json | Violations by firm | A': { tags: ['firm'], columns: ['violations'] },
  'compliance.json | Violations by hour of day (China Standard Time) | A': {
    columns: ['violations'],
    check: (rows) =>
      rows.reduce((n, r) => n + Number(r.violations), 0) > 0 ? undefined : 'no violation in any hour',
  },
  'compliance.json | Open violations: nobody has taken them up yet | A': {
    columns: ['id', 'code', 'firm', 'vehicle', 'level', 'lifecycle', 'durationMs', 'permit', 'route'],
    check: rowsAre('id', (v) => typeof v === 'string' && /:[A-Z_]+:\d+$/.test(v), 'a violation id'),
  },
  'compliance.json | Top routes by violations | A': {
    columns: ['route', 'seq'],
    check: nonEmptyColumn('route'),
  },
  'compliance.json | Top construction sites by violations on their trips | A': {
    columns: ['originSite', 'violationCount'],
    check: nonEmptyColumn('originSite'),
  },
  'compliance.json | Top disposal sites by violations on their trips | A': {
    columns: ['disposalSite', 'violationCount'],
    check: nonEmptyColumn('disposalSite'),
  },
  // run once per permit (the panel repeats): see the test of the repeated panel
  'compliance.json | Trips per day: $permit | A': { columns: ['trips'] },
  'compliance.json | Trips per day: $permit | B': { columns: ['compliant'] },
  'compliance.json | Firm ranking (月度考核): violations per 100 trips | A': {
    tags: ['firm'],
    columns: ['violations'],
  },
  'compliance.json | Firm ranking (月度考核): violations per 100 trips | B': {
    tags: ['firm'],
    columns: ['trips'],
  },
  'vehicle.json | Speed | A': { columns: ['speed'] },
  'vehicle.json | Load weight | A': { columns: ['weight'] },
  'vehicle.json | Load, cover, lift and ignition | A': {
    columns: ['load', 'cover', 'lift', 'ignition'],
    check: (rows) => {
      const loads = new Set(rows.map((r) => r.load));
      return loads.has('full') && loads.has('empty') ? undefined : `load states ${[...loads]}`;
    },
  },
  'vehicle.json | Violations over time, by type | A': {
    tags: ['code'],
    check: (rows) => (rows.some((r) => r.code === 'OVERSPEED') ? undefined : 'no OVERSPEED'),
  },
  'vehicle.json | Violations of the unit | A': {
    columns: ['id', 'code', 'level', 'lifecycle', 'enforcement'],
    check: (rows) => (rows.some((r) => r.code === 'OVERSPEED') ? undefined : 'no OVERSPEED'),
  },
  'vehicle.json | annotation: Violations | Anno': {
    columns: ['code', 'id', 'endTs'],
    check: nonEmptyColumn('id'),
  },
};
