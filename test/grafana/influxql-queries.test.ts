/**
 * Every InfluxQL query of every citywatch dashboard (panels, annotations, query variables) run the way
 * Grafana runs it against a real influxd holding what the platform wrote from a simulated run
 * (test/support/grafana/world.ts). Each query must answer without error, with data, with the tags
 * (InfluxQL GROUP BY) or columns its panel shows (test/support/grafana/influx-expect.ts: every query needs
 * an expectation there, a panel added without one fails); multi-value and single-value selections are
 * regex-escaped; the repeated panel answers for every permit; several panels are checked against the
 * platform's own answer (the silent unit, the monthly ranking's figures against GET /scorecards,
 * violation ids against the API).
 */
import { INFLUX_UID } from '../../grafana/lib/datasources.ts';
import { committedDashboards, queriesOf } from '../support/grafana/dashboards.ts';
import { INFLUX_EXPECT } from '../support/grafana/influx-expect.ts';
import {
  checkInflux,
  datasourceV1,
  datasourceV2,
  influxProblems,
  influxQueries,
  key,
  rowsOf,
  runInfluxQL,
} from '../support/grafana/influxql.ts';
import { escapeRegex, influxQuery, type TimeRange } from '../support/grafana/interpolation.ts';
import { allVariables, KINDS, transportFirms } from '../support/grafana/variables.ts';
import { grafanaWorld, INFLUX_MIN_INTERVAL, influxCount, serial } from '../support/grafana/world.ts';
import { adminGet } from '../support/platform.ts';

const ready = grafanaWorld();

serial(
  'InfluxQL: every panel and annotation query returns what its panel shows (InfluxDB 2.x settings)',
  async (t) => {
    const w = ready();
    const queries = influxQueries();
    t.true(queries.length >= 24, `${queries.length} InfluxQL queries`);
    const vars = allVariables(w);
    for (const q of queries) {
      if (q.where === 'Trips per day: $permit') continue; // repeated per permit: the next test
      await checkInflux(t, w, q, datasourceV2(w), vars);
    }
    // every expectation belongs to a query (none left over from a panel since removed)
    const keys = new Set(queries.map(key));
    t.deepEqual(
      Object.keys(INFLUX_EXPECT).filter((k) => !keys.has(k)),
      [],
    );
  },
);

serial('InfluxQL: the Fleet overview through the InfluxDB 1.x settings gives the same answers', async (t) => {
  const w = ready();
  for (const q of influxQueries().filter((x) => x.dashboard === 'fleet-overview.json')) {
    await checkInflux(t, w, q, datasourceV1(w), allVariables(w));
  }
});

