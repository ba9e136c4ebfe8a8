/**
 * Every PromQL query of the Pipeline health dashboard run the way Grafana runs it against a real
 * Prometheus that scraped the platform every second during a simulated run (test/support/grafana/world.ts):
 * each must return series with the labels its panel shows (test/support/grafana/promql.ts: every query
 * needs an expectation there, a panel added without one fails), and what the run did shows in them. The
 * instance variable lists the platform. Last, the checks themselves: a query made wrong, InfluxQL or
 * PromQL, fails them (one of each kind is broken and the checks catch it).
 */
import { committedDashboards, type Json, queriesOf } from '../support/grafana/dashboards.ts';
import { INFLUX_EXPECT } from '../support/grafana/influx-expect.ts';
import {
  datasourceV2,
  influxProblems,
  influxQueries,
  key,
  runInfluxQL,
} from '../support/grafana/influxql.ts';
import { influxQuery, promQuery, type TimeRange } from '../support/grafana/interpolation.ts';
import { PROM_EXPECT, promProblems, promQueries, runPromQL } from '../support/grafana/promql.ts';
import { allVariables } from '../support/grafana/variables.ts';
import { grafanaWorld, SCRAPE, serial } from '../support/grafana/world.ts';

const ready = grafanaWorld();

serial(
  'PromQL: every Pipeline health query returns its series from a Prometheus scraping the platform',
  async (t) => {
    const w = ready();
    const range: TimeRange = { from: w.promStart, to: Date.now() };
    const queries = promQueries();
    t.true(queries.length >= 30, `${queries.length} PromQL queries`);
    for (const q of queries) {
      const k = `${q.where} | ${q.refId}`;
      const labels = PROM_EXPECT[k];
      if (!labels) {
        t.fail(`${k}: no expectation for this query in grafana-queries.test.ts`);
        continue;
      }
      const result = await runPromQL(w, q.text, range);
      t.deepEqual(promProblems(result, labels), [], `${k}\n  ${result.sent}`);
    }
    const keys = new Set(queries.map((q) => `${q.where} | ${q.refId}`));
    t.deepEqual(
      Object.keys(PROM_EXPECT).filter((k) => !keys.has(k)),
      [],
    );
    // what the run did shows: webhooks delivered and dead, the SSE client, the refused login, the bad message.
    // The peak over every scrape since the start (a subquery at the scrape interval): a range query's steps
    // (Grafana's $__interval, seconds apart on this long window) can fall on both sides of a short-lived
    // value, such as the 808 terminal connected only at the end.
    // Evaluated at a whole second after every scrape the world waited for: a subquery's steps fall on
    // multiples of its resolution, so evaluated "now" its last step is up to a second before now and misses
    // a value first scraped within that second (the 808 terminal, connected at the end of the world's build).
    const evalAt = Math.ceil(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, evalAt * 1000 - Date.now() + 100));
    const last = async (expr: string) => {
      const seconds = Math.ceil(evalAt - w.promStart / 1000) + 60;
      const res = await fetch(
        `${w.prometheus.url}/api/v1/query?time=${evalAt}&query=${encodeURIComponent(`max_over_time((${expr})[${seconds}s:${SCRAPE}])`)}`,
      );
      const body = (await res.json()) as Json;
      if (body.status !== 'success') throw new Error(`${expr}: ${body.errorType}: ${body.error}`);
      return Math.max(
        0,
        ...(body.data.result as Array<{ value: [number, string] }>)
          .map((s) => Number(s.value[1]))
          .filter(Number.isFinite),
      );
    };
    t.true((await last('sum(citywatch_webhook_deliveries_total{outcome="delivered"})')) > 0);
    t.true((await last('sum(citywatch_webhook_dead_letters)')) > 0);
    t.is(await last('sum(citywatch_live_clients{stream="positions"})'), 1);
    t.true((await last('sum(citywatch_mqtt_auth_failures_total{reason="bad_secret"})')) >= 1);
    t.true((await last('sum(citywatch_ingest_dead_letters_total)')) >= 1);
    t.true((await last('sum(citywatch_violations_total{firm_kind="transport"})')) > 0);
    // the peak over the run: the terminal, and for as long as it lasted the stranger sending garbage (a
    // scrape may catch both; after the run the gauge reads 1, checked before the world was kept)
    t.true((await last('sum(citywatch_jt808_connections)')) >= 1);
    t.true((await last('sum(citywatch_jt808_refused_total{reason="garbage"})')) >= 1);
    // the run never took the spool near its limits (4 GiB by default): no acknowledgement slowed or held
    const fill = await last('max(citywatch_spool_fill_ratio)');
    t.true(fill < 0.8, `fill ${fill}`);
    t.is(await last('sum(citywatch_ingest_backpressure_total)'), 0);
  },
);

