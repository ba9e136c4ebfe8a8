import {
  FrameGeometrySourceBuilder,
  FrameGeometrySourceMode,
  MapLayerOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  CustomVariableBuilder,
  type Dashboard,
  RowBuilder,
  VariableHide,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  ControlsOptionsBuilder,
  PanelBuilder as GeomapPanel,
  MapViewConfigBuilder,
  TooltipMode,
  TooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/geomap';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import type { UnitKind } from '../../core/fix.ts';
import { MEASUREMENT as FIX } from '../../store/influx/schema.ts';
import { citywatchDashboard, legend, linkTo, named, panelIds, thresholds } from '../lib/common.ts';
import { influxql, regexMatch } from '../lib/influxql.ts';
import { firmVariable, kindVariable } from '../lib/variables.ts';
import { VEHICLE_UID } from './vehicle.ts';

/**
 * Fleet overview: where every unit is now, which units report and which have fallen silent, and how
 * many fixes arrive. InfluxDB (the `fix` measurement, store/influx/schema.ts): one point per fix, tags
 * kind, firm, vehicle; `received` is the platform's receive time (epoch ms), which is what "silent"
 * is measured by (a unit is silent when the platform has received nothing from it lately).
 */

export const FLEET_UID = 'citywatch-fleet';

/** Units of the chosen firms and kinds, in the dashboard's time range. */
const UNITS = `${regexMatch('firm', 'firm')} AND ${regexMatch('kind', 'kind')} AND $timeFilter`;

/** The last fix of every unit (one row each, with its tags): what the map and the silence panels read. */
function lastFixOfEachUnit(fields: string, where = UNITS): string {
  return `SELECT last("lat") AS "lat", ${fields} FROM "${FIX}" WHERE ${where} GROUP BY "vehicle", "kind", "firm"`;
}

/**
 * Silent: nothing received from the unit for longer than `$silence` (ms) before the end of the range
 * (`${__to}`, epoch ms: "now" for a range ending now). InfluxQL cannot compare a point's time with
 * another instant, so the comparison is on the `received` field of each unit's last fix.
 */
const SILENT = `"received" < \${__to} - $silence`;
const REPORTING = `"received" >= \${__to} - $silence`;

const MAP_LAYERS: { kind: UnitKind; refId: string; name: string; symbol: string }[] = [
  { kind: 'muck_truck', refId: 'A', name: 'Muck trucks 渣土车', symbol: 'img/icons/marker/triangle.svg' },
  { kind: 'sanitation', refId: 'B', name: 'Sanitation 环卫车', symbol: 'img/icons/marker/square.svg' },
  { kind: 'body_camera', refId: 'C', name: 'Body cameras 执法记录仪', symbol: 'img/icons/marker/circle.svg' },
];

function silenceVariable(): CustomVariableBuilder {
  return new CustomVariableBuilder('silence')
    .label('Silent after')
    .description(
      'A unit is silent when nothing has been received from it for this long (devices report every 10-30 s; the OFFLINE rule waits max(3x the interval, 10 min))',
    )
    .values('1 min : 60000,2 min : 120000,5 min : 300000,10 min : 600000')
    .current({ text: '2 min', value: '120000' })
    .hide(VariableHide.DontHide);
}

export function fleetOverview(): Dashboard {
  const id = panelIds();
  const map = new GeomapPanel()
    .id(id())
    .title('Latest positions by kind and state')
    .description(
      'The last fix of every unit in the range (WGS-84, as stored: the default basemap is WGS-84 too; a GCJ-02 basemap such as AMap would show every unit 300-700 m off). Symbol: kind. Colour: speed, grey stopped (< 5 km/h), green moving, orange over 40, red over 60 km/h. Arrow: heading.',
    )
    .span(16)
    .height(16)
    .view(new MapViewConfigBuilder().id('fit').allLayers(true).padding(10).maxZoom(16))
    .controls(new ControlsOptionsBuilder().showZoom(true).mouseWheelZoom(true).showScale(true))
    .tooltip(new TooltipOptionsBuilder().mode(TooltipMode.Details))
    .basemap(new MapLayerOptionsBuilder().type('default').name('Basemap'))
    .layers(
      MAP_LAYERS.map((l) =>
        new MapLayerOptionsBuilder()
          .type('markers')
          .name(l.name)
          .location(
            new FrameGeometrySourceBuilder()
              .mode(FrameGeometrySourceMode.Coords)
              .latitude('lat')
              .longitude('lon'),
          )
          .filterData({ id: 'byRefId', options: l.refId })
          .tooltip(true)
          .config({
            showLegend: true,
            style: {
              color: { field: 'speed', fixed: 'dark-green' },
              opacity: 0.9,
              size: { fixed: 7, min: 2, max: 15 },
              symbol: { fixed: l.symbol, mode: 'fixed' },
              rotation: { field: 'heading', fixed: 0, min: -360, max: 360, mode: 'mod' },
              symbolAlign: { horizontal: 'center', vertical: 'center' },
            },
          }),
      ),
    )
    .unit('velocitykmh')
    .thresholds(thresholds('text', [5, 'green'], [40, 'orange'], [60, 'red']));
  for (const l of MAP_LAYERS) {
    map.withTarget(
      influxql(
        lastFixOfEachUnit(
          '"lon", "speed", "heading", "load", "ign", "received"',
          `"kind" = '${l.kind}' AND ${UNITS}`,
        ),
        l.refId,
      ).table(),
    );
  }

  const reportingByKindAndFirm = new TablePanel()
    .id(id())
    .title('Units reporting and silent, by kind and firm')
    .description(
      'Units with a fix in the range; reporting = something received within the last $silence ms before the end of the range, silent = nothing since',
    )
    .span(8)
    .height(16)
    .withTarget(
      influxql(
        `SELECT count("lat") AS "reporting" FROM (${lastFixOfEachUnit('"received"')}) WHERE ${REPORTING} GROUP BY "kind", "firm"`,
        'A',
      ).table(),
    )
    .withTarget(
      influxql(
        `SELECT count("lat") AS "silent" FROM (${lastFixOfEachUnit('"received"')}) WHERE ${SILENT} GROUP BY "kind", "firm"`,
        'B',
      ).table(),
    )
    // one row per kind and firm: the two counts side by side (an absent count is none)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
    .overrideByName('silent', [
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
      { id: 'color', value: { mode: 'thresholds' } },
      { id: 'thresholds', value: thresholds('green', [1, 'red']).build() },
    ]);

  const fixesPerMinute = new TimeseriesPanel()
    .id(id())
    .legend(legend())
    .title('Fixes per minute, by kind')
    .description('Fixes stored per minute of fix time (a backfilled batch counts at the time of its fixes)')
    .span(12)
    .height(8)
    .unit('short')
    .withTarget(
      influxql(
        `SELECT count("lat") * 60000 / $__interval_ms FROM "${FIX}" WHERE ${UNITS} GROUP BY time($__interval), "kind" fill(0)`,
      ).alias('$tag_kind'),
    );

  const reportInterval = new TimeseriesPanel()
    .id(id())
    .legend(legend())
    .title('Report interval by kind: p95 and longest gap')
    .description(
      'Seconds between consecutive fixes of a unit (10-30 s expected; 5 s in alarm). A long gap is a unit that fell silent or a coverage hole filled later.',
    )
    .span(12)
    .height(8)
    .unit('s')
    .withTarget(
      influxql(
        `SELECT percentile("gap", 95) AS "p95", max("gap") AS "max" FROM (SELECT elapsed("lat", 1s) AS "gap" FROM "${FIX}" WHERE ${UNITS} GROUP BY "vehicle", "kind") WHERE $timeFilter GROUP BY time($__interval), "kind" fill(none)`,
      ).alias('$tag_kind $col'),
    );

  const silentUnits = new TablePanel()
    .id(id())
    .title('Silent units')
    .description(
      'Units whose last fix in the range was received more than $silence ms before its end: terminal off, out of coverage, or broken. Time = the fix time of the last fix.',
    )
    .span(24)
    .height(9)
    .withTarget(
      influxql(
        `SELECT "received", "lat", "lon", "speed", "ign" FROM (${lastFixOfEachUnit('"lon", "speed", "ign", "received"')}) WHERE ${SILENT} GROUP BY "vehicle", "kind", "firm"`,
      ).table(),
    )
    .overrideByName('received', named('last received', 'dateTimeFromNow'))
    .overrideByName('vehicle', [
      linkTo(
        'Vehicle dashboard',
        `/d/${VEHICLE_UID}?var-vehicle=\${__value.raw}&\${__url_time_range}`,
        false,
      ),
    ]);

  return citywatchDashboard(FLEET_UID, 'citywatch · Fleet overview', {
    description: 'Where every unit is, which ones report, fixes per minute and report intervals (InfluxDB)',
    from: 'now-1h',
    refresh: '30s',
  })
    .withVariable(firmVariable())
    .withVariable(kindVariable())
    .withVariable(silenceVariable())
    .withRow(new RowBuilder('Where the fleet is').id(id()))
    .withPanel(map)
    .withPanel(reportingByKindAndFirm)
    .withRow(new RowBuilder('Reporting').id(id()))
    .withPanel(fixesPerMinute)
    .withPanel(reportInterval)
    .withPanel(silentUnits)
    .build();
}
