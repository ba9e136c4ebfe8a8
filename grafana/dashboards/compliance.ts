import { PanelBuilder as BarChartPanel } from '@grafana/grafana-foundation-sdk/barchart';
import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BarGaugeValueMode,
  GraphDrawStyle,
  ReduceDataOptionsBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  type DataTransformerConfig,
  type QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { TRIP_MEASUREMENT as TRIP, VIOLATION_MEASUREMENT as VIOLATION } from '../../store/influx/events.ts';
import { citywatchDashboard, legend, named, panelIds, thresholds, topBy } from '../lib/common.ts';
import { INFLUX } from '../lib/datasources.ts';
import { influxql, regexMatch } from '../lib/influxql.ts';
import {
  ALL,
  codeVariable,
  consoleVariable,
  firmVariable,
  multiQueryVariable,
  transportFirmVariable,
} from '../lib/variables.ts';
import { stackedCounts, violationColumns } from '../lib/violation-panels.ts';

/**
 * Compliance: the violations (by type, firm, hour of day), the ones nobody has taken up yet (linked to
 * the console), where they happen (routes, sites), the trips of each permit, and the firms' ranking.
 * InfluxDB, the event measurements of store/influx/events.ts: `violation` (one point per violation at
 * its start, tags code, firm, vehicle; `enforcement` = the city's status, `status` = the engine's
 * lifecycle, `route` = the route the judgement names) and `trip` (one point per trip at its loading,
 * tags firm, vehicle; `status` completed once unloaded, with `violationCount`, `permit`, the sites).
 * These measurements carry no `kind` tag (violations and trips are muck-truck business almost entirely),
 * so the dashboard filters by firm and type, not by kind.
 */

export const COMPLIANCE_UID = 'citywatch-compliance';

const BY_FIRM = regexMatch('firm', 'firm');
const VIOLATIONS = `${BY_FIRM} AND ${regexMatch('code', 'code')} AND $timeFilter`;
const COMPLETED_TRIPS = `"status" = 'completed' AND ${BY_FIRM} AND $timeFilter`;
/** the firms the monthly assessment ranks: transport firms (hidden variable), within the chosen ones */
const ASSESSED = `${BY_FIRM} AND ${regexMatch('firm', 'transport')}`;

function permitVariable(): QueryVariableBuilder {
  const query = `SELECT DISTINCT("permit") FROM "${TRIP}" WHERE "permit" != '' AND ${BY_FIRM} AND $timeFilter`;
  return multiQueryVariable(
    'permit',
    (b) =>
      b
        .label('Permit 核准')
        .description(
          'Disposal permits with trips in the range (the trips panel repeats for each one chosen)',
        ),
    INFLUX,
    query,
    VariableRefresh.OnTimeRangeChanged,
  )
    .allValue('.*')
    .current(ALL);
}

/** hours of the local day 00..23: the hourly counts grouped by their hour (Grafana transformations) */
const BY_HOUR_OF_DAY: DataTransformerConfig[] = [
  { id: 'formatTime', options: { timeField: 'Time', outputFormat: 'HH', useTimezone: true } },
  {
    id: 'groupBy',
    options: {
      fields: {
        Time: { operation: 'groupby', aggregations: [] },
        violations: { operation: 'aggregate', aggregations: ['sum'] },
      },
    },
  },
  { id: 'sortBy', options: { sort: [{ field: 'Time' }] } },
  { id: 'organize', options: { renameByName: { Time: 'hour', 'violations (sum)': 'violations' } } },
];

/** violations per 100 completed trips, by firm (the headline rate of the 月度考核, api/scorecard) */
const PER_100_TRIPS: DataTransformerConfig[] = [
  { id: 'joinByField', options: { byField: 'firm', mode: 'outer' } },
  {
    id: 'calculateField',
    options: {
      mode: 'binary',
      binary: { left: 'violations', operator: '/', right: 'trips' },
      alias: 'per trip',
    },
  },
  {
    id: 'calculateField',
    options: {
      mode: 'binary',
      binary: { left: 'per trip', operator: '*', right: '100' },
      alias: 'violations per 100 trips',
    },
  },
  {
    id: 'organize',
    options: { excludeByName: { 'Time 1': true, 'Time 2': true, Time: true, 'per trip': true } },
  },
  { id: 'sortBy', options: { sort: [{ field: 'violations per 100 trips', desc: false }] } },
];