serial(
  'PromQL: the instance variable lists the platform, and one instance chosen is regex-escaped',
  async (t) => {
    const w = ready();
    const v = committedDashboards()
      .flatMap(({ file, json }) => queriesOf(file, json))
      .find((q) => q.where === 'variable: instance')!;
    // label_values(metric, label): the label values API, as Grafana's Prometheus datasource asks it
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.text);
    t.truthy(m, v.text);
    const url = new URL(`${w.prometheus.url}/api/v1/label/${m![2]}/values`);
    url.searchParams.set('match[]', m![1]!);
    const body = (await (await fetch(url)).json()) as Json;
    t.deepEqual(body.data, [w.instance]);
    const one = promQuery('sum(citywatch_spool_depth_fixes{instance=~"$instance"})', {
      range: { from: w.promStart, to: Date.now() },
      variables: allVariables(w, [{ name: 'instance', multi: true, includeAll: true, value: [w.instance] }]),
      scrapeInterval: SCRAPE,
    });
    t.true(one.expr.includes(`instance=~"${w.instance.replaceAll('.', '\\\\.')}"`), one.expr);
    const res = await fetch(
      `${w.prometheus.url}/api/v1/query_range?${new URLSearchParams({ query: one.expr, start: String(one.start), end: String(one.end), step: String(one.step) })}`,
    );
    const r = (await res.json()) as Json;
    t.is(r.data.result.length, 1);
  },
);

// ---------------------------------------------------------------------------------------------------
// The checks catch wrong queries

serial(
  'a wrong query fails the checks: a measurement, a tag, a metric or a label that is not there',
  async (t) => {
    const w = ready();
    const ds = datasourceV2(w);
    const vars = allVariables(w);
    const perKind = influxQueries().find((q) => q.where === 'Fixes per minute, by kind')!;
    const expect = INFLUX_EXPECT[key(perKind)]!;
    const broken = [
      perKind.text.replace('FROM "fix"', 'FROM "fixes"'), // no such measurement
      perKind.text.replace('"kind" fill(0)', '"kinds" fill(0)'), // no such tag
      perKind.text.replace('count("lat")', 'count("latitude")'), // no such field
    ];
    for (const text of broken) {
      const r = await runInfluxQL(
        ds,
        influxQuery(text, { range: w.range, variables: vars, minInterval: '10s' }),
      );
      t.notDeepEqual(influxProblems(r, expect, w), [], text);
    }
    // and the right one passes the same check
    const ok = await runInfluxQL(
      ds,
      influxQuery(perKind.text, { range: w.range, variables: vars, minInterval: '10s' }),
    );
    t.deepEqual(influxProblems(ok, expect, w), []);

    const range: TimeRange = { from: w.promStart, to: Date.now() };
    const conn = promQueries().find((q) => q.where === 'MQTT connections')!;
    for (const text of [
      conn.text.replace('citywatch_mqtt_connections', 'citywatch_mqtt_connection'), // no such metric
      conn.text.replace('by (type)', 'by (kind)'), // a label the metric does not have
      conn.text.replace('instance=~', 'job=~'), // the variable on the wrong label
    ]) {
      t.notDeepEqual(
        promProblems(await runPromQL(w, text, range), PROM_EXPECT['MQTT connections | A']!),
        [],
        text,
      );
    }
    t.deepEqual(promProblems(await runPromQL(w, conn.text, range), PROM_EXPECT['MQTT connections | A']!), []);
  },
);
