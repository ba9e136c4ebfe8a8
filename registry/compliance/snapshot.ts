import type { CityThresholds, RegistrySnapshot } from '../../geofence/model.ts';
import type { Incident } from '../../geofence/plans.ts';
import { CLOSED_INCIDENTS_IN_SNAPSHOT } from '../model/incident.ts';
import { isEnforcedState } from '../permit-workflow.ts';
import type { ComplianceKind, EntityOf } from './types.ts';
import { deepFreeze } from './versions.ts';

/** What the engine view reads of the registry: the live entities of a kind, ordered by id. */
export interface LiveLists {
  list<K extends ComplianceKind>(kind: K): EntityOf<K>[];
  thresholds(): CityThresholds;
}

/**
 * What the engine judges against, but the vehicles: the latest live sites, routes and zones, the APPROVED
 * permits (not submitted, rejected or revoked; without their workflow state), the plans, the incidents
 * and the city thresholds. Arrays ordered by id; objects frozen. Validity dates are left to the engine,
 * so the view does not depend on the clock.
 */
export function engineView(registry: LiveLists): Omit<RegistrySnapshot, 'vehicles'> {
  return {
    sites: registry.list('site'),
    routes: registry.list('route'),
    zones: registry.list('zone'),
    permits: registry
      .list('permit')
      .filter((p) => isEnforcedState(p.state))
      .map(({ state: _state, ...permit }) => deepFreeze(permit)),
    thresholds: registry.thresholds(),
    collectionPoints: registry.list('collection_point'),
    sweepPlans: registry.list('sweep_plan'),
    dutyPlans: registry.list('duty_plan'),
    uploadStations: registry.list('upload_station'),
    incidents: incidentsForEngine(registry.list('incident')),
  };
}

/**
 * The incidents the engine judges against: every open one and the CLOSED_INCIDENTS_IN_SNAPSHOT most
 * recently closed (bounded; chosen by the registry's own data, not the clock).
 */
function incidentsForEngine(all: Incident[]): Incident[] {
  const closed = all
    .filter((i) => i.closedAt !== undefined)
    .sort((a, b) => b.closedAt! - a.closedAt!)
    .slice(0, CLOSED_INCIDENTS_IN_SNAPSHOT);
  const keep = new Set(closed);
  return all.filter((i) => i.closedAt === undefined || keep.has(i));
}