/** The ten sites at one end of the completed trips (loading or unloading) with the most violations on them. */
function topSites(
  id: () => number,
  site: 'originSite' | 'disposalSite',
  title: string,
  description: string,
): TablePanel {
  return new TablePanel()
    .id(id())
    .title(title)
    .description(description)
    .span(8)
    .height(9)
    .withTarget(
      influxql(
        `SELECT "${site}", "violationCount" FROM "${TRIP}" WHERE "${site}" != '' AND ${COMPLETED_TRIPS}`,
      ).table(),
    )
    .transformations(topBy(site, 'violationCount', 'sum', 10))
    .overrideByName('violationCount (sum)', named('violations'));
}

export function compliance(): Dashboard {
  const id = panelIds();

  const byType = stackedCounts(
    new TimeseriesPanel()
      .id(id())
      .legend(legend())
      .title('Violations by type')
      .description('Violations by the time they started (one count per violation, whatever its later phases)')
      .span(12)
      .height(9),
  ).withTarget(
    influxql(
      `SELECT count("seq") FROM "${VIOLATION}" WHERE ${VIOLATIONS} GROUP BY time($__interval), "code" fill(0)`,
    ).alias('$tag_code'),
  );

  const byFirm = new BarChartPanel()
    .id(id())
    .legend(legend())
    .title('Violations by firm')
    .span(6)
    .height(9)
    .orientation(VizOrientation.Horizontal)
    .xField('firm')
    .withTarget(
      influxql(
        `SELECT count("seq") AS "violations" FROM "${VIOLATION}" WHERE ${VIOLATIONS} GROUP BY "firm"`,
      ).table(),
    )
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } });

  const byHour = new BarChartPanel()
    .id(id())
    .legend(legend())
    .title('Violations by hour of day (China Standard Time)')
    .description('When in the day violations start, summed over the days of the range')
    .span(6)
    .height(9)
    .xField('hour')
    .withTarget(
      influxql(
        `SELECT count("seq") AS "violations" FROM "${VIOLATION}" WHERE ${VIOLATIONS} GROUP BY time(1h) fill(0) tz('Asia/Shanghai')`,
      ).table(),
    )
    .transformations(BY_HOUR_OF_DAY);

  const open = violationColumns(
    new TablePanel()
      .id(id())
      .title('Open violations: nobody has taken them up yet')
      .description(
        'Violations whose enforcement status is still open (GET /api/v1/violations?status=open), newest first, at most 500. The id opens the violation in the console (set the console URL above). lifecycle: whether the behaviour is still going on.',
      )
      .span(24)
      .height(10)
      .withTarget(
        influxql(
          `SELECT "id", "code", "firm", "vehicle", "level", "status" AS "lifecycle", "durationMs", "permit", "route" FROM "${VIOLATION}" WHERE "enforcement" = 'open' AND ${VIOLATIONS} ORDER BY time DESC LIMIT 500`,
        ).table(),
      ),
  );

  const topRoutes = new TablePanel()
    .id(id())
    .title('Top routes by violations')
    .description(
      'Violations judged against a permitted route (OFF_ROUTE, OVERSPEED on a route segment), by route',
    )
    .span(8)
    .height(9)
    .withTarget(
      influxql(`SELECT "route", "seq" FROM "${VIOLATION}" WHERE "route" != '' AND ${VIOLATIONS}`).table(),
    )
    .transformations(topBy('route', 'seq', 'count', 10))
    .overrideByName('seq (count)', named('violations'));

  const topOrigins = topSites(
    id,
    'originSite',
    'Top construction sites by violations on their trips',
    'Completed trips by the site they loaded at (工地), with the violations raised during them',
  );

  const topDisposals = topSites(
    id,
    'disposalSite',
    'Top disposal sites by violations on their trips',
    'Completed trips by the site they unloaded at (消纳场), with the violations raised during them',
  );

  const tripsPerPermit = new TimeseriesPanel()
    .id(id())
    .legend(legend())
    .title('Trips per day: $permit')
    .description(
      'Completed trips of the permit by local day (a trip counts on the day it loaded), and the compliant ones',
    )
    .span(24)
    .height(8)
    .repeat('permit')
    .repeatDirection('h')
    .maxPerRow(3)
    .drawStyle(GraphDrawStyle.Bars)
    .fillOpacity(70)
    .unit('short')
    .withTarget(
      influxql(
        `SELECT count("id") AS "trips" FROM "${TRIP}" WHERE "permit" =~ /^$permit$/ AND ${COMPLETED_TRIPS} GROUP BY time(1d) fill(0) tz('Asia/Shanghai')`,
      ).alias('trips'),
    )
    .withTarget(
      influxql(
        `SELECT count("id") AS "compliant" FROM "${TRIP}" WHERE "compliant" = true AND "permit" =~ /^$permit$/ AND ${COMPLETED_TRIPS} GROUP BY time(1d) fill(0) tz('Asia/Shanghai')`,
        'B',
      ).alias('compliant'),
    );

  const ranking = new BarGaugePanel()
    .id(id())
    .title('Firm ranking (月度考核): violations per 100 trips')
    .description(
      'Violations started in the range per 100 trips completed in it, by transport firm, best first: the headline rate of the monthly assessment (the dashboard opens on this month). A firm with violations and no completed trip has no rate and is left out here; GET /api/v1/scorecards ranks it last and adds per 1,000 km and unresolved violations. A firm running sweepers or body cameras besides its trucks has their violations counted here too (the scorecard counts its trucks only).',
    )
    .span(24)
    .height(10)
    .displayMode(BarGaugeDisplayMode.Gradient)
    .valueMode(BarGaugeValueMode.Color)
    .orientation(VizOrientation.Horizontal)
    .reduceOptions(
      new ReduceDataOptionsBuilder().values(true).calcs([]).fields('/^violations per 100 trips$/'),
    )
    .min(0)
    .decimals(1)
    .thresholds(thresholds('green', [5, 'yellow'], [20, 'orange'], [50, 'red']))
    .withTarget(
      influxql(
        `SELECT count("seq") AS "violations" FROM "${VIOLATION}" WHERE ${ASSESSED} AND $timeFilter GROUP BY "firm"`,
      ).table(),
    )
    .withTarget(
      influxql(
        `SELECT count("id") AS "trips" FROM "${TRIP}" WHERE "status" = 'completed' AND ${ASSESSED} AND $timeFilter GROUP BY "firm"`,
        'B',
      ).table(),
    )
    .transformations(PER_100_TRIPS);

  return citywatchDashboard(COMPLIANCE_UID, 'citywatch · Compliance', {
    description:
      'Violations by type, firm and hour; open violations with links to the console; top routes and sites; trips per permit; the monthly firm ranking (InfluxDB)',
    from: 'now/M',
    refresh: '1m',
  })
    .withVariable(firmVariable())
    .withVariable(codeVariable(VIOLATION))
    .withVariable(permitVariable())
    .withVariable(consoleVariable())
    .withVariable(transportFirmVariable())
    .withRow(new RowBuilder('Violations').id(id()))
    .withPanel(byType)
    .withPanel(byFirm)
    .withPanel(byHour)
    .withPanel(open)
    .withRow(new RowBuilder('Where they happen').id(id()))
    .withPanel(topRoutes)
    .withPanel(topOrigins)
    .withPanel(topDisposals)
    .withRow(new RowBuilder('Trips and the monthly assessment').id(id()))
    .withPanel(tripsPerPermit)
    .withPanel(ranking)
    .build();
}
