import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { compliance } from './compliance.ts';
import { fleetOverview } from './fleet-overview.ts';
import { pipelineHealth } from './pipeline-health.ts';
import { vehicle } from './vehicle.ts';

/** Every dashboard, with the file its JSON is generated into (beside its TypeScript, in this folder). */
export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: 'fleet-overview.json', build: fleetOverview },
  { file: 'compliance.json', build: compliance },
  { file: 'vehicle.json', build: vehicle },
  { file: 'pipeline-health.json', build: pipelineHealth },
];

/** The JSON Grafana provisions: two-space indented, one trailing newline, the same bytes every time. */
export function dashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
