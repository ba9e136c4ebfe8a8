/**
 * What Grafana does to a dashboard query before its datasource runs it, written out from Grafana's own
 * code so that the tests can run the citywatch dashboards' queries exactly as Grafana sends them
 * (there is no Grafana server here). Sources, Grafana 11/12:
 *  - template variables (frontend, public/app/features/templating/template_srv.ts): `$name`, `${name}`,
 *    `${name:format}`, `[[name]]`; a variable at All takes its custom all value UNFORMATTED, or else
 *    the values of all its options; `${__from}` / `${__to}` are the range in epoch ms.
 *  - InfluxDB, InfluxQL raw queries (public/app/plugins/datasource/influxdb/datasource.ts,
 *    applyVariables → interpolateQueryExpr): a number is left as is; a multi-value variable is
 *    regex-escaped (escapeRegex of @grafana/data), several values as `(a|b)`; a single-value one only
 *    where the query uses it inside a /regex/; then the backend (pkg/tsdb/influxdb/models/query.go
 *    Build) replaces `$timeFilter` with `time >= <from>ms and time <= <to>ms`, `$interval` and
 *    `$__interval` with the interval (gtime.FormatInterval), `$__interval_ms` with its milliseconds.
 *  - Prometheus (public/app/plugins/datasource/prometheus, interpolateQueryExpr; pkg/promlib/models/
 *    query.go): multi-value or include-all variables are regex-escaped for PromQL strings, several as
 *    `(a|b)`; the step is the interval (at least the datasource's scrape interval, timeInterval);
 *    `$__rate_interval` = max($__interval + scrape interval, 4 x scrape interval), written as a Go
 *    duration; `$__range` = the range in whole seconds + "s".
 *  - the interval (packages/grafana-data/src/datetime/rangeutil.ts calculateInterval): range /
 *    maxDataPoints rounded to a "nice" interval (roundInterval), at least the datasource's minimum.
 */

export interface TimeRange {
  /** epoch ms */
  from: number;
  to: number;
}

// ---------------------------------------------------------------------------------------------------
// Intervals

/** rangeutil.roundInterval: ms → a nice interval in ms */
export function roundInterval(interval: number): number {
  const steps: [number, number][] = [
    [10, 1],
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [750000, 600000],
    [1050000, 900000],
    [1500000, 1200000],
    [2700000, 1800000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, nice] of steps) if (interval < below) return nice;
  return 31536000000;
}

const UNIT_MS: Record<string, number> = {
  y: 31536000000,
  M: 2592000000,
  w: 604800000,
  d: 86400000,
  h: 3600000,
  m: 60000,
  s: 1000,
  ms: 1,
};

