import type { Position } from '../../geofence/model.ts';
import { DEMO_COMPLIANCE_IDS, demoComplianceSeed } from '../demo/compliance.ts';
import { demoPlan } from '../demo/geometry.ts';
import { demoRegistrySeed, HEFEI } from '../demo/registry.ts';
import { demoScenarioFleet, type ScenarioName } from '../demo/scenario-trucks.ts';
import type { ScenarioFile } from '../scenario/file-schema.ts';
import { createRng, hashString } from '../shared/rng.ts';
import { blockLoop, offsetM, type Polyline, patrolLoop } from '../shared/tracks.ts';

/**
 * The bundled scenario files, derived from the demo world (demo/fleet.ts, demo/scenario-trucks.ts,
 * demo/compliance.ts) so that they stay the same Hefei: its two 两点一线 hauls, the unlicensed disposal
 * site, the school zone closed to muck trucks, the 30 km/h hospital zone, the demo fleet and the 13
 * scenario trucks. `node --import tsx simulators/scenarios/build.ts` writes them; a test checks the files
 * match.
 *
 * - hefei-basic.json: every scenario truck breaks its rule on every trip (per-vehicle injections);
 *   NO_PERMIT and OFF_HOURS through the permits (scenario/world.ts); the demo trucks stay compliant.
 * - hefei-fleet.yaml: the same world with 2 x 10 generated trucks and injections by rate instead.
 * - hefei-faults.json: the mixed-fault scenario of issue 17: hefei-basic's trucks and injections, 2 x 6
 *   generated trucks with twists by rate, and every fault class at once: load-sensor flicker, weight
 *   glitches, multipath strays (into the school zone when in reach), urban-canyon bias, drift, blind
 *   areas uploaded late as one batch, terminals asleep with the ignition off, a clock 90 s ahead, a
 *   permit revoked mid-trip through the API, and the protocol faults.
 */

const position = (p: { lat: number; lon: number }): Position => [
  Math.round(p.lon * 1e7) / 1e7,
  Math.round(p.lat * 1e7) / 1e7,
];
const line = (l: Polyline) => ({ type: 'LineString' as const, coordinates: l.points.map(position) });

/** The demo scenario each truck plays, as the violation type injected on its trips. */
const INJECTED: Record<Exclude<ScenarioName, 'compliant'>, ScenarioFile['injections'][number]['type']> = {
  offRoute: 'OFF_ROUTE',
  offHours: 'OFF_HOURS',
  noPermit: 'NO_PERMIT',
  illegalDump: 'ILLEGAL_DUMP',
  suspectedDump: 'SUSPECTED_DUMP',
  spillage: 'SPILLAGE',
  wrongSite: 'WRONG_SITE',
  overspeed: 'OVERSPEED',
  restrictedZone: 'RESTRICTED_ZONE',
  overload: 'OVERLOAD',
  trackGap: 'TRACK_GAP',
  offline: 'OFFLINE',
};

