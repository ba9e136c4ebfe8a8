import type { ViolationCode } from '../../geofence/model.ts';
import type { FixPayload } from '../../ingest/payload.ts';
import type { NewDevice, Vehicle } from '../../registry/types.ts';
import type { Behaviour } from '../motion/behaviour.ts';
import {
  CycleTruckBehaviour,
  type Drive,
  type Dwell,
  LOAD_DWELL,
  type TruckCycle,
  UNLOAD_DWELL,
} from '../motion/truck-cycle.ts';
import type { Rng } from '../shared/rng.ts';
import { type LatLon, offsetM, Polyline } from '../shared/tracks.ts';
import {
  type BehaviourFactory,
  createDeviceSims,
  DEFAULT_INTERVAL_S,
  type DemoHaul,
  type DemoMessage,
  type DemoSite,
  demoPlan,
  demoSecret,
} from './fleet.ts';

/**
 * Compliance scenarios of the demo (issue 3): muck trucks that each break ONE rule of the 两点一线
 * permit on every trip, next to a compliant one, so that `npm start` shows violations appearing.
 *
 * A scenario truck drives a fixed cycle of legs (load at the origin, haul, unload, return) on one of the
 * demo hauls of `demoPlan()`, with the scenario's twist built into the cycle: a detour, a roadside dump,
 * a long stop, an open cover, a fast stretch, an overweight load, a silence. The geometry of the twists
 * (detours, the school and hospital zones, the unlicensed disposal site) is fixed (`scenarioGeometry()`),
 * and `demoComplianceSeed` (compliance.ts) writes its sites, routes, zones and permits from it.
 * The seed varies only speeds, dwell times, red lights and the ±5 m GPS noise the demo uses everywhere
 * (GPS_NOISE_SD_M); no scenario relies on noise, and none is pushed close to a threshold by it.
 *
 * Each scenario starts at the point of its cycle that makes its violation appear within the first ~10
 * simulated minutes, then repeats once per trip cycle (about 30-40 min).
 */

