/**
 * The world and helpers of the compliance registry's tests (test/registry/compliance*.test.ts,
 * test/registry/geojson.test.ts): an origin and a disposal site, a route and a permit in Hefei, a
 * registry in a fresh folder removed at teardown, and the issues a ValidationError names.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Position, VehicleProfile } from '../../../geofence/model.ts';
import { ComplianceRegistry, type PermitInput, type SiteInput } from '../../../registry/compliance.ts';
import { ValidationError } from '../../../registry/geometry.ts';
import { squareFrom } from '../geometry.ts';

// Hefei (合肥), WGS-84
export const ORIGIN: SiteInput = {
  id: 'site-o',
  kind: 'origin',
  name: '蜀山工地',
  polygons: [squareFrom(117.2, 31.8)],
};
export const DISPOSAL: SiteInput = {
  id: 'site-d',
  kind: 'disposal',
  name: '肥西消纳场',
  polygons: [squareFrom(117.3, 31.85)],
};
export const LINE: Position[] = [
  [117.2025, 31.8025],
  [117.25, 31.82],
  [117.3025, 31.8525],
];
/** permit-1 of firm-a for veh-1, site-o to site-d by route-1, nights in November 2026, as an application's body */
export const PERMIT_BODY = {
  id: 'permit-1',
  firm: 'firm-a',
  vehicles: ['veh-1'],
  origins: ['site-o'],
  disposals: ['site-d'],
  routes: ['route-1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: '建筑垃圾',
};
export const PERMIT: PermitInput = { ...PERMIT_BODY, state: 'active' };
export const VEHICLES: VehicleProfile[] = [
  { id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
];

export function open(t: { teardown(fn: () => void): void }, over: { dir?: string; now?: () => number } = {}) {
  const dir = over.dir ?? mkdtempSync(join(tmpdir(), 'citywatch-compliance-'));
  const registry = new ComplianceRegistry({
    dir,
    vehicles: () => VEHICLES,
    ...(over.now ? { now: over.now } : {}),
  });
  t.teardown(() => {
    registry.close();
    if (over.dir === undefined) rmSync(dir, { recursive: true, force: true });
  });
  return { registry, dir };
}

export function seed(registry: ComplianceRegistry) {
  registry.put('site', ORIGIN);
  registry.put('site', DISPOSAL);
  registry.put('route', { id: 'route-1', name: '繁华大道', line: LINE });
}

export function issuesOf(fn: () => unknown): Array<[string, string]> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => [i.path, i.message]);
    throw err;
  }
  throw new Error('expected a ValidationError');
}
