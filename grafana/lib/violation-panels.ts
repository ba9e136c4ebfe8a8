import { GraphDrawStyle, StackingConfigBuilder, StackingMode } from '@grafana/grafana-foundation-sdk/common';
import type { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import type { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { CONSOLE_VIOLATION_URL, linkTo, named } from './common.ts';

/**
 * What the violation panels of the Compliance and Vehicle dashboards share: violations over time as
 * bars stacked by type, and the tables of violations with their start, their id linked to the console
 * and their duration. Each adds its part to the panel built so far, at that place in the chain (the
 * generated JSON keeps the order of the calls).
 */

/** Counts per interval as bars, one stacked on the other per series (per violation type). */
export function stackedCounts(panel: TimeseriesPanel): TimeseriesPanel {
  return panel
    .drawStyle(GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
    .unit('short');
}

/** The columns of a violations table: the start (Time), the id opening the console, the duration. */
export function violationColumns(panel: TablePanel): TablePanel {
  return panel
    .overrideByName('Time', named('started', 'dateTimeAsLocal'))
    .overrideByName('id', [linkTo('Open in the console', CONSOLE_VIOLATION_URL)])
    .overrideByName('durationMs', named('duration', 'ms'));
}
