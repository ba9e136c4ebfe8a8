/**
 * The Grafana dashboards as code (grafana/, issue 13), without a server:
 *  - regenerating them from their TypeScript gives the committed JSON byte for byte;
 *  - they hold to the SDK's dashboard schema: they are built only through its typed builders (the type
 *    check of `npm test` compiles them against @grafana/grafana-foundation-sdk's types), and the JSON
 *    is checked here against the SDK's own enums and required fields (the npm package ships no JSON
 *    schema or validator to run instead), plus what the types cannot say: unique panel ids, a layout
 *    inside the 24-column grid without overlaps, every query on a provisioned datasource with a unique
 *    refId, every template variable a query uses defined;
 *  - `npm run grafana:build -- --check` fails on a stale JSON and names it.
 * Every query is executed against real servers in influxql-queries.test.ts and promql-queries.test.ts.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DashboardCursorSync,
  DashboardLinkType,
  defaultDashboard,
  FieldColorModeId,
  MappingType,
  ThresholdsMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
  VariableType,
} from '@grafana/grafana-foundation-sdk/dashboard';
import test from 'ava';
import { parse } from 'yaml';
import { DASHBOARDS, dashboardJson } from '../../grafana/dashboards/index.ts';
import { INFLUX_UID, PROMETHEUS_UID } from '../../grafana/lib/datasources.ts';
import {
  committedDashboards,
  DASHBOARD_DIR,
  type Json,
  panelsOf,
  queriesOf,
} from '../support/grafana/dashboards.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Grafana's core panel plugins the dashboards may use. */
const CORE_PANELS = new Set([
  'row',
  'timeseries',
  'table',
  'geomap',
  'barchart',
  'bargauge',
  'stat',
  'state-timeline',
  'text',
]);
/** Variables Grafana itself defines ($__from, $timeFilter, ...), and the backends' macros. */
const BUILT_IN = new Set([
  'timeFilter',
  '__interval',
  '__interval_ms',
  '__rate_interval',
  '__rate_interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__from',
  '__to',
  '__value',
  '__url_time_range',
  '__data',
  '__all',
]);

const values = (e: object) => new Set(Object.values(e));

test('regenerating every dashboard gives the committed JSON byte for byte', async (t) => {
  for (const { file, build } of DASHBOARDS) {
    const committed = await readFile(path.join(DASHBOARD_DIR, file), 'utf8');
    t.is(dashboardJson(build()), committed, `${file}: run npm run grafana:build and commit the JSON`);
    t.is(dashboardJson(build()), dashboardJson(build()), `${file}: the same bytes on every build`);
  }
});

