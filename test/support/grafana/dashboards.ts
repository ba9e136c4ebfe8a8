/**
 * Reading the generated dashboards (grafana/dashboards/*.json) the way Grafana does: their panels (rows
 * included), every query of every panel, the annotation queries and the query variables.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DASHBOARDS } from '../../../grafana/dashboards/index.ts';

export const DASHBOARD_DIR = path.resolve(import.meta.dirname, '../../../grafana/dashboards');

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON is walked field by field
export type Json = any;

export interface DashboardFile {
  file: string;
  json: Json;
}

/** The committed JSON of every dashboard. */
export function committedDashboards(): DashboardFile[] {
  return DASHBOARDS.map(({ file }) => ({
    file,
    json: JSON.parse(readFileSync(path.join(DASHBOARD_DIR, file), 'utf8')),
  }));
}

export interface QueryRef {
  dashboard: string;
  /** panel title, `annotation: <name>` or `variable: <name>` */
  where: string;
  panel?: Json;
  refId: string;
  datasource: { type: string; uid: string };
  /** InfluxQL (query) or PromQL (expr) */
  text: string;
  target: Json;
}

/** Every panel, those inside collapsed rows too. */
export function panelsOf(dashboard: Json): Json[] {
  const out: Json[] = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    if (p.type === 'row') out.push(...(p.panels ?? []));
  }
  return out;
}

/** Every query a dashboard makes: panel targets, annotation targets, query variables. */
export function queriesOf(file: string, dashboard: Json): QueryRef[] {
  const out: QueryRef[] = [];
  for (const panel of panelsOf(dashboard)) {
    for (const target of panel.targets ?? []) {
      const datasource = target.datasource ?? panel.datasource;
      out.push({
        dashboard: file,
        where: panel.title,
        panel,
        refId: target.refId,
        datasource,
        text: datasource?.type === 'prometheus' ? target.expr : target.query,
        target,
      });
    }
  }
  for (const a of dashboard.annotations?.list ?? []) {
    if (!a.target) continue;
    out.push({
      dashboard: file,
      where: `annotation: ${a.name}`,
      refId: a.target.refId,
      datasource: a.target.datasource ?? a.datasource,
      text: a.target.query ?? a.target.expr,
      target: a.target,
    });
  }
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    out.push({
      dashboard: file,
      where: `variable: ${v.name}`,
      refId: v.name,
      datasource: v.datasource,
      text: typeof v.query === 'string' ? v.query : v.query?.query,
      target: v,
    });
  }
  return out;
}
