import { DataqueryBuilder, QueryEditorMode } from '@grafana/grafana-foundation-sdk/prometheus';
import { PROMETHEUS } from './datasources.ts';

/** A PromQL range query on the citywatch Prometheus datasource, shown in code mode as written. */
export function promql(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder()
    .refId(refId)
    .datasource(PROMETHEUS)
    .editorMode(QueryEditorMode.Code)
    .expr(expr)
    .legendFormat(legend)
    .range();
}

/** The selector every Pipeline health query carries: the platform processes picked in `$instance`. */
export const INSTANCE = 'instance=~"$instance"';