test('grafana:build --check fails naming a stale dashboard, and passes on the committed ones', async (t) => {
  const ok = await run(process.execPath, ['--import', 'tsx', 'grafana/build.ts', '--check'], { cwd: ROOT });
  t.regex(ok.stdout, /all 4 dashboards up to date/);
  // a copy of the tree's grafana/ with one JSON changed by hand
  const dir = await mkdtemp(path.join(tmpdir(), 'citywatch-grafana-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(DASHBOARD_DIR, 'vehicle.json');
  const backup = path.join(dir, 'vehicle.json');
  await copyFile(file, backup);
  t.teardown(() => copyFile(backup, file));
  await writeFile(file, (await readFile(backup, 'utf8')).replace('"Speed"', '"Speed (edited in Grafana)"'));
  const stale = await run(process.execPath, ['--import', 'tsx', 'grafana/build.ts', '--check'], {
    cwd: ROOT,
  }).then(
    () => undefined,
    (err: { code: number; stderr: string }) => err,
  );
  t.is(stale?.code, 1);
  t.regex(stale?.stderr ?? '', /vehicle\.json differ/);
});

test("the dashboards hold to the SDK's schema: required fields, enums, a sound grid", (t) => {
  const variableTypes = values(VariableType);
  for (const { file, json: d } of committedDashboards()) {
    const where = (s: string) => `${file}: ${s}`;
    t.is(d.schemaVersion, defaultDashboard().schemaVersion, where('schemaVersion of the SDK'));
    t.truthy(d.uid, where('uid'));
    t.truthy(d.title, where('title'));
    t.true(Array.isArray(d.templating?.list), where('templating.list'));
    t.is(typeof d.annotations, 'object', where('annotations'));
    t.true(values(DashboardCursorSync).has(d.graphTooltip), where('graphTooltip'));
    t.false(d.editable, where('read-only: provisioned from grafana/'));
    t.deepEqual(d.tags, ['citywatch'], where('tagged for the links between dashboards'));
    for (const link of d.links ?? []) t.true(values(DashboardLinkType).has(link.type), where('link type'));
    for (const v of d.templating.list) {
      t.true(variableTypes.has(v.type), where(`variable ${v.name}: type ${v.type}`));
      t.truthy(v.name, where('variable name'));
      if (v.hide !== undefined) t.true(values(VariableHide).has(v.hide), where(`variable ${v.name}: hide`));
      if (v.refresh !== undefined)
        t.true(values(VariableRefresh).has(v.refresh), where(`variable ${v.name}: refresh`));
      if (v.sort !== undefined) t.true(values(VariableSort).has(v.sort), where(`variable ${v.name}: sort`));
    }
    const ids = new Set<number>();
    const cells = new Map<string, string>();
    for (const p of panelsOf(d)) {
      const name = where(`panel ${p.id} "${p.title}"`);
      t.true(CORE_PANELS.has(p.type), `${name}: a core panel type (${p.type})`);
      t.true(Number.isInteger(p.id) && p.id > 0, `${name}: an id`);
      t.false(ids.has(p.id), `${name}: a unique id`);
      ids.add(p.id);
      const g = p.gridPos;
      t.true([g.x, g.y, g.w, g.h].every(Number.isInteger), `${name}: gridPos`);
      t.true(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${name}: inside the 24 columns (x ${g.x}, w ${g.w})`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          t.is(other, undefined, `${name} overlaps ${other}`);
          cells.set(`${x},${y}`, name);
        }
      }
      if (p.type === 'row') {
        t.is(typeof p.collapsed, 'boolean', `${name}: collapsed`);
        t.true(Array.isArray(p.panels), `${name}: panels`);
        continue;
      }
      const defaults = p.fieldConfig?.defaults ?? {};
      if (defaults.color) t.true(values(FieldColorModeId).has(defaults.color.mode), `${name}: color mode`);
      if (defaults.thresholds) {
        t.true(values(ThresholdsMode).has(defaults.thresholds.mode), `${name}: thresholds mode`);
        t.is(defaults.thresholds.steps[0]?.value, null, `${name}: the base step first`);
      }
      for (const m of defaults.mappings ?? [])
        t.true(values(MappingType).has(m.type), `${name}: mapping type`);
      t.true((p.targets ?? []).length > 0, `${name}: queries`);
      const refIds = (p.targets as Json[]).map((q) => q.refId);
      t.is(new Set(refIds).size, refIds.length, `${name}: unique refIds`);
    }
  }
});

test('every query is on a provisioned datasource and uses only variables the dashboard defines', async (t) => {
  const provisioned = new Map<string, string>();
  for (const f of ['influxdb.yaml', 'prometheus.yaml']) {
    const doc = parse(await readFile(path.join(ROOT, 'grafana/provisioning/datasources', f), 'utf8'));
    for (const ds of doc.datasources) provisioned.set(ds.uid, ds.type);
  }
  t.deepEqual([...provisioned].sort(), [
    [INFLUX_UID, 'influxdb'],
    [PROMETHEUS_UID, 'prometheus'],
  ]);
  let queries = 0;
  for (const { file, json: d } of committedDashboards()) {
    const defined = new Set<string>(d.templating.list.map((v: Json) => v.name));
    for (const q of queriesOf(file, d)) {
      queries++;
      const name = `${file}: ${q.where} ${q.refId}`;
      t.is(
        provisioned.get(q.datasource?.uid),
        q.datasource?.type,
        `${name}: datasource ${q.datasource?.uid}`,
      );
      t.true(typeof q.text === 'string' && q.text.length > 0, `${name}: query text`);
      for (const m of q.text.matchAll(/\$\{?(\w+)/g)) {
        const v = m[1]!;
        t.true(defined.has(v) || BUILT_IN.has(v), `${name}: $${v} is defined`);
      }
      if (q.datasource.type === 'influxdb' && !q.where.startsWith('variable:')) {
        t.is(q.target.rawQuery, true, `${name}: raw InfluxQL`);
        t.true(['time_series', 'table'].includes(q.target.resultFormat), `${name}: result format`);
        // every data query is bounded by the range, so Grafana's time picker applies to it
        t.regex(q.text, /\$timeFilter/, `${name}: bounded by $timeFilter`);
      }
    }
  }
  t.true(queries > 50, `${queries} queries`);
});
