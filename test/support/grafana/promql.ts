/**
 * Running a PromQL query as Grafana does (test/grafana/promql-queries.test.ts) against the world's
 * Prometheus, and what each query of the Pipeline health dashboard is meant to show: the labels its series
 * carry (its legend and its `by`), keyed by `<panel title> | <refId>`. Every query needs an expectation
 * here: a panel added without one fails.
 */
import { committedDashboards, type Json, type QueryRef, queriesOf } from './dashboards.ts';
import { promQuery, type TimeRange } from './interpolation.ts';
import { allVariables } from './variables.ts';
import { SCRAPE, type World } from './world.ts';

export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export async function runPromQL(
  w: World,
  expr: string,
  range: TimeRange,
): Promise<{ series: PromSeries[]; error?: string; sent: string }> {
  const q = promQuery(expr, {
    range,
    variables: allVariables(w),
    scrapeInterval: SCRAPE,
  });
  const res = await fetch(`${w.prometheus.url}/api/v1/query_range`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      query: q.expr,
      start: String(q.start),
      end: String(q.end),
      step: String(q.step),
    }),
  });
  const body = (await res.json()) as Json;
  if (body.status !== 'success')
    return { series: [], error: `${body.errorType}: ${body.error}`, sent: q.expr };
  return { series: body.data.result, sent: q.expr };
}

/** Labels each query's series carry (its legend and its `by`), by `<panel title> | <refId>`. */
export const PROM_EXPECT: Record<string, string[]> = {
  'MQTT connections | A': ['type'],
  'MQTT refusals | A': ['reason'],
  'MQTT refusals | B': ['reason'],
  'Ingest rate | A': [],
  'Ingest rate | B': ['transport'],
  'Ingest rejections by reason | A': ['reason'],
  'Ingest rejections by reason | B': [],
  'JT/T 808 terminals | A': [],
  'JT/T 808 terminals | B': ['reason'],
  'JT/T 808 terminals | C': [],
  'Receipt to durable (PUBACK), p99 | A': [],
  'Spool backlog | A': [],
  'Spool backlog | B': [],
  'Spool fill and held acknowledgements | A': [],
  'Spool fill and held acknowledgements | B': ['mode'],
  'Spool fill and held acknowledgements | C': [],
  'Store lag and write time | A': [],
  'Store lag and write time | B': [],
  'Store writes by result | A': ['result'],
  'Engine step and tick time | A': [],
  'Engine step and tick time | B': [],
  'Engine step and tick time | C': [],
  'Violations opened per minute, by type | A': ['type'],
  'Violations in progress, by type | A': ['type'],
  'Event-loop lag | A': ['instance'],
  'Event-loop lag | B': ['instance'],
  'Webhook attempts by result | A': ['result'],
  'Webhook attempt time, p95 | A': [],
  'Webhook deliveries and dead letters | A': ['outcome'],
  'Webhook deliveries and dead letters | B': [],
  'Webhook deliveries and dead letters | C': [],
  'Live-stream clients (SSE) | A': ['stream'],
  'Live-stream clients (SSE) | B': ['stream'],
  'API latency by route, p95 | A': ['route'],
  'API requests by status | A': ['status'],
  'Memory and CPU | A': ['instance'],
  'Memory and CPU | B': ['instance'],
  'Memory and CPU | C': ['instance'],
};

export function promProblems(
  result: { series: PromSeries[]; error?: string },
  labels: readonly string[],
): string[] {
  if (result.error) return [result.error];
  if (result.series.length === 0) return ['no series: the panel would be empty'];
  const problems: string[] = [];
  for (const s of result.series) {
    for (const l of labels) if (s.metric[l] === undefined) problems.push(`a series without label ${l}`);
  }
  const finite = result.series.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
  if (!finite) problems.push('no finite value (NaN everywhere: no observation in any window)');
  return [...new Set(problems)];
}

export function promQueries(): QueryRef[] {
  return committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter(
      (q) => q.datasource.type === 'prometheus' && !q.where.startsWith('variable:'),
    ),
  );
}
