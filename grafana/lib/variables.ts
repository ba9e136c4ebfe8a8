import {
  CustomVariableBuilder,
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { UNIT_KINDS } from '../../core/fix.ts';
import { MEASUREMENT as FIX_MEASUREMENT } from '../../store/influx/schema.ts';
import { INFLUX, PROMETHEUS } from './datasources.ts';

/**
 * The template variables the dashboards share. Every one is used in InfluxQL as `"tag" =~ /^$var$/`
 * (lib/influxql.ts regexMatch), which Grafana fills with the value regex-escaped, `(a|b)` for several
 * values, and for All either every value (kind) or the custom all value `.*` (the others: a county has
 * tens of firms and hundreds of vehicles, a regex of all of them is long for nothing).
 */

/** The current value of a variable that includes All: All. */
export const ALL = { text: 'All', value: '$__all' };

/**
 * A query variable of several values, All included, sorted: the shape of each one here. `words` sets its
 * label and the like first (the dashboards' JSON keeps its key order).
 */
export function multiQueryVariable(
  name: string,
  words: (b: QueryVariableBuilder) => QueryVariableBuilder,
  datasource: typeof INFLUX | typeof PROMETHEUS,
  query: string,
  refresh: VariableRefresh,
): QueryVariableBuilder {
  return words(new QueryVariableBuilder(name))
    .datasource(datasource)
    .query(query)
    .definition(query)
    .refresh(refresh)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true);
}

/** Firms (or departments) that have reported fixes. */
export function firmVariable(): QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${FIX_MEASUREMENT}" WITH KEY = "firm"`;
  return multiQueryVariable(
    'firm',
    (b) =>
      b
        .label('Firm 企业')
        .description('Transport firm, sanitation contractor or enforcement department owning the units'),
    INFLUX,
    query,
    VariableRefresh.OnDashboardLoad,
  )
    .allValue('.*')
    .current(ALL);
}

/**
 * Hidden: the transport firms, those with muck trucks reporting. The monthly assessment (月度考核,
 * api/scorecard) ranks them on their trucks' violations; sanitation contractors and enforcement
 * departments are not assessed. At All it expands to every such firm, `(a|b|c)`: tens of firms, not
 * thousands of vehicles.
 */
export function transportFirmVariable(): QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${FIX_MEASUREMENT}" WITH KEY = "firm" WHERE "kind" = 'muck_truck'`;
  return multiQueryVariable(
    'transport',
    (b) =>
      b
        .label('Transport firms')
        .description('Firms with muck trucks: the firms the monthly assessment ranks')
        .hide(VariableHide.HideVariable),
    INFLUX,
    query,
    VariableRefresh.OnDashboardLoad,
  ).current(ALL);
}

/** The three unit kinds: All expands to every value, `(muck_truck|sanitation|body_camera)`. */
export function kindVariable(): CustomVariableBuilder {
  return new CustomVariableBuilder('kind')
    .label('Kind 类型')
    .description('muck_truck 渣土车, sanitation 环卫车, body_camera 执法记录仪')
    .values(UNIT_KINDS.join(','))
    .multi(true)
    .includeAll(true)
    .current(ALL);
}

/** Violation types (codes) seen so far. */
export function codeVariable(measurement: string): QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${measurement}" WITH KEY = "code"`;
  return multiQueryVariable(
    'code',
    (b) => b.label('Type 违规类型'),
    INFLUX,
    query,
    VariableRefresh.OnDashboardLoad,
  )
    .allValue('.*')
    .current(ALL);
}

/**
 * Where the console is served (the platform's API address, as the operator's browser reaches it):
 * violation ids link to `${console}/console#/violations/<id>`.
 */
export function consoleVariable(): TextBoxVariableBuilder {
  return new TextBoxVariableBuilder('console')
    .label('Console URL')
    .description('The platform address as your browser reaches it; violation ids link to its console')
    .defaultValue('http://localhost:8080')
    .current({ text: 'http://localhost:8080', value: 'http://localhost:8080' });
}

/** Platform processes scraped by Prometheus (one per instance; several when PARTS splits them). */
export function instanceVariable(): QueryVariableBuilder {
  const query = 'label_values(citywatch_ingest_messages_total, instance)';
  return multiQueryVariable(
    'instance',
    (b) => b.label('Instance'),
    PROMETHEUS,
    query,
    VariableRefresh.OnTimeRangeChanged,
  ).current(ALL);
}
