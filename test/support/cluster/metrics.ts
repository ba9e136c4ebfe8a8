/**
 * Reading a cluster part's GET /metrics (platform/cluster-metrics.ts) and a real Prometheus scraping it.
 */

/** the value of one series in the Prometheus text at `baseUrl`/metrics (`name` or `name{label="v"}`) */
export async function metricValue(baseUrl: string, series: string): Promise<number | undefined> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** an instant PromQL query: each series' labels and value */
export async function promQuery(
  prometheusUrl: string,
  query: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success' || body.data === undefined)
    throw new Error(`${query}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}
