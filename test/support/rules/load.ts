/** The world of the load rule tests. */

import type { Fix } from '../../../core/fix.ts';
import { chinaCalendar } from '../../../geofence/calendar.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { type Calendar, createEngine, type VehicleState } from '../../../geofence/engine.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import type { Permit, RegistrySnapshot, ViolationCode } from '../../../geofence/model.ts';
import { illegalDump } from '../../../geofence/rules/illegal-dump.ts';
import { noPermit } from '../../../geofence/rules/no-permit.ts';
import { overload } from '../../../geofence/rules/overload.ts';
import { spillage } from '../../../geofence/rules/spillage.ts';
import { suspectedDump } from '../../../geofence/rules/suspected-dump.ts';
import { wrongSite } from '../../../geofence/rules/wrong-site.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import {
  initialTrips,
  stepTrips,
  type TripEvent,
  type TripState,
  tripInput,
} from '../../../geofence/trips.ts';
import type { ViolationEvent, World } from '../../../geofence/types.ts';
import { localPlane, prng } from './track-kit.ts';

// ---------------------------------------------------------------------------------------------------
// The world: around Hefei (31.82 N, 117.23 E), positions built in local metres east (x) / north (y).
// O1 origin (permitted), O2 origin (not on the permit), D1 disposal (permitted, 6 km east along R1),
// D2 disposal (not on the permit).
// ---------------------------------------------------------------------------------------------------

export const LON0 = 117.23;
export const LAT0 = 31.82;
export const KY = 111_195; // m per degree of latitude
export const KX = KY * Math.cos((LAT0 * Math.PI) / 180);
export const { pt, square } = localPlane(LON0, LAT0, { kx: KX, ky: KY });

export const P1: Permit = {
  id: 'P1',
  version: 4,
  firm: 'F1',
  vehicles: ['V1', 'V3'],
  origins: ['O1'],
  disposals: ['D1'],
  routes: ['R1'],
  validFrom: '2026-03-01',
  validTo: '2026-03-10',
  windows: ['00:00-24:00'],
  cargo: '渣土',
};

export const snapshot: RegistrySnapshot = {
  sites: [
    { id: 'O1', version: 3, kind: 'origin', name: '工地一', polygons: [square(0, 0, 100)] },
    { id: 'O2', version: 1, kind: 'origin', name: '工地二', polygons: [square(-2000, 1500, 100)] },
    { id: 'D1', version: 2, kind: 'disposal', name: '消纳场一', polygons: [square(6000, 0, 150)] },
    { id: 'D2', version: 5, kind: 'disposal', name: '消纳场二', polygons: [square(3000, 2000, 150)] },
  ],
  routes: [{ id: 'R1', version: 1, name: 'O1-D1', line: [pt(0, 0), pt(6000, 0)], corridorM: 50, limits: [] }],
  zones: [],
  permits: [P1],
  vehicles: [
    { id: 'V1', version: 2, firm: 'F1', kind: 'muck_truck', ratedLoadT: 30, reportIntervalS: 10 },
    { id: 'V2', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 30, reportIntervalS: 10 },
    { id: 'V3', version: 1, firm: 'F1', kind: 'muck_truck', reportIntervalS: 10 },
  ],
  thresholds: { id: 'city', version: 7, values: DEFAULT_THRESHOLDS },
};

export const calendar: Calendar = chinaCalendar;

export const world: World = compileWorld(snapshot);
export const RULES = [noPermit, illegalDump, suspectedDump, spillage, wrongSite, overload];
export const engine = createEngine(RULES, calendar);

/** 09:00 local on a day inside the permit's validity */
export const BASE = localMidnightUtcMs('2026-03-05') + 9 * 3_600_000;

// ---------------------------------------------------------------------------------------------------
// Tracks: a seeded PRNG, 15 m GNSS noise, fixes every 10 s.
// ---------------------------------------------------------------------------------------------------

export type Sensors = Partial<Pick<Fix, 'load' | 'weight' | 'cover' | 'lift' | 'speed' | 'valid'>>;

export class Track {
  readonly fixes: Fix[] = [];
  private readonly rnd: () => number;
  noiseM = 15;
  constructor(
    readonly vehicle: string,
    public t: number,
    public x: number,
    public y: number,
    public st: Sensors,
    seed = 1,
  ) {
    this.rnd = prng(seed);
  }

  set(p: Sensors): this {
    this.st = { ...this.st, ...p };
    return this;
  }

