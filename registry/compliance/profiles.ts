import type { VehicleProfile } from '../../geofence/model.ts';
import { DEFAULT_REPORT_INTERVAL_S } from '../sqlite/devices.ts';
import type { Registry } from '../types.ts';
import { byId } from './versions.ts';

/** Vehicle profiles from the device registry: one per vehicle, and one per body camera (the unit). */
export function vehicleProfilesFrom(registry: Pick<Registry, 'vehicles' | 'devices'>): VehicleProfile[] {
  const intervals = new Map<string, number>();
  for (const d of registry.devices()) {
    const prev = intervals.get(d.unit);
    if (prev === undefined || d.reportIntervalS < prev) intervals.set(d.unit, d.reportIntervalS);
  }
  const out: VehicleProfile[] = registry.vehicles().map((v) => {
    const p: VehicleProfile = {
      id: v.id,
      version: 1,
      firm: v.firm,
      kind: v.kind,
      reportIntervalS: intervals.get(v.id) ?? DEFAULT_REPORT_INTERVAL_S,
    };
    if (v.ratedLoadT !== undefined) p.ratedLoadT = v.ratedLoadT;
    return p;
  });
  for (const d of registry.devices()) {
    if (d.kind === 'body_camera') {
      out.push({
        id: d.unit,
        version: 1,
        firm: d.firm,
        kind: 'body_camera',
        reportIntervalS: d.reportIntervalS,
      });
    }
  }
  return out.sort(byId);
}
