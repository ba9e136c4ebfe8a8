import type { Fix } from '../core/fix.ts';
import { type LonLat, Ruler } from '../geofence/geo/ruler.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  RegistrySnapshot,
  Route,
  Site,
  VehicleProfile,
  Zone,
} from '../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../geofence/thresholds/index.ts';
import type { World } from '../geofence/types.ts';
import { mulberry32 } from '../simulators/shared/rng.ts';

/**
 * The engine benchmark's seeded world (bench/engine.ts): a registry snapshot around Hefei (routes, sites,
 * zones, permits, muck trucks) and the stream of fixes every truck reports driving its permit's route.
 */

// ---- seeded world -------------------------------------------------------------------------------------

const HEFEI: LonLat = [117.23, 31.82];
const ruler = new Ruler(HEFEI[1], HEFEI[0]);
export const ROUTES = 1000;
export const ZONES = 500;
/** 2026-11-10 22:30 China Standard Time: night, when muck trucks run */
const T0 = Date.UTC(2026, 10, 10, 14, 30, 0);
const REPORT_MS = 10_000;

export interface BenchWorld {
  snapshot: RegistrySnapshot;
  /** per route: metres from the start at each vertex */
  cum: Float64Array[];
  vehiclesPerPermit: number;
  vertexCount: number;
}

function ring(c: LonLat, r: number, n: number, rnd: () => number): Position[] {
  const out: Position[] = [];
  for (let i = 0; i < n; i++)
    out.push(ruler.destination(c, r * (0.5 + rnd() * 0.5), ((i + rnd() * 0.8) / n) * 360));
  out.push(out[0]!);
  return out;
}

function regular(c: LonLat, r: number, n: number, rot: number): Position[] {
  const out: Position[] = [];
  for (let i = 0; i < n; i++) out.push(ruler.destination(c, r, rot + (i / n) * 360));
  out.push(out[0]!);
  return out;
}

export function vehicleId(v: number): string {
  return `v${String(v).padStart(6, '0')}`;
}

/** The registry snapshot; `vehiclesPerPermit` x 1,000 muck trucks (vehicle v drives permit v / per). */
export function buildWorld(vehiclesPerPermit: number, seed = 2026): BenchWorld {
  const rnd = mulberry32(seed);
  const near = (c: LonLat, r: number) => ruler.offset(c, (rnd() * 2 - 1) * r, (rnd() * 2 - 1) * r);
  const routes: Route[] = [];
  const sites: Site[] = [];
  const cum: Float64Array[] = [];
  let vertexCount = 0;
  for (let i = 0; i < ROUTES; i++) {
    const lengthM = 10_000 + rnd() * 20_000;
    const n = 400 + Math.floor(rnd() * 200);
    // step lengths scaled so the polyline is exactly lengthM long
    const steps: number[] = [];
    let sum = 0;
    for (let k = 1; k < n; k++) {
      const s = 0.6 + rnd() * 0.8;
      steps.push(s);
      sum += s;
    }
    const line: Position[] = [near(HEFEI, 20_000)];
    const c = new Float64Array(n);
    let heading = rnd() * 360;
    for (let k = 1; k < n; k++) {
      const prev = line[k - 1]!;
      const u = rnd();
      // road-like: straight stretches with slight bends, now and then a turn at a junction
      if (u < 0.04) heading += (rnd() < 0.5 ? -1 : 1) * (60 + rnd() * 30);
      else if (u < 0.5) heading += (rnd() * 2 - 1) * 5;
      // stay in the city: steer back toward the centre when more than 25 km out
      if (ruler.distanceM(prev, HEFEI) > 25_000) heading = ruler.bearingDeg(prev, HEFEI);
      const d = (steps[k - 1]! / sum) * lengthM;
      line.push(ruler.destination(prev, d, heading));
      c[k] = c[k - 1]! + ruler.distanceM(prev, line[k]!);
    }
    vertexCount += n;
    cum.push(c);
    routes.push({
      id: `route-${i}`,
      version: 1,
      name: `Route ${i}`,
      line,
      corridorM: 50,
      limits: [
        { from: 0, to: n - 1, speedLimitKmh: 60, nightLimitKmh: 50 },
        // a school or market stretch a third of the way along
        { from: Math.floor(n / 3), to: Math.floor(n / 3) + 20, speedLimitKmh: 40 },
      ],
    });
    sites.push({
      id: `site-o-${i}`,
      version: 1,
      kind: 'origin',
      name: `Origin ${i}`,
      polygons: [[regular(line[0]!, 120 + rnd() * 130, 8, rnd() * 45)]],
    });
    sites.push({
      id: `site-d-${i}`,
      version: 1,
      kind: 'disposal',
      name: `Disposal ${i}`,
      polygons: [[regular(line[n - 1]!, 150 + rnd() * 150, 10, rnd() * 36)]],
    });
  }

  // most bans on muck trucks are by day; a few zones are closed all day or at night
  const restrictedWindows = [
    ['07:00-09:00', '17:00-19:00'],
    ['06:00-22:00'],
    ['00:00-24:00'],
    ['22:00-06:00'],
  ];
  const zones: Zone[] = [];
  for (let i = 0; i < ZONES; i++) {
    const c = near(HEFEI, 22_000);
    const r = 200 + rnd() * 1300;
    const outer = ring(c, r, 8 + Math.floor(rnd() * 52), rnd);
    const polygon: PolygonCoords = rnd() < 0.3 ? [outer, ring(c, r * 0.4, 6, rnd).reverse()] : [outer];
    if (rnd() < 0.6) {
      const u = rnd();
      zones.push({
        id: `zone-${i}`,
        version: 1,
        kind: 'restricted',
        name: `Restricted ${i}`,
        polygons: [polygon],
        windows: restrictedWindows[u < 0.45 ? 0 : u < 0.9 ? 1 : u < 0.97 ? 2 : 3]!,
      });
    } else {
      zones.push({
        id: `zone-${i}`,
        version: 1,
        kind: 'speed',
        name: `Speed ${i}`,
        polygons: [polygon],
        windows: rnd() < 0.5 ? [] : ['22:00-06:00'],
        speedLimitKmh: [30, 40, 50][Math.floor(rnd() * 3)]!,
      });
    }
  }

  const permits: Permit[] = [];
  const vehicles: VehicleProfile[] = [];
  for (let i = 0; i < ROUTES; i++) {
    const firm = `firm-${i % 60}`;
    const ids: string[] = [];
    for (let j = 0; j < vehiclesPerPermit; j++) {
      const id = vehicleId(i * vehiclesPerPermit + j);
      ids.push(id);
      vehicles.push({ id, version: 1, firm, kind: 'muck_truck', ratedLoadT: 30, reportIntervalS: 10 });
    }
    permits.push({
      id: `permit-${i}`,
      version: 1,
      firm,
      vehicles: ids,
      origins: [`site-o-${i}`],
      disposals: [`site-d-${i}`],
      routes: [`route-${i}`],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      // 2 % of the permits start later: their trucks drive outside permitted hours at 22:30
      windows: rnd() < 0.02 ? ['23:30-05:00'] : ['20:00-06:00'],
      cargo: 'construction muck',
    });
  }
  return {
    snapshot: {
      sites,
      routes,
      zones,
      permits,
      vehicles,
      thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    },
    cum,
    vehiclesPerPermit,
    vertexCount,
  };
}