  /** advance dt and report one fix at the current place */
  emit(dt: number, speed: number, p: Sensors = {}): this {
    this.t += dt;
    this.st = { ...this.st, ...p };
    const nx = (this.rnd() * 2 - 1) * this.noiseM;
    const ny = (this.rnd() * 2 - 1) * this.noiseM;
    const [lon, lat] = pt(this.x + nx, this.y + ny);
    const { valid, ...sensors } = this.st;
    this.fixes.push({
      vehicle: this.vehicle,
      device: `dev-${this.vehicle}`,
      kind: 'muck_truck',
      firm: 'F1',
      ts: this.t,
      received: this.t,
      lat,
      lon,
      valid: valid ?? true,
      crsIn: 'WGS84',
      late: false,
      ...sensors,
      speed,
    });
    return this;
  }

  /** parked for ms, a fix every `every` ms (the first one `every` after the current time) */
  stay(ms: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const n = Math.ceil(ms / every);
    let done = 0;
    for (let i = 1; i <= n; i++) {
      const dt = Math.min(every, ms - done);
      done += dt;
      this.emit(dt, 0, each?.(i, n) ?? {});
    }
    return this;
  }

  /** drive in a straight line to (x, y) at kmh */
  drive(x: number, y: number, kmh: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const x0 = this.x;
    const y0 = this.y;
    const totalMs = (Math.hypot(x - x0, y - y0) / (kmh / 3.6)) * 1000;
    const n = Math.max(1, Math.ceil(totalMs / every));
    for (let i = 1; i <= n; i++) {
      this.x = x0 + ((x - x0) * i) / n;
      this.y = y0 + ((y - y0) * i) / n;
      this.emit(Math.round(totalMs / n), kmh, each?.(i, n) ?? {});
    }
    return this;
  }

  /** one fix dt later, having rolled east at kmh */
  roll(dt: number, kmh: number, p: Sensors = {}): this {
    this.x += ((kmh / 3.6) * dt) / 1000;
    return this.emit(dt, kmh, p);
  }
}

export const EMPTY: Sensors = { load: 'empty', weight: 0.4, cover: 'closed', lift: 'down' };
export const FULL: Sensors = { load: 'full', weight: 28, cover: 'closed', lift: 'down' };

/** parked empty at O1, then loaded over 5 minutes (weight 0.4 -> 28 t, load empty -> half -> full) */
export function loadAtOrigin(tr: Track): Track {
  tr.stay(60_000);
  tr.stay(300_000, 10_000, (i, n) => ({
    weight: Math.round((0.4 + (27.6 * i) / n) * 100) / 100,
    load: i < 3 ? 'empty' : i < n / 2 ? 'half' : 'full',
  }));
  tr.set({ weight: 28, load: 'full' });
  return tr.stay(30_000);
}

/** tipping: lift up, weight down to 0.5 t, load empty, lift down */
export function tip(tr: Track): Track {
  tr.emit(10_000, 0, { lift: 'up' });
  tr.stay(60_000, 10_000, (i, n) => ({ weight: Math.round((28 - (27.5 * i) / n) * 100) / 100 }));
  tr.emit(10_000, 0, { load: 'empty' });
  return tr.emit(10_000, 0, { lift: 'down' });
}

export interface Run {
  violations: ViolationEvent[];
  trips: TripEvent[];
  state: VehicleState;
  tripState: TripState;
}

export function run(fixes: readonly Fix[], opts: { roundTrip?: boolean } = {}): Run {
  let state = engine.initial(fixes[0]!.vehicle);
  let trips = initialTrips();
  const violations: ViolationEvent[] = [];
  const tripEvents: TripEvent[] = [];
  for (const fix of fixes) {
    const r = engine.step(state, fix, world);
    state = opts.roundTrip ? JSON.parse(JSON.stringify(r.state)) : r.state;
    violations.push(...r.events);
    // the trip tracker steps the fixes the engine judged, with the facts the engine found at each
    r.judged.forEach((f, i) => {
      const last = i === r.judged.length - 1;
      const t = stepTrips(trips, tripInput(f, r.facts[i]!, world), last ? r.events : []);
      trips = opts.roundTrip ? JSON.parse(JSON.stringify(t.state)) : t.state;
      tripEvents.push(...t.events);
    });
  }
  return { violations, trips: tripEvents, state, tripState: trips };
}

export const of = (r: Run, code: ViolationCode) => r.violations.filter((e) => e.violation.code === code);
export const phases = (evs: ViolationEvent[]) => evs.map((e) => e.phase);
export const completed = (r: Run) => r.trips.flatMap((e) => (e.kind === 'completed' ? [e.trip] : []));