serial(
  'InfluxQL: multi-value and single-value selections are regex-escaped and keep to what is chosen',
  async (t) => {
    const w = ready();
    const trucks = [...w.units.values()].filter((u) => u.kind === 'muck_truck');
    const firms = [...new Set(trucks.map((u) => u.firm))].slice(0, 2);
    t.is(firms.length, 2);
    const chosen = allVariables(w, [
      { name: 'firm', multi: true, includeAll: true, allValue: '.*', value: firms },
      { name: 'kind', multi: true, includeAll: true, value: ['muck_truck'], options: KINDS },
    ]);
    const ds = datasourceV2(w);
    // the map's truck layer: only the chosen firms' trucks, every one of them
    const map = influxQueries().find(
      (q) => q.where === 'Latest positions by kind and state' && q.refId === 'A',
    )!;
    const text = influxQuery(map.text, {
      range: w.range,
      variables: chosen,
      minInterval: INFLUX_MIN_INTERVAL,
    });
    t.true(text.includes(`"firm" =~ /^(${firms.map(escapeRegex).join('|')})$/`), text);
    // one value chosen of a multi-value variable is still a list: escaped, in parentheses
    t.true(text.includes('"kind" =~ /^(muck_truck)$/'), text);
    const rows = rowsOf((await runInfluxQL(ds, text)).series);
    const expected = [...w.units]
      .filter(([, u]) => u.kind === 'muck_truck' && firms.includes(u.firm))
      .map(([v]) => v);
    t.deepEqual(rows.map((r) => r.vehicle).sort(), expected.sort());
    // the sweepers' and cameras' layers are empty for this choice, without error
    for (const refId of ['B', 'C']) {
      const q = influxQueries().find(
        (x) => x.where === 'Latest positions by kind and state' && x.refId === refId,
      )!;
      const r = await runInfluxQL(
        ds,
        influxQuery(q.text, { range: w.range, variables: chosen, minInterval: '10s' }),
      );
      t.is(r.error, undefined);
      t.deepEqual(r.series, []);
    }
    // kind at All without a custom all value: every kind, as (a|b|c)
    const perKind = influxQueries().find((q) => q.where === 'Fixes per minute, by kind')!;
    const allKinds = influxQuery(perKind.text, {
      range: w.range,
      variables: allVariables(w),
      minInterval: '10s',
    });
    t.true(allKinds.includes('"kind" =~ /^(muck_truck|sanitation|body_camera)$/'), allKinds);
    t.true(allKinds.includes('"firm" =~ /^.*$/'), 'the custom all value, unformatted');
    t.true(allKinds.includes('* 60000 / 10000'), '$__interval_ms: 10 s, the datasource minimum');
    t.true(allKinds.includes('GROUP BY time(10s)'), '$__interval');
    // the Vehicle dashboard's single vehicle, inside a regex: escaped
    const speed = influxQueries().find((q) => q.where === 'Speed')!;
    const one = influxQuery(speed.text, {
      range: w.range,
      variables: allVariables(w, [{ name: 'vehicle', value: 'veh.x-1' }]),
      minInterval: '10s',
    });
    t.true(one.includes('"vehicle" =~ /^veh\\.x-1$/'), one);
  },
);

serial(
  'InfluxQL: the repeated trips panel answers for every permit; their trips add up to all completed ones',
  async (t) => {
    const w = ready();
    const permitVar = committedDashboards()
      .flatMap(({ file, json }) => queriesOf(file, json))
      .find((q) => q.where === 'variable: permit')!;
    const listed = await runInfluxQL(
      datasourceV2(w),
      influxQuery(permitVar.text, { range: w.range, variables: allVariables(w), minInterval: '10s' }),
    );
    const permits = rowsOf(listed.series).map((r) => String(r.distinct));
    t.true(permits.length >= 2, `permits ${permits}`);
    const [tripsQ, compliantQ] = influxQueries().filter((q) => q.where === 'Trips per day: $permit');
    let trips = 0;
    let shown = 0;
    for (const permit of permits) {
      // a clone of the repeated panel: $permit is that one permit (a permit may have no trip completed yet)
      const vars = allVariables(w, [
        { name: 'permit', multi: true, includeAll: true, allValue: '.*', value: permit },
      ]);
      for (const q of [tripsQ!, compliantQ!]) {
        const text = influxQuery(q.text, {
          range: w.range,
          variables: vars,
          minInterval: INFLUX_MIN_INTERVAL,
        });
        t.true(text.includes(`"permit" =~ /^${escapeRegex(permit)}$/`), text);
        const result = await runInfluxQL(datasourceV2(w), text);
        t.is(result.error, undefined, text);
        if (q === tripsQ && result.series.length > 0) {
          t.deepEqual(influxProblems(result, INFLUX_EXPECT[key(q)]!, w), [], text);
          trips += rowsOf(result.series).reduce((n, r) => n + Number(r.trips), 0);
          shown++;
        }
      }
    }
    t.true(shown > 0, 'at least one permit with completed trips');
    const all = await influxCount(
      w,
      `SELECT count("id") FROM "trip" WHERE "status" = 'completed' AND "permit" != '' AND time >= ${w.range.from}ms AND time <= ${w.range.to}ms`,
    );
    t.is(trips, all);
  },
);

