import { createRng } from '../shared/rng.ts';
import { blockLoop, type LatLon, offsetM, Polyline, patrolLoop, roadRoute } from '../shared/tracks.ts';
import { HEFEI } from './registry.ts';

/**
 * The demo city's fixed geometry (WGS-84): the sites, routes, sweeping rounds and patrol loops of the demo
 * fleet (demoPlan), and the twists of the scenario trucks (scenarioGeometry: detours, the school and
 * hospital zones, the unlicensed disposal site). Fixed so that the permits and zones written for the demo
 * stay valid whatever the simulation seed.
 */

export interface DemoSite {
  name: string;
  center: LatLon;
  /** a square polygon round the centre, closed (first point repeated) */
  polygon: LatLon[];
}

export interface DemoHaul {
  firm: string;
  origin: DemoSite;
  disposal: DemoSite;
  /** from the origin centre to the disposal centre */
  route: Polyline;
}

export interface DemoPlan {
  hauls: DemoHaul[];
  sweeperRounds: Polyline[];
  patrols: Polyline[];
}

const GEOMETRY_SEED = 0x68656665; // fixed: the demo city's roads do not change with the simulation seed

function squareSite(name: string, center: LatLon, halfM: number): DemoSite {
  const polygon = [
    offsetM(center, -halfM, -halfM),
    offsetM(center, -halfM, halfM),
    offsetM(center, halfM, halfM),
    offsetM(center, halfM, -halfM),
  ];
  polygon.push(polygon[0] as LatLon);
  return { name, center, polygon };
}

let cachedPlan: DemoPlan | undefined;

/** Sites, routes, sweeping rounds and patrol loops of the demo (fixed geometry, WGS-84). */
export function demoPlan(): DemoPlan {
  if (cachedPlan) return cachedPlan;
  const rng = createRng(GEOMETRY_SEED);
  const haul = (firm: string, origin: DemoSite, disposal: DemoSite): DemoHaul => ({
    firm,
    origin,
    disposal,
    route: roadRoute(rng, origin.center, disposal.center),
  });
  const hauls: DemoHaul[] = [
    haul(
      'firm-hf-jianyun',
      squareSite('蜀山区 某安置房项目工地', { lat: 31.8352, lon: 117.2046 }, 120),
      squareSite('包河区 建筑垃圾消纳场', { lat: 31.8061, lon: 117.2471 }, 150),
    ),
    haul(
      'firm-hf-xinglong',
      squareSite('庐阳区 某商业综合体工地', { lat: 31.8468, lon: 117.2663 }, 120),
      squareSite('庐阳区 建筑垃圾资源化利用场', { lat: 31.8702, lon: 117.2298 }, 150),
    ),
  ];
  const sweeperRounds = [
    blockLoop(rng, offsetM(HEFEI, -900, 300), 800, 600),
    blockLoop(rng, offsetM(HEFEI, 400, -700), 700, 500),
  ];
  const patrols = [
    patrolLoop(rng, offsetM(HEFEI, -300, 900), 450),
    patrolLoop(rng, offsetM(HEFEI, 1200, 200), 500),
    patrolLoop(rng, offsetM(HEFEI, -1500, -800), 400),
  ];
  cachedPlan = { hauls, sweeperRounds, patrols };
  return cachedPlan;
}

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
export const AT = {
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
  const unpermittedSite = squareSite('瑶海区 某未备案消纳点', siteCenter, 80);
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