export function compliantTrip(seed = 1, vehicle = 'V1', start = BASE): Track {
  const tr = new Track(vehicle, start, 0, 0, EMPTY, seed);
  loadAtOrigin(tr);
  tr.drive(6000, 0, 40);
  tr.stay(60_000);
  tip(tr);
  tr.drive(6000, 400, 20);
  return tr.stay(30_000);
}

export function weightOnlyDump(dropT: number, seed: number): Track {
  // V3 reports weight only (no load state, no lift)
  const tr = new Track('V3', BASE, 2000, -600, { weight: 28 }, seed);
  tr.drive(3000, -800, 30);
  tr.stay(30_000);
  tr.stay(40_000, 10_000, (i, n) => ({ weight: Math.round((28 - (dropT * i) / n) * 100) / 100 }));
  tr.stay(30_000);
  return tr.drive(3000, 0, 30);
}

export function dumpAt(x: number, y: number, seed: number): Track {
  const tr = new Track('V1', BASE, 0, 0, EMPTY, seed);
  loadAtOrigin(tr);
  tr.drive(x, y, 40);
  tr.noiseM = 0;
  tr.stay(30_000);
  return tip(tr);
}

// ---------------------------------------------------------------------------------------------------
// SUSPECTED_DUMP
// ---------------------------------------------------------------------------------------------------

export function stopOutside(stoppedMs: number, seed: number): { tr: Track; firstSlow: number } {
  const tr = new Track('V1', BASE, 1000, 0, FULL, seed);
  tr.drive(3000, 0, 40);
  tr.drive(3000, -800, 30);
  tr.emit(10_000, 0);
  const firstSlow = tr.t;
  tr.stay(stoppedMs);
  tr.drive(3000, 0, 30);
  return { tr, firstSlow };
}

// ---------------------------------------------------------------------------------------------------
// SPILLAGE
// ---------------------------------------------------------------------------------------------------

export function coverOpen(openFixesDt: number[], seed: number): { tr: Track; firstOpen: number } {
  const tr = new Track('V1', BASE, 1000, 0, FULL, seed);
  for (let i = 0; i < 5; i++) tr.roll(10_000, 40);
  tr.roll(10_000, 40, { cover: 'open' });
  const firstOpen = tr.t;
  for (const dt of openFixesDt) tr.roll(dt, 40);
  tr.roll(10_000, 40, { cover: 'closed' });
  for (let i = 0; i < 5; i++) tr.roll(10_000, 40);
  return { tr, firstOpen };
}

export function leaking(dropT: number, seed: number): { tr: Track; crossTs: number | undefined } {
  const tr = new Track('V1', BASE, 1000, 0, FULL, seed);
  tr.emit(10_000, 0);
  tr.roll(10_000, 40); // the moving run starts at 28 t
  let crossTs: number | undefined;
  for (let i = 1; i <= 10; i++) {
    const w = Math.round((28 - (dropT * i) / 10) * 100) / 100;
    tr.roll(10_000, 40, { weight: w });
    if (crossTs === undefined && 28 - w > 0.5 + 1e-9) crossTs = tr.t;
  }
  for (let i = 0; i < 3; i++) tr.roll(10_000, 40);
  tr.emit(10_000, 0);
  return { tr, crossTs };
}

// ---------------------------------------------------------------------------------------------------
// OVERLOAD
// ---------------------------------------------------------------------------------------------------

export function overloaded(overMs: number, seed: number): { tr: Track; firstOver: number } {
  const tr = new Track('V1', BASE, 1000, 0, FULL, seed);
  tr.roll(10_000, 40);
  tr.roll(10_000, 40, { weight: 33 });
  const firstOver = tr.t;
  let done = 0;
  while (done < overMs) {
    const dt = Math.min(10_000, overMs - done);
    done += dt;
    tr.roll(dt, 40, { weight: done >= 40_000 ? 34 : 33 });
  }
  // back at the rating, and staying there a minute (a shorter dip would be a sensor glitch)
  for (let i = 0; i < 7; i++) tr.roll(10_000, 40, { weight: 30 });
  return { tr, firstOver };
}

// ---------------------------------------------------------------------------------------------------
// Duplicates, out-of-order fixes, replay
// ---------------------------------------------------------------------------------------------------

export function messyDay(): Fix[] {
  const tr = compliantTrip(20);
  // then an illegal dump and a suspected dump on a second trip
  tr.drive(0, 0, 40);
  loadAtOrigin(tr);
  tr.drive(3000, 0, 40);
  tr.drive(3000, -800, 30);
  tr.stay(400_000);
  tip(tr);
  tr.drive(3000, 0, 30);
  return tr.fixes;
}