/** Geometry and registry of the demo world (without its off-hours permit: OFF_HOURS is injected). */
function demoWorld(
  withScenarioTrucks: boolean,
): Omit<ScenarioFile, 'version' | 'name' | 'injections' | 'fleet'> {
  const demo = demoRegistrySeed();
  const scenario = withScenarioTrucks ? demoScenarioFleet() : { vehicles: [], devices: [] };
  const plan = demoPlan();
  // dates and the off-hours window depend on `now`; the geometry does not (and permits drop the dates)
  const seed = demoComplianceSeed(Date.UTC(2025, 5, 2));
  const ids = DEMO_COMPLIANCE_IDS;
  const sweepers = demo.vehicles.filter((v) => v.kind === 'sanitation');
  const cameras = demo.devices.filter((d) => d.kind === 'body_camera');
  const vehicles = [...demo.vehicles, ...scenario.vehicles];
  return {
    firms: demo.firms,
    officers: demo.officers,
    vehicles: vehicles.map((v) => ({
      ...v,
      ...(v.kind === 'sanitation'
        ? { round: line(plan.sweeperRounds[sweepers.findIndex((s) => s.id === v.id)]!) }
        : {}),
    })),
    devices: [...demo.devices, ...scenario.devices].map((d) => ({
      ...d,
      ...(d.kind === 'body_camera'
        ? { patrol: line(plan.patrols[cameras.findIndex((c) => c.id === d.id)]!) }
        : {}),
    })),
    sites: seed.sites.map((s) => ({
      id: s.id,
      kind: s.kind,
      name: s.name,
      geometry: { type: 'Polygon' as const, coordinates: s.polygons[0]! },
    })),
    routes: seed.routes.map((r) => ({
      id: r.id,
      name: r.name,
      geometry: { type: 'LineString' as const, coordinates: r.line },
      corridorM: r.corridorM,
      limits: r.limits,
    })),
    zones: seed.zones.map((z) => ({
      id: z.id,
      kind: z.kind,
      name: z.name,
      geometry: { type: 'Polygon' as const, coordinates: z.polygons[0]! },
      windows: z.windows,
      ...(z.speedLimitKmh !== undefined ? { speedLimitKmh: z.speedLimitKmh } : {}),
      ...(z.appliesTo ? { appliesTo: z.appliesTo } : {}),
    })),
    permits: plan.hauls.map((h, i) => ({
      id: ids.permits[i]!,
      firm: h.firm,
      vehicles: vehicles.filter((v) => v.kind === 'muck_truck' && v.firm === h.firm).map((v) => v.id),
      origins: [ids.origins[i]!],
      disposals: [ids.disposals[i]!],
      routes: [ids.routes[i]!],
      windows: ['00:00-24:00'],
      cargo: '建筑垃圾（工程渣土）',
    })),
  };
}

export function hefeiBasicScenario(): ScenarioFile {
  const fleet = demoScenarioFleet();
  return {
    version: 1,
    name: 'hefei-basic',
    description:
      'The demo world of Hefei: two 两点一线 hauls, an unlicensed disposal site, a school zone closed to muck trucks, a 30 km/h hospital zone; 4 compliant demo trucks, 2 sweepers, 3 body cameras, and 13 scenario trucks of which 12 break one rule on every trip.',
    ...demoWorld(true),
    fleet: { muckTrucks: [] },
    injections: fleet.trucks
      .filter((t) => t.scenario !== 'compliant')
      .map((t) => ({
        type: INJECTED[t.scenario as Exclude<ScenarioName, 'compliant'>],
        vehicle: t.vehicle.id,
      })),
  };
}

export function hefeiFleetScenario(): ScenarioFile {
  return {
    version: 1,
    name: 'hefei-fleet',
    description:
      'The demo world of Hefei with 10 generated trucks per haul and violations injected by rate (per trip; NO_PERMIT and OFF_HOURS: share of the trucks), plus protocol faults.',
    ...demoWorld(false),
    fleet: {
      muckTrucks: [
        {
          permit: DEMO_COMPLIANCE_IDS.permits[0],
          count: 10,
          idPrefix: 'veh-hf-j',
          platePrefix: '皖A·J',
          ratedLoadT: 31,
          reportIntervalS: 10,
          secretPattern: 'sim-secret-{id}',
        },
        {
          permit: DEMO_COMPLIANCE_IDS.permits[1],
          count: 10,
          idPrefix: 'veh-hf-x',
          platePrefix: '皖A·X',
          ratedLoadT: 18,
          reportIntervalS: 10,
          secretPattern: 'sim-secret-{id}',
        },
      ],
    },
    injections: [
      { type: 'NO_PERMIT', rate: 0.05 },
      { type: 'OFF_HOURS', rate: 0.05 },
      { type: 'OFF_ROUTE', rate: 0.08 },
      { type: 'ILLEGAL_DUMP', rate: 0.05 },
      { type: 'SUSPECTED_DUMP', rate: 0.05 },
      { type: 'SPILLAGE', rate: 0.08 },
      { type: 'WRONG_SITE', rate: 0.05 },
      { type: 'OVERSPEED', rate: 0.08 },
      { type: 'RESTRICTED_ZONE', rate: 0.05 },
      { type: 'OVERLOAD', rate: 0.08 },
      { type: 'OFFLINE', rate: 0.05 },
      { type: 'TRACK_GAP', rate: 0.03 },
      { type: 'DUPLICATE', rate: 0.01 },
      { type: 'OUT_OF_ORDER', rate: 0.005 },
      { type: 'MALFORMED', rate: 0.002 },
    ],
  };
}

