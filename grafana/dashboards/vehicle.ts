import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  VisibilityMode,
} from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  type Dashboard,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { VIOLATION_MEASUREMENT as VIOLATION } from '../../store/influx/events.ts';
import { MEASUREMENT as FIX } from '../../store/influx/schema.ts';
import { citywatchDashboard, legend, panelIds, thresholds, valueColors } from '../lib/common.ts';
import { INFLUX } from '../lib/datasources.ts';
import { influxql, regexMatch } from '../lib/influxql.ts';
import { consoleVariable, firmVariable, kindVariable } from '../lib/variables.ts';
import { stackedCounts, violationColumns } from '../lib/violation-panels.ts';

/**
 * Vehicle: one unit over time, what it reported (speed, load and weight, cover, tipper lift, ignition)
 * and the violations it was charged with, the latter also as regions on the speed graph. InfluxDB:
 * `fix` (one point per fix) and `violation` (store/influx/events.ts).
 */

export const VEHICLE_UID = 'citywatch-vehicle';

const THE_UNIT = `${regexMatch('vehicle', 'vehicle')} AND $timeFilter`;

function vehicleVariable(): QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${FIX}" WITH KEY = "vehicle" WHERE ${regexMatch('firm', 'firm')} AND ${regexMatch('kind', 'kind')}`;
  return new QueryVariableBuilder('vehicle')
    .label('Unit 车辆/设备')
    .description('Vehicle id (body cameras: the camera id) of the chosen firms and kinds')
    .datasource(INFLUX)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(false)
    .includeAll(false);
}

export function vehicle(): Dashboard {
  const id = panelIds();

  const speed = new TimeseriesPanel()
    .id(id())
    .legend(legend())
    .title('Speed')
    .description('Highest speed per interval; violations of the unit are shaded (annotations)')
    .span(16)
    .height(8)
    .unit('velocitykmh')
    .min(0)
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed))
    .thresholds(thresholds('green', [60, 'red']))
    .withTarget(
      influxql(
        `SELECT max("speed") AS "speed" FROM "${FIX}" WHERE ${THE_UNIT} GROUP BY time($__interval) fill(none)`,
      ).alias('speed'),
    );

  const weight = new TimeseriesPanel()
    .id(id())
    .legend(legend())
    .title('Load weight')
    .description('Muck trucks with a weighing sensor; the rated load is in the registry (OVERLOAD over it)')
    .span(8)
    .height(8)
    .unit('masst')
    .min(0)
    .withTarget(
      influxql(
        `SELECT mean("weight") AS "weight" FROM "${FIX}" WHERE ${THE_UNIT} GROUP BY time($__interval) fill(none)`,
      ).alias('weight'),
    );

  const states = new StateTimelinePanel()
    .id(id())
    .title('Load, cover, lift and ignition')
    .description(
      'The last state reported in each interval: 装载 load, 顶盖 cover, 举升 tipper lift, ACC ignition',
    )
    .span(24)
    .height(8)
    .showValue(VisibilityMode.Auto)
    .mergeValues(true)
    .rowHeight(0.8)
    .legend(legend())
    .mappings(
      valueColors({
        empty: 'green',
        half: 'yellow',
        full: 'orange',
        closed: 'green',
        open: 'red',
        down: 'green',
        up: 'purple',
        true: ['blue', 'on'],
        false: ['text', 'off'],
      }),
    )
    .withTarget(
      influxql(
        `SELECT last("load") AS "load", last("cover") AS "cover", last("lift") AS "lift", last("ign") AS "ignition" FROM "${FIX}" WHERE ${THE_UNIT} GROUP BY time($__interval) fill(none)`,
      ).table(),
    );

  const violationsOverTime = stackedCounts(
    new TimeseriesPanel().id(id()).legend(legend()).title('Violations over time, by type').span(8).height(8),
  ).withTarget(
    influxql(
      `SELECT count("seq") FROM "${VIOLATION}" WHERE ${THE_UNIT} GROUP BY time($__interval), "code" fill(none)`,
    ).alias('$tag_code'),
  );

  const violations = violationColumns(
    new TablePanel()
      .id(id())
      .title('Violations of the unit')
      .description(
        'Every violation that started in the range; the id opens it in the console (set the console URL above)',
      )
      .span(16)
      .height(8)
      .withTarget(
        influxql(
          `SELECT "id", "code", "level", "status" AS "lifecycle", "enforcement", "durationMs", "permit", "route" FROM "${VIOLATION}" WHERE ${THE_UNIT} ORDER BY time DESC`,
        ).table(),
      ),
  );

  return citywatchDashboard(VEHICLE_UID, 'citywatch · Vehicle', {
    description: "One unit's speed, load, cover, lift, ignition and violations over time (InfluxDB)",
    from: 'now-6h',
    refresh: '1m',
  })
    .withVariable(firmVariable())
    .withVariable(kindVariable())
    .withVariable(vehicleVariable())
    .withVariable(consoleVariable())
    .annotation(
      new AnnotationQueryBuilder()
        .name('Violations')
        .datasource(INFLUX)
        .enable(true)
        .iconColor('red')
        .target(
          influxql(`SELECT "code", "id", "endTs" FROM "${VIOLATION}" WHERE ${THE_UNIT}`, 'Anno').annotation({
            text: 'id',
            tags: 'code',
            timeEnd: 'endTs',
          }),
        ),
    )
    .withRow(new RowBuilder('What it reported').id(id()))
    .withPanel(speed)
    .withPanel(weight)
    .withPanel(states)
    .withRow(new RowBuilder('Violations').id(id()))
    .withPanel(violationsOverTime)
    .withPanel(violations)
    .build();
}