serial('InfluxQL: the query variables list the firms, codes, permits and units of the run', async (t) => {
  const w = ready();
  const vars = committedDashboards().flatMap(({ file, json }) =>
    queriesOf(file, json).filter((q) => q.where.startsWith('variable:') && q.datasource.uid === INFLUX_UID),
  );
  const values = async (where: string, variables = allVariables(w)): Promise<string[]> => {
    const q = vars.find((v) => v.where === where);
    if (!q) throw new Error(`no ${where}`);
    const r = await runInfluxQL(
      datasourceV2(w),
      influxQuery(q.text, { range: w.range, variables, minInterval: '10s' }),
    );
    t.is(r.error, undefined, where);
    // Grafana lists the first string column: SHOW TAG VALUES' value, SELECT DISTINCT's distinct
    return rowsOf(r.series).map((row) => String(row.value ?? row.distinct));
  };
  const firms = [...new Set([...w.units.values()].map((u) => u.firm))].sort();
  t.deepEqual((await values('variable: firm')).sort(), firms);
  const codes = await values('variable: code');
  for (const c of ['OFF_ROUTE', 'OVERSPEED', 'SPILLAGE']) t.true(codes.includes(c), c);
  t.true((await values('variable: permit')).length >= 2);
  t.deepEqual((await values('variable: transport')).sort(), transportFirms(w));
  t.deepEqual((await values('variable: vehicle')).sort(), [...w.units.keys()].sort(), 'every unit at All');
  const cameras = await values(
    'variable: vehicle',
    allVariables(w, [
      { name: 'kind', multi: true, includeAll: true, value: ['body_camera'], options: KINDS },
    ]),
  );
  t.deepEqual(
    cameras.sort(),
    [...w.units]
      .filter(([, u]) => u.kind === 'body_camera')
      .map(([v]) => v)
      .sort(),
    'the body cameras only',
  );
  t.true(vars.length >= 4);
});

serial(
  "InfluxQL: the Compliance dashboard agrees with the platform: the month's figures, violation ids, routes",
  async (t) => {
    const w = ready();
    // the ranking's inputs over this month (China Standard Time) are the scorecard's
    const card = await adminGet(w.tp, '/api/v1/scorecards');
    t.is(card.status, 200);
    const month: TimeRange = { from: Date.parse(card.body.from), to: w.range.to };
    const ranking = influxQueries().filter((q) => q.where.startsWith('Firm ranking'));
    const [violations, trips] = await Promise.all(
      ranking.map((q) => checkInflux(t, w, q, datasourceV2(w), allVariables(w), month)),
    );
    const asMap = (rows: Record<string, unknown>[] | undefined, col: string) =>
      Object.fromEntries((rows ?? []).map((r) => [r.firm, Number(r[col])]));
    const cards = card.body.items as { firm: string; violations: number; trips: number }[];
    const nonZero = (pick: (c: { violations: number; trips: number }) => number) =>
      Object.fromEntries(cards.filter((c) => pick(c) > 0).map((c) => [c.firm, pick(c)]));
    t.deepEqual(
      asMap(violations, 'violations'),
      nonZero((c) => c.violations),
    );
    t.deepEqual(
      asMap(trips, 'trips'),
      nonZero((c) => c.trips),
    );
    // the open violations' ids are the platform's (the console link opens them)
    const open = influxQueries().find((q) => q.where.startsWith('Open violations'))!;
    const rows = await checkInflux(t, w, open, datasourceV2(w), allVariables(w));
    for (const row of rows.slice(0, 5)) {
      const v = await adminGet(w.tp, `/api/v1/violations/${encodeURIComponent(String(row.id))}`);
      t.is(v.status, 200, String(row.id));
      t.is(v.body.violation.status, 'open');
    }
    // the routes ranked are routes of the registry
    const routes = influxQueries().find((q) => q.where === 'Top routes by violations')!;
    const named = new Set(
      (await checkInflux(t, w, routes, datasourceV2(w), allVariables(w))).map((r) => r.route),
    );
    const known = new Set(w.tp.platform.compliance.list('route').map((r) => r.id));
    for (const r of named) t.true(known.has(String(r)), `route ${r}`);
  },
);