export function hefeiFaultsScenario(): ScenarioFile {
  const basic = hefeiBasicScenario();
  const fleet = hefeiFleetScenario().fleet.muckTrucks.map((f) => ({
    ...f,
    count: 6,
    idPrefix: f.idPrefix.replace('veh-hf-', 'veh-hf-f'),
  }));
  return {
    ...basic,
    name: 'hefei-faults',
    description:
      'The mixed-fault scenario (issue 17): hefei-basic (12 scenario trucks breaking one rule each) with 2 x 6 generated trucks (twists by rate), and every real GPS and sensor fault at once: load-sensor flicker, weight glitches, multipath strays, urban-canyon bias, drift, blind-area backfill, ignition-off sleep, a device clock 90 s ahead, a permit revoked mid-trip (through the API, during the run), and protocol faults. The ground truth holds what a fair officer would charge: no glitch, stray or sleep is a violation.',
    fleet: { muckTrucks: fleet },
    injections: [
      ...basic.injections,
      // a compliant demo truck whose permit the city revokes while it hauls; another whose clock runs ahead
      { type: 'REVOKE', vehicle: 'veh-d5678' },
      { type: 'CLOCK_SKEW', vehicle: 'veh-f2468' },
      // the generated trucks: twists by rate (per trip)
      { type: 'OFF_ROUTE', rate: 0.08 },
      { type: 'ILLEGAL_DUMP', rate: 0.04 },
      { type: 'SPILLAGE', rate: 0.06 },
      { type: 'OVERSPEED', rate: 0.06 },
      { type: 'RESTRICTED_ZONE', rate: 0.04 },
      { type: 'OVERLOAD', rate: 0.05 },
      { type: 'OFFLINE', rate: 0.05 },
      { type: 'TRACK_GAP', rate: 0.03 },
      // faults
      { type: 'FLICKER', rate: 0.004 },
      { type: 'WEIGHT_GLITCH', rate: 0.004 },
      { type: 'MULTIPATH', rate: 0.003 },
      { type: 'CANYON', rate: 0.002 },
      { type: 'DRIFT', rate: 0.002 },
      { type: 'BLIND_AREA', rate: 0.15 },
      { type: 'SLEEP', rate: 0.1 },
      { type: 'DUPLICATE', rate: 0.01 },
      { type: 'OUT_OF_ORDER', rate: 0.005 },
      { type: 'MALFORMED', rate: 0.002 },
      { type: 'DROPOUT', rate: 0.005 },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Sanitation and body cameras (issue 15)

/** The square of side 2 x halfM round a centre, as a closed GeoJSON ring. */
function squareRing(c: { lat: number; lon: number }, halfM: number): Position[] {
  const corner = (e: number, n: number) => position(offsetM(c, e * halfM, n * halfM));
  const first = corner(-1, -1);
  return [first, corner(1, -1), corner(1, 1), corner(-1, 1), first];
}

const SANITATION_FIRM = 'firm-hf-qingyuan';
const ENFORCEMENT = 'dept-hf-shushan-cg';
/** the sweepers' two shifts and the officers' two duty shifts, relative to the run's start (2 h) */
const SWEEP_SHIFTS = ['+0:10-+0:55', '+1:05-+1:50'];
const DUTY_SHIFTS = ['+0:10-+0:50', '+1:00-+1:40'];
/** the collection windows of a truck's three points, in its visiting order */
const COLLECTION_WINDOWS = ['+0:12-+0:30', '+0:45-+1:03', '+1:18-+1:36'];

/**
 * hefei-sanitation.json: the sanitation and body-camera scenario of issue 15, a 2 h run south-east of the
 * demo city's centre. Nine sweepers each with a sweep plan (a 500 x 300 m block, two shifts), five
 * collection trucks with three points each (one window each), fifteen officers each with a duty plan (a
 * 900 m square grid, two shifts) and an upload station in the grid. Two units per rule break it (both
 * shifts; or the first and last stop, and the middle one), the first of each kind stays compliant. Thresholds: the grace for
 * a late collection 15 min and the upload time 60 min, so that every decision falls inside the 2 h run.
 */
export function hefeiSanitationScenario(): ScenarioFile {
  const demo = demoRegistrySeed();
  const rng = createRng(hashString('hefei-sanitation'));
  const base = offsetM(HEFEI, 2500, -2500);
  const sweepers: Array<[string, ScenarioFile['injections'][number]['type'] | undefined]> = [
    ['veh-h0621', undefined],
    ['veh-h0622', 'SWEEP_OVERSPEED'],
    ['veh-h0623', 'SWEEP_COVERAGE'],
    ['veh-h0624', 'OUT_OF_AREA'],
    ['veh-h0625', 'OFFLINE'],
    ['veh-h0626', 'SWEEP_OVERSPEED'],
    ['veh-h0627', 'SWEEP_COVERAGE'],
    ['veh-h0628', 'OUT_OF_AREA'],
    ['veh-h0629', 'OFFLINE'],
  ];
  const collectors: Array<[string, ScenarioFile['injections'][number]['type'] | undefined]> = [
    ['veh-h0631', undefined],
    ['veh-h0632', 'MISSED_COLLECTION'],
    ['veh-h0633', 'LATE_COLLECTION'],
    ['veh-h0634', 'MISSED_COLLECTION'],
    ['veh-h0635', 'LATE_COLLECTION'],
  ];
  const cameras: Array<[string, ScenarioFile['injections'][number]['type'] | undefined]> = [
    ['cam-sc-0001', undefined],
    ['cam-sc-0002', 'NOT_RECORDING'],
    ['cam-sc-0003', 'OUT_OF_GRID'],
    ['cam-sc-0004', 'LOW_BATTERY'],
    ['cam-sc-0005', 'LOW_STORAGE'],
    ['cam-sc-0006', 'NOT_UPLOADED'],
    ['cam-sc-0007', 'SOS'],
    ['cam-sc-0008', 'OFFLINE'],
    ['cam-sc-0009', 'NOT_RECORDING'],
    ['cam-sc-0010', 'OUT_OF_GRID'],
    ['cam-sc-0011', 'LOW_BATTERY'],
    ['cam-sc-0012', 'LOW_STORAGE'],
    ['cam-sc-0013', 'NOT_UPLOADED'],
    ['cam-sc-0014', 'SOS'],
    ['cam-sc-0015', 'OFFLINE'],
  ];
  const plate = (id: string) => `皖A·${id.slice(4).toUpperCase()}`;
  const secret = (id: string) => `sim-secret-${id}`;
  const vehicles: ScenarioFile['vehicles'] = [...sweepers, ...collectors].map(([id]) => ({
    id,
    plate: plate(id),
    kind: 'sanitation' as const,
    firm: SANITATION_FIRM,
  }));
  const officers = cameras.map((_, i) => ({
    id: `officer-${String(i + 1).padStart(3, '0')}`,
    name: demo.officers[i]?.name ?? `执法队员${i + 1}`,
    firm: ENFORCEMENT,
  }));
  const devices: ScenarioFile['devices'] = [
    ...[...sweepers, ...collectors].map(([id]) => ({
      id: `dev-${id.slice(4)}`,
      secret: secret(`dev-${id.slice(4)}`),
      kind: 'sanitation' as const,
      vehicle: id,
      firm: SANITATION_FIRM,
      reportIntervalS: 10,
    })),
    ...cameras.map(([id], i) => ({
      id,
      secret: secret(id),
      kind: 'body_camera' as const,
      firm: ENFORCEMENT,
      officer: officers[i]!.id,
      reportIntervalS: 15,
    })),
  ];
  // sweep plans: a block each, in a row 900 m apart
  const sweepPlans = sweepers.map(([id], i) => {
    const loop = blockLoop(rng, offsetM(base, (i % 5) * 900, -Math.floor(i / 5) * 600), 500, 300);
    return {
      id: `sweep-${id.slice(4)}`,
      firm: SANITATION_FIRM,
      name: `清扫作业计划 ${plate(id)}`,
      geometry: line(loop),
      corridorM: 20,
      windows: SWEEP_SHIFTS,
      vehicles: [id],
    };
  });
  // collection points: three per truck, 800 m apart, on a row 1.2 km south of the sweepers
  const collectionPoints = collectors.flatMap(([id], i) =>
    COLLECTION_WINDOWS.map((w, k) => ({
      id: `cp-${id.slice(4)}-${k + 1}`,
      firm: SANITATION_FIRM,
      name: `收运点 ${i + 1}-${k + 1}`,
      position: position(offsetM(base, i * 1500 + k * 500, -2000 - (k % 2) * 400)),
      radiusM: 30,
      windows: [w],
      vehicles: [id],
      binsExpected: 6,
    })),
  );
  // duty plans: a 900 m square grid each with an upload station in its middle, two rows north
  const centres = cameras.map((_, i) => offsetM(base, (i % 5) * 1100, 1000 + Math.floor(i / 5) * 1100));
  const dutyPlans = cameras.map(([id], i) => ({
    id: `duty-${id.slice(4)}`,
    firm: ENFORCEMENT,
    name: `网格 ${i + 1}`,
    geometry: { type: 'Polygon' as const, coordinates: [squareRing(centres[i]!, 450)] },
    windows: DUTY_SHIFTS,
    cameras: [id],
    officers: [],
  }));
  const uploadStations = cameras.map(([id], i) => ({
    id: `station-${id.slice(4)}`,
    name: `采集站 ${i + 1}`,
    position: position(centres[i]!),
    radiusM: 50,
  }));
  const camerasWithPatrol = devices.map((d) => {
    const i = cameras.findIndex(([id]) => id === d.id);
    return i < 0 ? d : { ...d, patrol: line(patrolLoop(rng, centres[i]!, 250)) };
  });
  const injections: ScenarioFile['injections'] = [
    ...sweepers.flatMap(([vehicle, type]) => (type ? [{ type, vehicle }] : [])),
    // the first truck of a type misses (or is late for) its first and last stops, the second its middle one
    ...collectors.flatMap(([vehicle, type], i) =>
      type ? [{ type, vehicle, trips: i <= 2 ? [0, 2] : [1] }] : [],
    ),
    ...cameras.flatMap(([vehicle, type]) => (type ? [{ type, vehicle }] : [])),
  ];
  return {
    version: 1,
    name: 'hefei-sanitation',
    description:
      'Sanitation and body-camera compliance (issue 15) in Hefei, a 2 h run: 9 sweepers on their sweep plans (two shifts), 5 collection trucks with 3 collection points each, 15 officers with body cameras on duty in their grids (two shifts) docking at an upload station; the first unit of each kind is compliant, two units per rule break it: SWEEP_OVERSPEED, SWEEP_COVERAGE, OUT_OF_AREA, OFFLINE (sweepers), MISSED_COLLECTION, LATE_COLLECTION, NOT_RECORDING, OUT_OF_GRID, LOW_BATTERY, LOW_STORAGE, NOT_UPLOADED, SOS, OFFLINE (cameras). Plan windows are relative to the run start (+H:MM).',
    thresholds: { collectionLateGraceMs: 15 * 60_000, uploadMaxMs: 60 * 60_000 },
    firms: demo.firms.filter((f) => f.id === SANITATION_FIRM || f.id === ENFORCEMENT),
    officers,
    vehicles,
    devices: camerasWithPatrol,
    sites: [],
    routes: [],
    zones: [],
    permits: [],
    plans: { collectionPoints, sweepPlans, dutyPlans, uploadStations },
    fleet: { muckTrucks: [] },
    injections,
  };
}
