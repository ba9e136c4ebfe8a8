/**
 * The dashboards' template variables as a dashboard opens on them (every one at All, with the options
 * Grafana would list for the world of world.ts), and a choice made in some of them.
 */
import type { VariableState } from './interpolation.ts';
import { SILENCE_MS, type World } from './world.ts';

export const KINDS = ['muck_truck', 'sanitation', 'body_camera'];

/** The dashboards' variables at All (what a dashboard opens on), with the options Grafana would list. */
export function allVariables(w: World, extra: VariableState[] = []): VariableState[] {
  const firms = [...new Set([...w.units.values()].map((u) => u.firm))];
  const base: VariableState[] = [
    { name: 'firm', multi: true, includeAll: true, allValue: '.*', value: '$__all', options: firms },
    { name: 'kind', multi: true, includeAll: true, value: '$__all', options: KINDS },
    { name: 'code', multi: true, includeAll: true, allValue: '.*', value: '$__all' },
    { name: 'permit', multi: true, includeAll: true, allValue: '.*', value: '$__all' },
    { name: 'silence', value: String(SILENCE_MS) },
    { name: 'vehicle', value: w.overspeedTruck },
    { name: 'console', value: 'http://localhost:8080' },
    { name: 'instance', multi: true, includeAll: true, value: '$__all', options: [w.instance] },
    // hidden, at All: the firms with muck trucks (its query is checked to list exactly these)
    { name: 'transport', multi: true, includeAll: true, value: '$__all', options: transportFirms(w) },
  ];
  return [...base.filter((v) => !extra.some((e) => e.name === v.name)), ...extra];
}

export function transportFirms(w: World): string[] {
  return [...new Set([...w.units.values()].filter((u) => u.kind === 'muck_truck').map((u) => u.firm))].sort();
}
