import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';
import { INFLUX } from './datasources.ts';

/**
 * A raw InfluxQL query of Grafana's InfluxDB datasource (query language InfluxQL), as Grafana stores it
 * in a panel's `targets`. The foundation SDK ships query types for the core datasources it generates
 * from schemas, and InfluxDB's is not among them, so this is its own Dataquery variant (the SDK's README,
 * "Defining a custom query type"). Only the raw mode is used: every query is written out in full here,
 * so that the tests run exactly what Grafana sends (after its macros and variables are substituted).
 */
export interface InfluxQLQuery {
  refId: string;
  datasource: DataSourceRef;
  /** InfluxQL with Grafana's macros ($timeFilter, $__interval, $__interval_ms) and template variables */
  query: string;
  rawQuery: true;
  /** time_series: one frame per series (GROUP BY tags become labels); table: one row per point */
  resultFormat: 'time_series' | 'table';
  /** legend of time series: $tag_<key>, $col, $m */
  alias?: string;
  hide?: boolean;
  // Annotation queries only (Grafana's InfluxDB annotation support, datasource migrations.ts)
  fromAnnotations?: boolean;
  textColumn?: string;
  tagsColumn?: string;
  titleColumn?: string;
  timeEndColumn?: string;
  _implementsDataqueryVariant(): void;
}

export class InfluxQLBuilder implements Builder<Dataquery> {
  private readonly internal: InfluxQLQuery;

  constructor(query: string) {
    this.internal = {
      refId: 'A',
      datasource: INFLUX,
      query,
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  build(): InfluxQLQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  /** one row per point, tags of GROUP BY as columns (tables, geomap, bar charts by category) */
  table(): this {
    this.internal.resultFormat = 'table';
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  /** columns of an annotation query: text, tags, and the column holding the end (epoch ms) of a region */
  annotation(columns: { text: string; tags?: string; title?: string; timeEnd?: string }): this {
    this.internal.fromAnnotations = true;
    this.internal.textColumn = columns.text;
    if (columns.tags !== undefined) this.internal.tagsColumn = columns.tags;
    if (columns.title !== undefined) this.internal.titleColumn = columns.title;
    if (columns.timeEnd !== undefined) this.internal.timeEndColumn = columns.timeEnd;
    return this;
  }
}

/** An InfluxQL target on the citywatch InfluxDB datasource. */
export function influxql(query: string, refId = 'A'): InfluxQLBuilder {
  return new InfluxQLBuilder(query).refId(refId);
}

/** `"tag" =~ /^$variable$/`: how every template variable enters an InfluxQL query (regex-escaped, multi-value and All included). */
export function regexMatch(key: string, variable: string): string {
  return `"${key}" =~ /^$${variable}$/`;
}
