import type { z } from 'zod';
import { PLAN_VIOLATION_CODES } from '../../geofence/model.ts';
import type { ScenarioFile } from './file-schema.ts';
import { DEVICE_FAULT_TYPES, FAULT_TYPES, PLAN_TWISTS, VEHICLE_LEVEL_TYPES } from './injection-types.ts';

/**
 * The scenario file's checks across entities (file.ts runs them once the shapes are right): references
 * between entities, unique ids, and what the schema alone cannot say.
 */

type Issues = z.core.$ZodRawIssue[];

/** References between entities, unique ids, and what the schema alone cannot say. */
export function crossCheck(s: ScenarioFile, issues: Issues): void {
  const fail = (path: (string | number)[], message: string) =>
    issues.push({ code: 'custom', input: undefined, path, message });
  const index = <T extends { id: string }>(list: readonly T[], name: string): Map<string, T> => {
    const m = new Map<string, T>();
    list.forEach((e, i) => {
      if (m.has(e.id)) fail([name, i, 'id'], `duplicate id '${e.id}'`);
      m.set(e.id, e);
    });
    return m;
  };
  const firms = index(s.firms, 'firms');
  const officers = index(s.officers, 'officers');
  const vehicles = index(s.vehicles, 'vehicles');
  index(s.devices, 'devices');
  const sites = index(s.sites, 'sites');
  const routes = index(s.routes, 'routes');
  index(s.zones, 'zones');
  const permits = index(s.permits, 'permits');
  const need = (map: Map<string, unknown>, ref: string, path: (string | number)[], what: string) => {
    if (!map.has(ref)) fail(path, `unknown ${what} '${ref}'`);
  };
  const siteOfKind = (ref: string, kind: 'origin' | 'disposal', path: (string | number)[]) => {
    const site = sites.get(ref);
    if (!site) fail(path, `unknown site '${ref}'`);
    else if (site.kind !== kind) fail(path, `site '${ref}' is of kind ${site.kind}, expected ${kind}`);
  };

  for (const [i, o] of s.officers.entries()) need(firms, o.firm, ['officers', i, 'firm'], 'firm');
  s.vehicles.forEach((v, i) => {
    need(firms, v.firm, ['vehicles', i, 'firm'], 'firm');
    if (v.kind === 'muck_truck' && v.ratedLoadT === undefined)
      fail(['vehicles', i, 'ratedLoadT'], 'a muck truck needs its rated load (t)');
    if (v.haul) {
      need(routes, v.haul.route, ['vehicles', i, 'haul', 'route'], 'route');
      siteOfKind(v.haul.origin, 'origin', ['vehicles', i, 'haul', 'origin']);
      siteOfKind(v.haul.disposal, 'disposal', ['vehicles', i, 'haul', 'disposal']);
    } else if (v.kind === 'muck_truck' && !s.permits.some((p) => p.vehicles.includes(v.id))) {
      fail(['vehicles', i, 'haul'], 'a muck truck named by no permit needs a haul (route, origin, disposal)');
    }
    if (v.round && v.kind !== 'sanitation')
      fail(['vehicles', i, 'round'], 'only sanitation vehicles sweep rounds');
  });
  const deviceOf = new Map<string, number>();
  s.devices.forEach((d, i) => {
    need(firms, d.firm, ['devices', i, 'firm'], 'firm');
    if (d.kind === 'body_camera') {
      if (d.vehicle !== undefined)
        fail(['devices', i, 'vehicle'], 'a body camera is not mounted on a vehicle');
      if (d.officer !== undefined) need(officers, d.officer, ['devices', i, 'officer'], 'officer');
    } else if (d.vehicle === undefined) {
      fail(['devices', i, 'vehicle'], `a ${d.kind} device needs its vehicle`);
    } else {
      const v = vehicles.get(d.vehicle);
      if (!v) fail(['devices', i, 'vehicle'], `unknown vehicle '${d.vehicle}'`);
      else {
        if (v.kind !== d.kind) fail(['devices', i, 'kind'], `vehicle '${v.id}' is a ${v.kind}`);
        if (v.firm !== d.firm) fail(['devices', i, 'firm'], `vehicle '${v.id}' belongs to firm '${v.firm}'`);
        if (deviceOf.has(v.id)) fail(['devices', i, 'vehicle'], `vehicle '${v.id}' already has a device`);
        deviceOf.set(v.id, i);
      }
    }
    if (d.patrol && d.kind !== 'body_camera') fail(['devices', i, 'patrol'], 'only body cameras patrol');
  });
  s.vehicles.forEach((v, i) => {
    if (!deviceOf.has(v.id)) fail(['vehicles', i, 'id'], `vehicle '${v.id}' has no device`);
  });
  s.routes.forEach((r, i) => {
    const n = r.geometry.coordinates.length;
    r.limits?.forEach((l, j) => {
      if (l.from > l.to) fail(['routes', i, 'limits', j, 'to'], 'to must not be before from');
      if (l.to > n - 1)
        fail(['routes', i, 'limits', j, 'to'], `the line has ${n} vertices (last index ${n - 1})`);
    });
  });
  s.zones.forEach((z, i) => {
    if (z.kind === 'speed' && z.speedLimitKmh === undefined)
      fail(['zones', i, 'speedLimitKmh'], 'a speed zone needs its limit');
  });
  s.permits.forEach((p, i) => {
    need(firms, p.firm, ['permits', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      const veh = vehicles.get(v);
      if (!veh) fail(['permits', i, 'vehicles', j], `unknown vehicle '${v}'`);
      else if (veh.kind !== 'muck_truck') fail(['permits', i, 'vehicles', j], `'${v}' is not a muck truck`);
    });
    for (const [j, o] of p.origins.entries()) siteOfKind(o, 'origin', ['permits', i, 'origins', j]);
    for (const [j, o] of p.disposals.entries()) siteOfKind(o, 'disposal', ['permits', i, 'disposals', j]);
    for (const [j, r] of p.routes.entries()) need(routes, r, ['permits', i, 'routes', j], 'route');
    if (p.validFrom && p.validTo && p.validFrom > p.validTo)
      fail(['permits', i, 'validTo'], 'validTo is before validFrom');
  });
  for (const [i, f] of s.fleet.muckTrucks.entries())
    need(permits, f.permit, ['fleet', 'muckTrucks', i, 'permit'], 'permit');
  let tripRates = 0;
  const cameras = new Map(s.devices.filter((d) => d.kind === 'body_camera').map((d) => [d.id, d]));
  const plans = s.plans ?? { collectionPoints: [], sweepPlans: [], dutyPlans: [], uploadStations: [] };
  plans.collectionPoints.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'collectionPoints', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      if (vehicles.get(v)?.kind !== 'sanitation')
        fail(
          ['plans', 'collectionPoints', i, 'vehicles', j],
          `'${v}' is not a sanitation vehicle of the scenario`,
        );
    });
  });
  plans.sweepPlans.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'sweepPlans', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      if (vehicles.get(v)?.kind !== 'sanitation')
        fail(['plans', 'sweepPlans', i, 'vehicles', j], `'${v}' is not a sanitation vehicle of the scenario`);
      else if (plans.collectionPoints.some((c) => c.vehicles.includes(v)))
        fail(
          ['plans', 'sweepPlans', i, 'vehicles', j],
          `'${v}' collects (a vehicle either sweeps or collects)`,
        );
    });
  });
  plans.dutyPlans.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'dutyPlans', i, 'firm'], 'firm');
    p.cameras.forEach((c, j) => {
      if (!cameras.has(c))
        fail(['plans', 'dutyPlans', i, 'cameras', j], `'${c}' is not a body camera of the scenario`);
    });
    for (const [j, o] of p.officers.entries())
      need(officers, o, ['plans', 'dutyPlans', i, 'officers', j], 'officer');
    if (p.cameras.length + p.officers.length === 0)
      fail(['plans', 'dutyPlans', i, 'cameras'], 'a duty plan names cameras or officers');
  });
  if (plans.dutyPlans.length > 0 && plans.uploadStations.length === 0)
    fail(['plans', 'uploadStations'], 'cameras on duty dock at an upload station: give at least one');
  s.injections.forEach((inj, i) => {
    if (inj.vehicle !== undefined) {
      const v = vehicles.get(inj.vehicle);
      const camera = cameras.get(inj.vehicle);
      const deviceFault = (DEVICE_FAULT_TYPES as readonly string[]).includes(inj.type);
      const kind = v?.kind ?? (camera ? 'body_camera' : undefined);
      if (kind === undefined) fail(['injections', i, 'vehicle'], `unknown vehicle '${inj.vehicle}'`);
      else if (kind !== 'muck_truck' && !deviceFault && !PLAN_TWISTS[kind].includes(inj.type))
        fail(
          ['injections', i, 'vehicle'],
          `'${inj.vehicle}' is a ${kind}: it takes ${PLAN_TWISTS[kind].join(', ')} (or a device fault)`,
        );
      else if (kind === 'muck_truck' && (PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type))
        fail(
          ['injections', i, 'type'],
          `${inj.type} is a sanitation or body-camera violation, not a muck truck's`,
        );
    }
    const tripTwist =
      !(FAULT_TYPES as readonly string[]).includes(inj.type) &&
      !(VEHICLE_LEVEL_TYPES as readonly string[]).includes(inj.type) &&
      !(PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type);
    if (inj.rate !== undefined && (PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type))
      fail(['injections', i, 'rate'], `${inj.type} is injected per unit (vehicle), not by rate`);
    if (inj.rate !== undefined && tripTwist) tripRates += inj.rate;
  });
  if (tripRates > 1 + 1e-9)
    fail(
      ['injections'],
      `the per-trip rates add up to ${tripRates.toFixed(3)}: a trip takes at most one twist (<= 1)`,
    );
}