/** rangeutil.intervalToMs: "10s" → 10000 */
export function intervalToMs(text: string): number {
  const m = /^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])$/.exec(text);
  if (!m) throw new Error(`not an interval: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** rangeutil.calculateInterval: the panel's interval for a range drawn in `maxDataPoints` points */
export function calculateIntervalMs(range: TimeRange, maxDataPoints: number, minInterval?: string): number {
  const low = minInterval === undefined ? 1 : intervalToMs(minInterval);
  return Math.max(low, roundInterval((range.to - range.from) / maxDataPoints));
}

/** gtime.FormatInterval: ms → "1d", "6h", "30s", "500ms" (integer division, largest unit) */
export function formatInterval(ms: number): string {
  for (const [unit, size] of [
    ['y', 31536000000],
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return '1ms';
}

/** Go's time.Duration.String(), for whole milliseconds: 75000 → "1m15s", 60000 → "1m0s", 4000 → "4s" */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  const s = (ms % 60000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

// ---------------------------------------------------------------------------------------------------
// Template variables

/** A variable as the dashboard defines it, with the value chosen in the test. */
export interface VariableState {
  name: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  /** a value, several, or '$__all' */
  value: string | string[];
  /** the values of its options (what All stands for without a custom all value) */
  options?: readonly string[];
}

/** @grafana/data escapeRegex */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** the regex literals of an InfluxQL query, as the InfluxDB datasource finds them */
const REGEX_LITERAL =
  /(\s*(=|!)~\s*)\/((?![*+?])(?:[^\r\n[/\\]|\\.|\[(?:[^\r\n\]\\]|\\.)*\])+)\/((?:g(?:im?|mi?)?|i(?:gm?|mg?)?|m(?:gi?|ig?)?)?)/gm;

type Formatter = (value: string | string[], variable: VariableState, query: string) => string;

/** InfluxDB datasource interpolateQueryExpr (Grafana 11/12) */
const influxFormat: Formatter = (value, variable, query) => {
  if (typeof value === 'string' && !Number.isNaN(Number.parseFloat(value))) return value;
  if (variable.multi) {
    if (typeof value === 'string') return escapeRegex(value);
    return `(${value.map(escapeRegex).join('|')})`;
  }
  // a single-value variable is escaped only where the query uses it inside a regex literal: Grafana
  // finds the `=~ /.../` and `!~ /.../` literals, then looks for the variable in each
  const usesIt = new RegExp(`\\/(?:\\^)?(.*)(\\$${variable.name})(.*)(?:\\$)?\\/`);
  if ((query.match(REGEX_LITERAL) ?? []).some((literal) => usesIt.test(literal)))
    return typeof value === 'string' ? escapeRegex(value) : `(${value.map(escapeRegex).join('|')})`;
  return typeof value === 'string' ? value : value.join(',');
};

const promRegularEscape = (v: string) => v.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
const promRegexEscape = (v: string) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');

/** Prometheus datasource interpolateQueryExpr */
const promFormat: Formatter = (value, variable) => {
  if (!variable.multi && !variable.includeAll)
    return typeof value === 'string' ? promRegularEscape(value) : value.join(',');
  if (typeof value === 'string') return promRegexEscape(value);
  const escaped = value.map(promRegexEscape);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
};

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** templateSrv.replace with a datasource's formatter, plus the range variables ${__from}/${__to}. */
function replaceVariables(
  query: string,
  variables: readonly VariableState[],
  range: TimeRange,
  format: Formatter,
): string {
  const byName = new Map(variables.map((v) => [v.name, v]));
  return query.replace(VARIABLE, (match, v1, v2, _f2, v3) => {
    const name = (v1 ?? v2 ?? v3) as string;
    if (name === '__from') return String(range.from);
    if (name === '__to') return String(range.to);
    const variable = byName.get(name);
    if (!variable) return match; // a macro of the backend ($timeFilter, $__interval), or unknown
    let value = variable.value;
    const all = value === '$__all' || (Array.isArray(value) && value[0] === '$__all');
    if (all) {
      if (variable.allValue) return variable.allValue; // custom all values are not formatted
      value = [...(variable.options ?? [])];
    }
    return format(value, variable, query);
  });
}

// ---------------------------------------------------------------------------------------------------
// InfluxQL

export interface InfluxContext {
  range: TimeRange;
  variables: readonly VariableState[];
  /** the panel's maxDataPoints (Grafana: the panel's width in pixels); default 1000 */
  maxDataPoints?: number;
  /** the datasource's timeInterval (its smallest interval) */
  minInterval?: string;
}

/** The InfluxQL Grafana sends to InfluxDB for a raw query (frontend variables, then backend macros). */
export function influxQuery(query: string, ctx: InfluxContext): string {
  const intervalMs = calculateIntervalMs(ctx.range, ctx.maxDataPoints ?? 1000, ctx.minInterval);
  const text = formatInterval(intervalMs);
  let out = replaceVariables(query, ctx.variables, ctx.range, influxFormat);
  out = out.replaceAll('$timeFilter', `time >= ${ctx.range.from}ms and time <= ${ctx.range.to}ms`);
  out = out.replaceAll('$interval', text);
  out = out.replaceAll('$__interval_ms', String(intervalMs));
  out = out.replaceAll('$__interval', text);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// PromQL

export interface PromContext {
  range: TimeRange;
  variables: readonly VariableState[];
  /** the datasource's timeInterval: the scrape interval */
  scrapeInterval: string;
  maxDataPoints?: number;
}

export interface PromRangeQuery {
  expr: string;
  /** epoch seconds, aligned to the step as Grafana aligns them */
  start: number;
  end: number;
  /** seconds */
  step: number;
}

/** The range query Grafana sends to Prometheus for a panel query. */
export function promQuery(expr: string, ctx: PromContext): PromRangeQuery {
  const scrapeMs = intervalToMs(ctx.scrapeInterval);
  const rangeMs = ctx.range.to - ctx.range.from;
  // the panel interval (frontend), then the step (backend): at least the scrape interval, and never
  // more than 11,000 points
  const intervalMs = calculateIntervalMs(ctx.range, ctx.maxDataPoints ?? 1000, ctx.scrapeInterval);
  const safeMs = roundInterval(rangeMs / 11000);
  const stepMs = Math.max(intervalMs, safeMs);
  const rateMs = Math.max(intervalMs + scrapeMs, 4 * scrapeMs);
  const rangeS = Math.round(rangeMs / 1000);
  let out = replaceVariables(expr, ctx.variables, ctx.range, promFormat);
  out = out.replaceAll('$__interval_ms', String(stepMs));
  out = out.replaceAll('$__interval', formatInterval(stepMs));
  out = out.replaceAll('$__range_ms', String(rangeMs));
  out = out.replaceAll('$__range_s', String(rangeS));
  out = out.replaceAll('$__range', `${rangeS}s`);
  out = out.replaceAll('$__rate_interval_ms', String(rateMs));
  out = out.replaceAll('$__rate_interval', goDuration(rateMs));
  const align = (ms: number) => Math.floor(ms / stepMs) * stepMs;
  return {
    expr: out,
    start: align(ctx.range.from) / 1000,
    end: align(ctx.range.to) / 1000,
    step: stepMs / 1000,
  };
}