// ---- fixes --------------------------------------------------------------------------------------------

/**
 * Per-vehicle driving plans; `fix(v, k)` is vehicle v's fix of round k (call in increasing k per vehicle).
 * Strings (vehicle, device ids) are created here, not shared with the registry, as ingest would. Drivers
 * keep to the route's night limit and to the speed zones in force (asked of the compiled world, outside
 * any timing), except the speeders.
 */
export class FixStream {
  private readonly rnd: () => number;
  private readonly vehicle: string[] = [];
  private readonly device: string[] = [];
  /** metres along the route now (advanced by each fix's speed) */
  private readonly arc: Float64Array;
  private readonly mps: Float64Array;
  private readonly speeder: Uint8Array;
  /** 0 normal, 1 loads at the origin first */
  private readonly mode: Uint8Array;
  private readonly offFrom: Int32Array;
  private readonly offLen: Int32Array;
  private readonly offM: Float64Array;
  /** direction of the detour's offset, fixed when it starts (NaN before) */
  private readonly offBearing: Float64Array;
  private readonly seg: Int32Array;
  private readonly arrived: Int32Array;
  private readonly weight: Float64Array;

  constructor(
    private readonly world: BenchWorld,
    private readonly compiled: World,
    readonly vehicles: number,
    rounds: number,
    seed = 7,
  ) {
    const rnd = mulberry32(seed);
    this.rnd = rnd;
    this.arc = new Float64Array(vehicles);
    this.mps = new Float64Array(vehicles);
    this.speeder = new Uint8Array(vehicles);
    this.mode = new Uint8Array(vehicles);
    this.offFrom = new Int32Array(vehicles).fill(-1);
    this.offLen = new Int32Array(vehicles);
    this.offM = new Float64Array(vehicles);
    this.offBearing = new Float64Array(vehicles).fill(Number.NaN);
    this.seg = new Int32Array(vehicles);
    this.arrived = new Int32Array(vehicles).fill(-1);
    this.weight = new Float64Array(vehicles);
    for (let v = 0; v < vehicles; v++) {
      this.vehicle.push(`v${String(v).padStart(6, '0')}`);
      this.device.push(`dev-${String(v).padStart(6, '0')}`);
      const c = world.cum[this.routeOf(v)]!;
      const len = c[c.length - 1]!;
      this.mode[v] = rnd() < 0.05 ? 1 : 0;
      this.arc[v] = this.mode[v] === 1 ? 0 : rnd() * len * 0.95;
      // 3 % speeders (68-80 km/h whatever the limit), the rest want 35-50 km/h within the limits
      this.speeder[v] = rnd() < 0.03 ? 1 : 0;
      this.mps[v] = (this.speeder[v] === 1 ? 68 + rnd() * 12 : 35 + rnd() * 15) / 3.6;
      // 1 % overloaded (rated 30 t)
      this.weight[v] = rnd() < 0.01 ? 34 + rnd() * 4 : 22 + rnd() * 6;
      // 3 % leave the corridor for a while
      if (rnd() < 0.03) {
        this.offFrom[v] = Math.floor(rnd() * Math.max(1, rounds * 0.8));
        this.offLen[v] = 8 + Math.floor(rnd() * 20);
        this.offM[v] = 150 + rnd() * 250;
      }
    }
  }