export const SCENARIOS = [
  'compliant',
  'offRoute',
  'offHours',
  'noPermit',
  'illegalDump',
  'suspectedDump',
  'spillage',
  'wrongSite',
  'overspeed',
  'restrictedZone',
  'overload',
  'trackGap',
  'offline',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioExpectation {
  /** the violation the scenario exists to show (null: none at all) */
  code: ViolationCode | null;
  /** other codes the scenario may legitimately cause as well, with the reason */
  alsoAllowed: Partial<Record<ViolationCode, string>>;
  /** what the truck does, for the demo's legend */
  description: string;
}

export const SCENARIO_EXPECTATIONS: Record<ScenarioName, ScenarioExpectation> = {
  compliant: { code: null, alsoAllowed: {}, description: 'loads, hauls on its route, unloads at its site' },
  offRoute: {
    code: 'OFF_ROUTE',
    alsoAllowed: {},
    description: 'loaded, leaves the corridor for a loop 400 m west of the route (about 4 min)',
  },
  offHours: {
    code: 'OFF_HOURS',
    alsoAllowed: {},
    description: 'hauls at any hour while its permit allows only a 2 h window half a day away',
  },
  noPermit: {
    code: 'NO_PERMIT',
    alsoAllowed: {},
    description: 'loads at the origin and hauls with no permit at all',
  },
  illegalDump: {
    code: 'ILLEGAL_DUMP',
    alsoAllowed: {
      SUSPECTED_DUMP: 'a roadside dump is also a loaded stop outside sites (the dump is kept under 5 min)',
    },
    description: 'tips its load at the roadside halfway, then drives back empty',
  },
  suspectedDump: {
    code: 'SUSPECTED_DUMP',
    alsoAllowed: {},
    description: 'loaded, stands 6-7 min at the roadside, then goes on to its disposal site',
  },
  spillage: {
    code: 'SPILLAGE',
    alsoAllowed: {},
    description: 'hauls about 1.2 km with the cover open',
  },
  wrongSite: {
    code: 'WRONG_SITE',
    alsoAllowed: {},
    description: 'unloads at an unlicensed disposal site beside its route, not the permitted one',
  },
  overspeed: {
    code: 'OVERSPEED',
    alsoAllowed: {},
    description: 'empty, returns through the 30 km/h hospital zone at 50-56 km/h',
  },
  restrictedZone: {
    code: 'RESTRICTED_ZONE',
    alsoAllowed: {},
    description: 'empty, returns by a short cut through the school zone (closed all day)',
  },
  overload: {
    code: 'OVERLOAD',
    alsoAllowed: {},
    description: 'loads 12-20 % above its rated load',
  },
  trackGap: {
    code: 'TRACK_GAP',
    alsoAllowed: {},
    description:
      'loaded, its terminal goes silent for 6-6.5 min while it drives on (under the 10 min of OFFLINE)',
  },
  offline: {
    code: 'OFFLINE',
    alsoAllowed: {},
    description:
      'parked empty in its origin site before each trip, ignition on, its terminal silent for 11-13 min (over the 10 min allowance; parked, so no track gap)',
  },
};

// ---------------------------------------------------------------------------------------------------------
// Geometry of the twists (fixed, WGS-84)

const DEG = Math.PI / 180;

/** The part of `line` from 0 to `toM`. */
export function truncateLine(line: Polyline, toM: number): Polyline {
  const pts: LatLon[] = [];
  for (let i = 0; i < line.points.length && (line.cumulative[i] as number) < toM; i++) {
    pts.push(line.points[i] as LatLon);
  }
  pts.push(line.at(toM).pos);
  return new Polyline(pts);
}

/** p moved `m` metres to the right of travel along `headingDeg` (negative: to the left). */
function toRight(p: LatLon, headingDeg: number, m: number): LatLon {
  const h = headingDeg * DEG;
  return offsetM(p, Math.cos(h) * m, -Math.sin(h) * m);
}

export interface Detour {
  line: Polyline;
  /** distances along `line` where the parallel part starts and ends */
  parallelFromM: number;
  parallelToM: number;
}

/**
 * `line` with a loop between distances fromM and toM: a turn `rightM` metres to the right of travel (left
 * when negative), a road parallel to the original one, and a turn back. The stretch must be straight.
 */
export function spliceDetour(line: Polyline, fromM: number, toM: number, rightM: number): Detour {
  const a = line.at(fromM);
  const b = line.at(toM);
  const h = a.heading;
  const pts: LatLon[] = [];
  for (let i = 0; i < line.points.length && (line.cumulative[i] as number) < fromM; i++) {
    pts.push(line.points[i] as LatLon);
  }
  pts.push(a.pos);
  const fromIndex = pts.length;
  pts.push(toRight(a.pos, h, rightM));
  for (let i = 0; i < line.points.length; i++) {
    const c = line.cumulative[i] as number;
    if (c > fromM && c < toM) pts.push(toRight(line.points[i] as LatLon, h, rightM));
  }
  pts.push(toRight(b.pos, h, rightM));
  const toIndex = pts.length - 1;
  pts.push(b.pos);
  for (let i = 0; i < line.points.length; i++) {
    if ((line.cumulative[i] as number) > toM) pts.push(line.points[i] as LatLon);
  }
  const out = new Polyline(pts);
  return {
    line: out,
    parallelFromM: out.cumulative[fromIndex] as number,
    parallelToM: out.cumulative[toIndex] as number,
  };
}

/** A closed rectangle round the (straight) stretch [fromM, toM] of a line, halfWidthM each side. */
export function stretchPolygon(line: Polyline, fromM: number, toM: number, halfWidthM: number): LatLon[] {
  const a = line.at(fromM);
  const b = line.at(toM);
  const h = a.heading;
  const ring = [
    toRight(a.pos, h, -halfWidthM),
    toRight(b.pos, h, -halfWidthM),
    toRight(b.pos, h, halfWidthM),
    toRight(a.pos, h, halfWidthM),
  ];
  ring.push(ring[0] as LatLon);
  return ring;
}

export interface ScenarioGeometry {
  /** haul 0 (firm-hf-jianyun), haul 1 (firm-hf-xinglong) of demoPlan() */
  hauls: readonly DemoHaul[];
  /** haul 0 loaded with a loop 400 m west of the north-south stretch (offRoute) */
  offRouteHaul: Detour;
  /** haul 0 return with a loop 400 m east of the north-south stretch (restrictedZone) */
  schoolReturn: Detour;
  /** restricted zone (禁行区) across the middle of the school loop, closed ring */
  schoolZone: LatLon[];
  /** haul 1 return with a loop 400 m off the long east-west stretch (overspeed) */
  hospitalReturn: Detour;
  /** 30 km/h speed zone across the middle of the hospital loop, closed ring */
  speedZone: LatLon[];
  /** distances along hospitalReturn.line where the speed zone begins and ends */
  speedZoneSpanM: [number, number];
  /** an unlicensed disposal site beside haul 1's route, named by no permit (wrongSite) */
  unpermittedSite: DemoSite;
  /** haul 1 from the origin to the unloading point inside the unlicensed site */
  wrongSiteHaul: Polyline;
  /** haul 0 from the origin to the roadside dump (illegalDump) */
  illegalDumpHaul: Polyline;
  /** distance along haul 1 of the roadside stop (suspectedDump) */
  suspectedStopM: number;
}

/** Where each twist happens, in metres along the haul route. */
const AT = {
  /** haul 0, north-south stretch 2169..5397 m */
  offRoute: [2500, 4900] as const,
  school: [2500, 4900] as const,
  /** haul 0 */
  illegalDump: 2800,
  /** haul 1, long east-west stretch 3334..5215 m (as distances of the reversed route: 827..2708) */
  hospital: [1000, 2500] as const,
  /** haul 1, east-west stretch 1645..2421 m */
  wrongSite: 2000,
  /** haul 1, east-west stretch 865..1645 m */
  suspectedStop: 1200,
  spillage: [900, 2100] as const,
  trackGap: 1200,
};

const DETOUR_M = 400;

let cachedGeometry: ScenarioGeometry | undefined;

/** The fixed geometry of the scenarios (derived from demoPlan(): the same every run). */
export function scenarioGeometry(): ScenarioGeometry {
  if (cachedGeometry) return cachedGeometry;
  const hauls = demoPlan().hauls;
  const h0 = hauls[0] as DemoHaul;
  const h1 = hauls[1] as DemoHaul;

  // haul 0 runs south on its long stretch: right of travel is west; on the way back (north) it is east.
  const offRouteHaul = spliceDetour(h0.route, AT.offRoute[0], AT.offRoute[1], DETOUR_M);
  const back0 = h0.route.reversed();
  const L0 = h0.route.lengthM;
  const schoolReturn = spliceDetour(back0, L0 - AT.school[1], L0 - AT.school[0], DETOUR_M);
  const schoolMid = (schoolReturn.parallelFromM + schoolReturn.parallelToM) / 2;
  const schoolZone = stretchPolygon(schoolReturn.line, schoolMid - 200, schoolMid + 200, 100);

  // haul 1 returns east on its long stretch: right of travel is south.
  const back1 = h1.route.reversed();
  const hospitalReturn = spliceDetour(back1, AT.hospital[0], AT.hospital[1], DETOUR_M);
  const hospMid = (hospitalReturn.parallelFromM + hospitalReturn.parallelToM) / 2;
  const speedZoneSpanM: [number, number] = [hospMid - 400, hospMid + 400];
  const speedZone = stretchPolygon(hospitalReturn.line, speedZoneSpanM[0], speedZoneSpanM[1], 100);

  // haul 1 runs west at AT.wrongSite: the site lies to the right (north), its gate on the road.
  const gate = h1.route.at(AT.wrongSite);
  const siteCenter = toRight(gate.pos, gate.heading, 65);
  const half = 80;
  const ring = [
    offsetM(siteCenter, -half, -half),
    offsetM(siteCenter, -half, half),
    offsetM(siteCenter, half, half),
    offsetM(siteCenter, half, -half),
  ];
  ring.push(ring[0] as LatLon);
  const unpermittedSite: DemoSite = { name: '瑶海区 某未备案消纳点', center: siteCenter, polygon: ring };
  const toGate = truncateLine(h1.route, AT.wrongSite);
  const wrongSiteHaul = new Polyline([...toGate.points, toRight(gate.pos, gate.heading, 35)]);

  cachedGeometry = {
    hauls,
    offRouteHaul,
    schoolReturn,
    schoolZone,
    hospitalReturn,
    speedZone,
    speedZoneSpanM,
    unpermittedSite,
    wrongSiteHaul,
    illegalDumpHaul: truncateLine(h0.route, AT.illegalDump),
    suspectedStopM: AT.suspectedStop,
  };
  return cachedGeometry;
}

// ---------------------------------------------------------------------------------------------------------
// The scenario fleet (registry entries)

export interface DemoScenarioTruck {
  scenario: ScenarioName;
  /** index into demoPlan().hauls */
  haul: number;
  vehicle: Vehicle;
  device: NewDevice;
}

export interface DemoScenarioFleet {
  trucks: DemoScenarioTruck[];
  vehicles: Vehicle[];
  /** with their plain demo secrets */
  devices: NewDevice[];
  /** vehicle id -> scenario */
  scenarios: Record<string, ScenarioName>;
}

const FIRM_OF_HAUL = ['firm-hf-jianyun', 'firm-hf-xinglong'] as const;

const SCENARIO_TRUCKS: ReadonlyArray<{ scenario: ScenarioName; plate: string; haul: number; rated: number }> =
  [
    { scenario: 'compliant', plate: 'D2001', haul: 0, rated: 18 },
    { scenario: 'offRoute', plate: 'D2002', haul: 0, rated: 31 },
    { scenario: 'noPermit', plate: 'D2003', haul: 0, rated: 18 },
    { scenario: 'illegalDump', plate: 'D2004', haul: 0, rated: 31 },
    { scenario: 'restrictedZone', plate: 'D2005', haul: 0, rated: 18 },
    { scenario: 'trackGap', plate: 'D2006', haul: 0, rated: 31 },
    { scenario: 'offHours', plate: 'F3001', haul: 1, rated: 31 },
    { scenario: 'suspectedDump', plate: 'F3002', haul: 1, rated: 18 },
    { scenario: 'spillage', plate: 'F3003', haul: 1, rated: 31 },
    { scenario: 'wrongSite', plate: 'F3004', haul: 1, rated: 18 },
    { scenario: 'overspeed', plate: 'F3005', haul: 1, rated: 31 },
    { scenario: 'overload', plate: 'F3006', haul: 1, rated: 18 },
    { scenario: 'offline', plate: 'F3007', haul: 1, rated: 31 },
  ];

/**
 * The extra muck trucks of the scenarios (one per scenario, in the two demo haulage firms), their
 * devices with demo secrets, and the scenario of each vehicle. Seed them next to demoRegistrySeed() and
 * drive them with `scenarioBehaviourFor()`.
 */
export function demoScenarioFleet(): DemoScenarioFleet {
  const trucks: DemoScenarioTruck[] = SCENARIO_TRUCKS.map((s) => {
    const suffix = s.plate.toLowerCase();
    const firm = FIRM_OF_HAUL[s.haul] as string;
    const vehicle: Vehicle = {
      id: `veh-${suffix}`,
      plate: `皖A·${s.plate}`,
      kind: 'muck_truck',
      firm,
      ratedLoadT: s.rated,
    };
    const deviceId = `dev-${suffix}`;
    const device: NewDevice = {
      id: deviceId,
      secret: demoSecret(deviceId),
      kind: 'muck_truck',
      vehicle: vehicle.id,
      firm,
      reportIntervalS: DEFAULT_INTERVAL_S.muck_truck,
    };
    return { scenario: s.scenario, haul: s.haul, vehicle, device };
  });
  return {
    trucks,
    vehicles: trucks.map((t) => ({ ...t.vehicle })),
    devices: trucks.map((t) => ({ ...t.device })),
    scenarios: Object.fromEntries(trucks.map((t) => [t.vehicle.id, t.scenario])),
  };
}

/** Vehicle id of the truck playing a scenario. */
export function scenarioVehicle(scenario: ScenarioName): string {
  const t = demoScenarioFleet().trucks.find((x) => x.scenario === scenario);
  if (!t) throw new Error(`no truck for scenario ${scenario}`);
  return t.vehicle.id;
}

// ---------------------------------------------------------------------------------------------------------
// Behaviour (the leg machine lives in motion/truck-cycle.ts)

const MIN = 60_000;

function cycleOf(scenario: ScenarioName, haul: number): TruckCycle {
  const g = scenarioGeometry();
  const h = g.hauls[haul] as DemoHaul;
  const origin = h.route.points[0] as LatLon;
  const disposal = h.route.points.at(-1) as LatLon;
  const load: Dwell = { type: 'dwell', action: 'load', at: origin, ...LOAD_DWELL };
  const unload: Dwell = { type: 'dwell', action: 'unload', at: disposal, ...UNLOAD_DWELL };
  const haulLeg: Drive = { type: 'drive', line: h.route };
  const back: Drive = { type: 'drive', line: h.route.reversed() };
  const normal = (over: Partial<Drive> = {}, start = 0): TruckCycle => ({
    legs: [load, { ...haulLeg, ...over }, unload, back],
    start,
    fullRange: [0.8, 0.95],
  });
  switch (scenario) {
    case 'compliant':
    case 'noPermit':
      return normal({}, 0);
    case 'offHours':
      return normal({}, 1);
    case 'overload':
      return { ...normal({}, 0), fullRange: [1.12, 1.2] };
    case 'spillage':
      return normal({ coverOpen: AT.spillage }, 1);
    case 'trackGap':
      return normal({ silence: { atM: AT.trackGap, minMs: 6 * MIN, maxMs: 6.5 * MIN } }, 1);
    case 'offline':
      // each cycle begins parked empty in the origin site, engine running, terminal silent
      return {
        legs: [
          { type: 'park', minMs: 0, maxMs: 0, silentMs: [11 * MIN, 13 * MIN] },
          load,
          haulLeg,
          unload,
          back,
        ],
        start: 0,
        fullRange: [0.8, 0.95],
      };
    case 'offRoute':
      return normal({ line: g.offRouteHaul.line }, 1);
    case 'suspectedDump': {
      const first = truncateLine(h.route, g.suspectedStopM);
      const rest = new Polyline([
        h.route.at(g.suspectedStopM).pos,
        ...h.route.points.filter((_, i) => (h.route.cumulative[i] as number) > g.suspectedStopM),
      ]);
      return {
        legs: [
          load,
          { type: 'drive', line: first },
          { type: 'park', minMs: 6 * MIN, maxMs: 7 * MIN },
          { type: 'drive', line: rest },
          unload,
          back,
        ],
        start: 1,
        fullRange: [0.8, 0.95],
      };
    }
    case 'illegalDump': {
      const to = g.illegalDumpHaul;
      return {
        legs: [
          load,
          { type: 'drive', line: to },
          { type: 'dwell', action: 'unload', at: to.points.at(-1) as LatLon, minMs: 2 * MIN, maxMs: 3 * MIN },
          { type: 'drive', line: to.reversed() },
        ],
        start: 1,
        fullRange: [0.8, 0.95],
      };
    }
    case 'wrongSite': {
      const to = g.wrongSiteHaul;
      return {
        legs: [
          load,
          { type: 'drive', line: to },
          { type: 'dwell', action: 'unload', at: to.points.at(-1) as LatLon, ...UNLOAD_DWELL },
          { type: 'drive', line: to.reversed() },
        ],
        start: 1,
        fullRange: [0.8, 0.95],
      };
    }
    case 'restrictedZone':
      return {
        legs: [load, haulLeg, unload, { type: 'drive', line: g.schoolReturn.line }],
        start: 3,
        fullRange: [0.8, 0.95],
      };
    case 'overspeed': {
      const [a, b] = g.speedZoneSpanM;
      return {
        legs: [
          load,
          haulLeg,
          unload,
          {
            type: 'drive',
            line: g.hospitalReturn.line,
            // speeds up before the zone and keeps 50-56 km/h through it (limit 30: 67-87 % over)
            fast: { fromM: a - 150, toM: b, minKmh: 50, maxKmh: 56 },
          },
        ],
        start: 3,
        fullRange: [0.8, 0.95],
      };
    }
  }
}

export interface ScenarioTruckOptions {
  scenario: ScenarioName;
  /** index into demoPlan().hauls */
  haul: number;
  ratedLoadT: number;
}

/**
 * A muck truck playing one scenario. Pure: `step(dtMs)` advances it and returns the fix; `silent` says
 * whether that fix is sent. The same rng seed and step sizes give the same fixes.
 */
export class ScenarioTruckBehaviour extends CycleTruckBehaviour {
  readonly scenario: ScenarioName;

  constructor(rng: Rng, opts: ScenarioTruckOptions) {
    super(rng, {
      track: (scenarioGeometry().hauls[opts.haul] as DemoHaul).route,
      ratedLoadT: opts.ratedLoadT,
      cycle: cycleOf(opts.scenario, opts.haul),
    });
    this.scenario = opts.scenario;
  }
}

/**
 * The behaviour factory for DeviceSim / startDemoFleet (`behaviourFor`): scenario trucks of `fleet` get
 * their scenario, every other device keeps its demo behaviour.
 */
export function scenarioBehaviourFor(fleet: DemoScenarioFleet = demoScenarioFleet()): BehaviourFactory {
  const byVehicle = new Map(fleet.trucks.map((t) => [t.vehicle.id, t]));
  return (device: NewDevice, rng: Rng): Behaviour<FixPayload> | undefined => {
    const t = device.vehicle === undefined ? undefined : byVehicle.get(device.vehicle);
    if (t === undefined || device.kind !== 'muck_truck') return undefined;
    return new ScenarioTruckBehaviour(rng, {
      scenario: t.scenario,
      haul: t.haul,
      ratedLoadT: t.vehicle.ratedLoadT ?? 18,
    });
  };
}

export interface ScenarioFixesOptions {
  seed?: number;
  /** simulated start, epoch ms */
  startTs: number;
  durationMs: number;
  /** devices to run (default: the scenario fleet's); non-scenario devices keep their demo behaviour */
  devices?: readonly NewDevice[];
}

/**
 * Every fix the given devices send from startTs for durationMs, in time order (silent fixes left out).
 * Pure: no broker, no clock.
 */
export function generateScenarioFixes(opts: ScenarioFixesOptions): DemoMessage[] {
  const fleet = demoScenarioFleet();
  const sims = createDeviceSims(opts.devices ?? fleet.devices, {
    seed: opts.seed ?? 1,
    startTs: opts.startTs,
    behaviourFor: scenarioBehaviourFor(fleet),
  });
  const end = opts.startTs + opts.durationMs;
  const out: DemoMessage[] = [];
  if (sims.length === 0) return out;
  for (;;) {
    let best = sims[0]!;
    for (const s of sims) if (s.nextTs < best.nextTs) best = s;
    if (best.nextTs > end) break;
    const msg = best.next();
    if (msg.silent !== true) out.push(msg);
  }
  return out;
}
