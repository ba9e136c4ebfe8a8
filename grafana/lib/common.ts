import {
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  type DataTransformerConfig,
  type DynamicConfigValue,
  MappingType,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';

/** Tag of every citywatch dashboard: the header's dropdown links them to one another. */
export const TAG = 'citywatch';

/**
 * A citywatch dashboard: read-only (provisioned from this folder, so a change is made here and
 * regenerated), in China Standard Time (every rule's local time, and the month of the 月度考核), with a
 * shared crosshair and a link menu to the other citywatch dashboards.
 */
export function citywatchDashboard(
  uid: string,
  title: string,
  options: { description: string; from: string; to?: string; refresh: string },
): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(options.description)
    .tags([TAG])
    .readonly()
    .timezone('Asia/Shanghai')
    .time({ from: options.from, to: options.to ?? 'now' })
    .refresh(options.refresh)
    .tooltip(DashboardCursorSync.Crosshair)
    .link(
      new DashboardLinkBuilder('citywatch')
        .type(DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}

/** A legend under the graph, one entry per series (the SDK's panels default to none). */
export function legend(): VizLegendOptionsBuilder {
  return new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.List)
    .placement(LegendPlacement.Bottom);
}

/** Panel ids, 1, 2, 3 ...: stable across regenerations (links with viewPanel= keep working). */
export function panelIds(): () => number {
  let next = 0;
  return () => ++next;
}

/** Steps of a thresholds colour scale: [base colour, [value, colour], ...]. */
export function thresholds(base: string, ...steps: [number, string][]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/** Text values shown with a colour (and optionally other text): load states, cover, lift, kinds. */
export function valueColors(colors: Record<string, string | [string, string]>): ValueMapping[] {
  const options: Record<string, { color: string; text?: string; index: number }> = {};
  Object.entries(colors).forEach(([value, c], index) => {
    options[value] = typeof c === 'string' ? { color: c, index } : { color: c[0], text: c[1], index };
  });
  return [{ type: MappingType.ValueToText, options }];
}

/** A data link on a field (a table column): opens `url` (Grafana variables allowed). */
export function linkTo(title: string, url: string, targetBlank = true): DynamicConfigValue {
  return { id: 'links', value: [{ title, url, targetBlank }] };
}

/** Display name and unit of one field (a table column or a series). */
export function named(displayName: string, unit?: string): DynamicConfigValue[] {
  const out: DynamicConfigValue[] = [{ id: 'displayName', value: displayName }];
  if (unit !== undefined) out.push({ id: 'unit', value: unit });
  return out;
}

/**
 * Rows → counts per distinct value of `by` (Grafana's Group by transformation), biggest first, at most
 * `top`: the top-N tables over field values, which InfluxQL cannot GROUP BY (only tags).
 */
export function topBy(
  by: string,
  counted: string,
  reducer: 'count' | 'sum',
  top: number,
): DataTransformerConfig[] {
  return [
    {
      id: 'groupBy',
      options: {
        fields: {
          [by]: { operation: 'groupby', aggregations: [] },
          [counted]: { operation: 'aggregate', aggregations: [reducer] },
        },
      },
    },
    { id: 'sortBy', options: { sort: [{ field: `${counted} (${reducer})`, desc: true }] } },
    { id: 'limit', options: { limitField: top } },
  ];
}

/** The console's page of one violation (api/console, issue 12): `<console URL>/console#/violations/<id>`. */
export const CONSOLE_VIOLATION_URL = `\${console}/console#/violations/\${__value.raw:percentencode}`;
