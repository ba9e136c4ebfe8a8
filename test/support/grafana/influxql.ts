/**
 * Running an InfluxQL query as Grafana does (test/grafana/influxql-queries.test.ts), and what makes its
 * answer one its panel can show: the datasource settings (2.x and 1.x), the POST /query Grafana sends, the
 * rows as Grafana's table shows them, and the check of one query against its expectation
 * (influx-expect.ts).
 */
import type { ExecutionContext } from 'ava';
import { INFLUX_UID } from '../../../grafana/lib/datasources.ts';
import { committedDashboards, type Json, type QueryRef, queriesOf } from './dashboards.ts';
import { INFLUX_EXPECT, type InfluxExpect } from './influx-expect.ts';
import { influxQuery, type TimeRange, type VariableState } from './interpolation.ts';
import { DATABASE, INFLUX_MIN_INTERVAL, TOKEN, type World } from './world.ts';

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** The InfluxDB datasource of the provisioning files: 2.x (Token header, database = bucket) or 1.x. */
export interface InfluxDatasource {
  url: string;
  db: string;
  headers: Record<string, string>;
}

export function datasourceV2(w: World): InfluxDatasource {
  // grafana/provisioning/datasources/influxdb.yaml with INFLUX_BUCKET = the bucket, INFLUX_TOKEN
  return { url: w.front.url, db: DATABASE, headers: { Authorization: `Token ${TOKEN}` } };
}
export function datasourceV1(w: World): InfluxDatasource {
  // grafana/provisioning/influxdb-v1/influxdb.yaml with INFLUX_DATABASE, no credentials
  return { url: w.influx.url, db: DATABASE, headers: {} };
}

/** POST /query as Grafana's InfluxQL datasource sends it (httpMode POST, epoch ms). */
export async function runInfluxQL(
  ds: InfluxDatasource,
  q: string,
): Promise<{ series: InfluxSeries[]; error?: string }> {
  const url = new URL(`${ds.url}/query`);
  url.searchParams.set('db', ds.db);
  url.searchParams.set('epoch', 'ms');
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...ds.headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ q }),
  });
  const body = (await res.json().catch(() => ({}))) as Json;
  if (res.status !== 200) return { series: [], error: `HTTP ${res.status} ${JSON.stringify(body)}` };
  const result = body.results?.[0] ?? {};
  if (result.error) return { series: [], error: String(result.error) };
  return { series: result.series ?? [] };
}

/** Rows of a result with the tags as columns, as Grafana's table format shows them. */
export function rowsOf(series: readonly InfluxSeries[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of series) {
    for (const values of s.values) {
      const row: Record<string, unknown> = { ...(s.tags ?? {}) };
      s.columns.forEach((c, i) => {
        row[c] = values[i];
      });
      out.push(row);
    }
  }
  return out;
}

/** Problems of one InfluxQL query's answer against what its panel shows (empty: none). */
export function influxProblems(
  result: { series: InfluxSeries[]; error?: string },
  expect: InfluxExpect,
  w: World,
): string[] {
  if (result.error) return [result.error];
  const problems: string[] = [];
  if (result.series.length === 0) return ['no series: the panel would be empty'];
  for (const s of result.series) {
    for (const tag of expect.tags ?? [])
      if (s.tags?.[tag] === undefined) problems.push(`a series without tag ${tag}`);
    for (const c of expect.columns ?? [])
      if (!s.columns.includes(c)) problems.push(`a series without column ${c}`);
  }
  const rows = rowsOf(result.series);
  const data = rows.some((r) => Object.entries(r).some(([k, v]) => k !== 'time' && v !== null && v !== 0));
  if (!data) problems.push('no value in any row');
  const extra = expect.check?.(rows, w);
  if (extra) problems.push(extra);
  return [...new Set(problems)];
}

export function key(q: QueryRef): string {
  return `${q.dashboard} | ${q.where} | ${q.refId}`;
}

export function influxQueries(): QueryRef[] {
  return committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter((q) => q.datasource.uid === INFLUX_UID && !q.where.startsWith('variable:')),
  );
}

export async function checkInflux(
  t: ExecutionContext,
  w: World,
  q: QueryRef,
  ds: InfluxDatasource,
  variables: VariableState[],
  range: TimeRange = w.range,
): Promise<Record<string, unknown>[]> {
  const expect = INFLUX_EXPECT[key(q)];
  if (!expect) {
    t.fail(`${key(q)}: no expectation for this query in grafana-queries.test.ts`);
    return [];
  }
  const text = influxQuery(q.text, { range, variables, minInterval: INFLUX_MIN_INTERVAL });
  const result = await runInfluxQL(ds, text);
  const problems = influxProblems(result, expect, w);
  t.deepEqual(problems, [], `${key(q)}\n  ${text}`);
  return rowsOf(result.series);
}