  routeOf(v: number): number {
    return Math.floor(v / this.world.vehiclesPerPermit);
  }

  fix(v: number, k: number): Fix {
    const rnd = this.rnd;
    const r = this.routeOf(v);
    const line = this.world.snapshot.routes[r]!.line;
    const c = this.world.cum[r]!;
    const len = c[c.length - 1]!;
    const ts = T0 + k * REPORT_MS + Math.floor((v * REPORT_MS) / this.vehicles);
    let moving = true;
    let load: 'empty' | 'full' = 'full';
    let weight = this.weight[v]!;
    let lift: 'up' | 'down' = 'down';
    let s: number;
    if (this.mode[v] === 1) {
      // at the excavator for three rounds, loading on the third, then off
      if (k < 3) {
        moving = false;
        s = 0;
        if (k < 2) {
          load = 'empty';
          weight = 0.6;
        }
      } else s = this.arc[v]!;
    } else s = this.arc[v]!;
    if (s >= len) {
      // at the disposal site: tip once, then stand there empty
      s = len;
      moving = false;
      if (this.arrived[v]! < 0) this.arrived[v] = k;
      if (k === this.arrived[v]) lift = 'up';
      else {
        load = 'empty';
        weight = 0.6;
      }
    }
    let i = this.seg[v]!;
    while (i < c.length - 2 && c[i + 1]! < s) i++;
    this.seg[v] = i;
    const a = line[i]!;
    const b = line[i + 1]!;
    const segLen = c[i + 1]! - c[i]!;
    const t = segLen > 0 ? Math.min(1, Math.max(0, (s - c[i]!) / segLen)) : 0;
    let p: LonLat = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    const bearing = ruler.bearingDeg(a, b);
    let kmh = moving ? this.mps[v]! * 3.6 : 0;
    if (moving && this.speeder[v] === 0) {
      // night limit of the route (40 on the school stretch), and speed zones in force
      const n = line.length;
      let limit = i >= Math.floor(n / 3) && i < Math.floor(n / 3) + 20 ? 40 : 50;
      for (const z of this.compiled.zonesAt([p[0], p[1]])) {
        if (z.kind === 'speed' && z.speedLimitKmh !== undefined && z.speedLimitKmh < limit)
          limit = z.speedLimitKmh;
      }
      kmh = Math.min(kmh, limit - 3);
    }
    if (moving) this.arc[v] = s + (kmh / 3.6) * (REPORT_MS / 1000);
    const of = this.offFrom[v]!;
    const ol = this.offLen[v]!;
    if (of >= 0 && k >= of && k < of + ol && moving) {
      // a detour: out over three rounds, back over three, a fixed offset from the route meanwhile
      if (Number.isNaN(this.offBearing[v]!)) this.offBearing[v] = bearing + 90;
      const f = Math.min(1, (k - of + 1) / 3, (of + ol - k) / 3);
      p = ruler.destination(p, this.offM[v]! * f, this.offBearing[v]!);
    }
    // GNSS jitter, and a multipath jump now and then
    p = ruler.offset(p, (rnd() * 2 - 1) * 6, (rnd() * 2 - 1) * 6);
    if (rnd() < 0.005) p = ruler.destination(p, 30 + rnd() * 50, rnd() * 360);
    const speed = moving ? Math.max(0, (kmh + (rnd() * 2 - 1) * 2) | 0) : 0;
    return {
      vehicle: this.vehicle[v]!,
      device: this.device[v]!,
      kind: 'muck_truck',
      firm: `firm-${r % 60}`,
      ts,
      received: ts + 400,
      lat: p[1],
      lon: p[0],
      speed,
      heading: Math.round((bearing + 360) % 360) % 360,
      sats: 12,
      accuracy: 5,
      valid: rnd() >= 0.002,
      crsIn: 'WGS84',
      late: false,
      ign: true,
      load,
      weight: Math.round(weight * 10) / 10,
      cover: 'closed',
      lift,
    };
  }
}
