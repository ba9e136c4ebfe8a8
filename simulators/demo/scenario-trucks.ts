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
import { type LatLon, Polyline } from '../shared/tracks.ts';
import { type BehaviourFactory, createDeviceSims, type DemoMessage } from './device-sim.ts';
import { AT, type DemoHaul, scenarioGeometry, truncateLine } from './geometry.ts';
import { DEFAULT_INTERVAL_S, demoSecret } from './registry.ts';
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
