import type { UnitKind } from '../../core/fix.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { FixPayload } from '../../ingest/payload.ts';
import { telemetryTopic } from '../../ingest/payload.ts';
import type { NewDevice } from '../../registry/types.ts';
import { faultRates, TripPlanner, type Twist } from '../faults/inject.ts';
import { type Behaviour, type FixBody, OfficerBehaviour, SweeperBehaviour } from '../motion/behaviour.ts';
import { CycleTruckBehaviour } from '../motion/truck-cycle.ts';
import {
  CollectionRoundBehaviour,
  PatrolCameraBehaviour,
  PlanSweeperBehaviour,
  type TwistTest,
} from '../plans/behaviour.ts';
import { centroidOf, inAnyPolygon, towards } from '../shared/geo.ts';
import { createRng, hashString, type Rng } from '../shared/rng.ts';
import { haversineM, type LatLon, offsetM } from '../shared/tracks.ts';
import type { FaultType, ScenarioInjection } from './file.ts';
import { MinHeap } from './min-heap.ts';
import { UnitOracle } from './oracle/oracle.ts';
import type { PlanTrueState } from './oracle/plan-world.ts';
import { PlanUnitOracle } from './oracle/plans.ts';
import type { TruthViolation } from './oracle/truths.ts';
import { OracleWorld, type TrueState } from './oracle/world.ts';
import { type SimWorld, unitOf } from './world.ts';

/**
 * The fleet simulator's pure core: every device of a scenario world driven by the existing behaviours
 * (truck trip cycles with their twists, sweeper rounds, officer patrols), on a simulated clock, with a
 * GNSS error model, drift, dropouts and protocol faults laid over the true track; the ground-truth
 * oracle watches the true track. No broker and no wall clock: the same world, options and seed give the
 * same messages in the same order, byte for byte (the publisher paces them onto a broker).
 *
 * Reporting: each device at its nominal interval (--interval overrides every device's), and at the alarm
 * interval (5 s) while one of the rules' conditions holds for its unit (what a terminal's own alarms
 * would do). GNSS: true position + N(0, noiseM) per axis + drift, accuracy ~ noiseM.
 *
 * Faults (file.ts FAULT_TYPES) are laid over what the terminal REPORTS, never over the truth:
 * a flickering load sensor, a weight glitch, a multipath fix, an urban-canyon bias, a clock running
 * ahead; a blind area's fixes are recorded and uploaded late as one batch (the truth counts them as
 * sent: the platform gets them); a REVOKE truck's permit is revoked through the platform API during the
 * run by an `action` message the publisher carries out at its instant (the truth knows the instant).
 */

export interface SimOptions {
  seed: number;
  /** per-axis GNSS error, metres (default 4) */
  noiseM?: number;
  /** peak of a drift episode, metres (default 2 x noiseM, at least 20) */
  driftM?: number;
  /** report interval of every device, seconds (default: each device's own) */
  intervalS?: number;
  /** interval while in alarm, seconds (default 5) */
  alarmIntervalS?: number;
  /** the run's injections (file and command line) */
  injections: readonly ScenarioInjection[];
  /**
   * where a blind area's batch goes: after the first live fix (the terminal sends its current position
   * first, then the buffer: JT/T 808 0x0704 type 1), or before it (in the vehicle's time order)
   */
  batchOrder?: 'after-live' | 'before-live';
}

export type MessageKind = 'fix' | 'duplicate' | 'late' | 'malformed' | 'backfill' | 'action';

/** A registry change the run makes through the platform API at its instant (REVOKE). */
export interface SimAction {
  type: 'revoke_permit';
  permit: string;
  vehicle: string;
}

export interface SimMessage {
  /** simulated send instant, epoch ms */
  ts: number;
  device: string;
  topic: string;
  payload: string;
  kind: MessageKind;
  /** kind 'action': what to do (the payload is its JSON) */
  action?: SimAction;
}

export interface TripRecord {
  vehicle: string;
  trip: number;
  /** epoch ms */
  start: number;
  twist?: Twist;
  skipped?: string;
  /** faults laid on the trip (BLIND_AREA, SLEEP) */
  faults?: string[];
}

/** A truth with what caused it: the trip's twist, the vehicle's permit change, or neither. */
export interface GroundTruth extends TruthViolation {
  device: string;
  injected: boolean;
  trip?: number;
}

interface Drift {
  leftMs: number;
  totalMs: number;
  peakM: number;
  angle: number;
}

interface SimDevice {
  index: number;
  device: NewDevice;
  unit: string;
  kind: UnitKind;
  behaviour: Behaviour<FixPayload>;
  planner?: TripPlanner;
  oracle: UnitOracle;
  /** sanitation vehicles and body cameras: the plans' truths (scenario/oracle/plans.ts) */
  planOracle?: PlanUnitOracle;
  faults: Rng;
  noise: Rng;
  intervalMs: number;
  nextTs: number;
  lastTs: number;
  drift?: Drift;
  held?: string;
  trip: number;
  /** draws of the sensor and GNSS faults (their own stream: a run without them draws nothing here) */
  sensor: Rng;
  /** how far its clock runs ahead (CLOCK_SKEW), ms */
  skewMs: number;
  /** the load state reads the opposite until then (FLICKER) */
  flickerUntil: number;
  canyon?: { leftMs: number; east: number; north: number; accuracy: number };
  /** fixes recorded in a blind area, not sent yet */
  backlog: Array<Record<string, unknown>>;
  /** instant of the last fix sent live and in order (-1 none), and whether it was a multipath fix */
  lastSentTs: number;
  lastMultipath: boolean;
  /** REVOKE: the permit to revoke, until it is */
  revoke?: string;
}

/** A clock running ahead (CLOCK_SKEW): the 90 s of issue 17. */
export const CLOCK_SKEW_MS = 90_000;
/** Multipath fixes need at least this speed from both neighbours (issue 17: ~200 km/h). */
const MULTIPATH_KMH = 200;

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** A deliberately broken payload: bad JSON, a wrong type, a position off the globe (seeded choice). */
function malformed(rng: Rng, ts: number): string {
  switch (rng.int(0, 3)) {
    case 0:
      return `{"ts":${ts},"lat":31.8,"lon":117.2,"speed":`;
    case 1:
      return JSON.stringify({ ts, lat: 31.8, lon: 117.2, speed: 'fast' });
    case 2:
      return JSON.stringify({ ts, lat: 131.8, lon: 117.2, speed: 20 });
    default:
      return 'not json at all';
  }
}

export class FleetSim {
  readonly endTs: number;
  readonly oracleWorld: OracleWorld;
  private readonly devices: SimDevice[];
  private readonly heap: MinHeap<SimDevice>;
  private readonly rates: Record<FaultType, number>;
  private readonly noiseM: number;
  private readonly driftM: number;
  private readonly alarmMs: number;
  private readonly tripLog: TripRecord[] = [];
  private readonly counts: Record<
    MessageKind | 'dropped' | 'silent' | 'buffered' | 'flicker' | 'weightGlitch' | 'multipath' | 'canyon',
    number
  > = {
    fix: 0,
    duplicate: 0,
    late: 0,
    malformed: 0,
    backfill: 0,
    action: 0,
    dropped: 0,
    silent: 0,
    buffered: 0,
    flicker: 0,
    weightGlitch: 0,
    multipath: 0,
    canyon: 0,
  };
  private readonly batchOrder: 'after-live' | 'before-live';
  private finished = false;

  constructor(
    readonly world: SimWorld,
    readonly opts: SimOptions,
  ) {
    this.endTs = world.startTs + world.durationMs;
    this.rates = faultRates(opts.injections);
    this.noiseM = opts.noiseM ?? 4;
    this.driftM = opts.driftM ?? Math.max(20, 2 * this.noiseM);
    this.alarmMs = (opts.alarmIntervalS ?? 5) * 1000;
    this.batchOrder = opts.batchOrder ?? 'after-live';
    const skewed = new Set(
      opts.injections.flatMap((i) => (i.type === 'CLOCK_SKEW' && i.vehicle ? [i.vehicle] : [])),
    );
    this.oracleWorld = new OracleWorld(
      world.sites,
      world.routes,
      world.zones,
      world.permits,
      world.thresholds,
    );
    const vehicles = new Map(world.vehicles.map((v) => [v.id, v]));
    this.devices = world.devices.map((device, index) => {
      const rng = createRng((Math.imul(opts.seed, 0x9e3779b1) ^ hashString(device.id)) >>> 0);
      const unit = unitOf(device);
      const nominalS = device.reportIntervalS ?? 10;
      const intervalMs = Math.round((opts.intervalS ?? nominalS) * 1000);
      const vehicle = vehicles.get(unit);
      let behaviour: Behaviour<FixPayload>;
      let planner: TripPlanner | undefined;
      const stream = (label: string) =>
        createRng((Math.imul(opts.seed, 0x9e3779b1) ^ hashString(`${device.id}/${label}`)) >>> 0);
      if (device.kind === 'muck_truck') {
        const haul = world.hauls.get(unit)!;
        planner = new TripPlanner({
          world,
          vehicle: unit,
          haul,
          intervalMs,
          injections: opts.injections,
          rng: rng.fork('trips'),
          faultRng: stream('trip-faults'),
        });
        const p = planner;
        behaviour = new CycleTruckBehaviour(rng, {
          track: haul.line,
          ratedLoadT: vehicle?.ratedLoadT ?? 18,
          cycle: p.cycleFor(0),
          nextCycle: (trip) => p.cycleFor(trip),
          gnssNoiseSdM: 0,
        });
      } else {
        // a unit a plan names works by it (issue 15); the others sweep their round / walk their loop
        const role = world.roles.get(unit);
        const twist: TwistTest = (type, k) =>
          opts.injections.some(
            (i) => i.vehicle === unit && i.type === type && (i.trips === undefined || i.trips.includes(k)),
          );
        const th = world.thresholds;
        const allowanceMs = Math.max(th.offlineFactor * nominalS * 1000, th.offlineMinMs);
        const planRng = stream('plan');
        if (role?.kind === 'collection')
          behaviour = new CollectionRoundBehaviour(planRng, world.startTs, role, twist);
        else if (role?.kind === 'sweep')
          behaviour = new PlanSweeperBehaviour(planRng, world.startTs, role, twist, allowanceMs);
        else if (role?.kind === 'patrol')
          behaviour = new PatrolCameraBehaviour(
            planRng,
            world.startTs,
            device.officer ?? 'officer',
            role,
            twist,
            allowanceMs,
          );
        else if (device.kind === 'sanitation')
          behaviour = new SweeperBehaviour(rng, world.rounds.get(unit)!, rng.range(0, 1), 0);
        else {
          const officer = device.officer ?? 'officer';
          behaviour = new OfficerBehaviour(rng, world.patrols.get(device.id)!, officer, rng.range(0, 1), 0);
        }
      }
      const oracle = new UnitOracle(this.oracleWorld, {
        id: unit,
        kind: device.kind,
        ...(vehicle?.ratedLoadT !== undefined ? { ratedLoadT: vehicle.ratedLoadT } : {}),
        reportIntervalS: nominalS,
      });
      const planOracle =
        device.kind === 'muck_truck'
          ? undefined
          : new PlanUnitOracle(
              world.plans,
              { id: unit, kind: device.kind, reportIntervalS: nominalS },
              world.thresholds,
            );
      const first = world.startTs + rng.int(0, intervalMs - 1);
      const skewRate = this.rates.CLOCK_SKEW;
      const skew = skewed.has(unit) || (skewRate > 0 && stream('clock').chance(skewRate));
      const revoke = world.revocable.get(unit);
      return {
        sensor: stream('sensor-faults'),
        skewMs: skew ? CLOCK_SKEW_MS : 0,
        flickerUntil: -1,
        backlog: [],
        lastSentTs: -1,
        lastMultipath: false,
        ...(revoke !== undefined ? { revoke } : {}),
        index,
        device,
        unit,
        kind: device.kind,
        behaviour,
        ...(planner ? { planner } : {}),
        oracle,
        ...(planOracle ? { planOracle } : {}),
        faults: rng.fork('faults'),
        noise: rng.fork('noise'),
        intervalMs,
        nextTs: first,
        lastTs: world.startTs,
        trip: -1,
      };
    });
    this.heap = new MinHeap<SimDevice>((a, b) => a.nextTs - b.nextTs || a.index - b.index);
    for (const d of this.devices) this.heap.push(d);
  }

  /** The messages of the next device step (possibly none), or undefined once the run is over. */
  next(): SimMessage[] | undefined {
    if (this.finished) return undefined;
    const d = this.heap.peek();
    if (d === undefined || d.nextTs > this.endTs) {
      this.finish();
      return this.flushHeld();
    }
    this.heap.pop();
    const out = this.step(d);
    this.heap.push(d);
    return out;
  }

  /** Every message of the run, in send order. */
  *messages(): Generator<SimMessage> {
    for (let batch = this.next(); batch !== undefined; batch = this.next()) yield* batch;
  }

  private step(d: SimDevice): SimMessage[] {
    const ts = d.nextTs;
    const body = d.behaviour.step(ts - d.lastTs) as FixBody<FixPayload> & Record<string, unknown>;
    d.lastTs = ts;
    this.noteTrip(d, ts);
    const out: SimMessage[] = [];
    // a revocation lands before this step's fix: the truth judges the step without the permit
    const revoked = this.maybeRevoke(d, ts);
    if (revoked !== undefined) out.push(revoked);
    const silent = d.behaviour.silent === true;
    // a blind area's fixes are recorded, and reach the platform later: never dropped, sent for the truth
    const blind = !silent && (d.behaviour as { blind?: boolean }).blind === true;
    // the fix after a multipath stray is its second neighbour: it arrives, in order (faults one at a time:
    // with that neighbour lost nobody could tell the stray from a real jump)
    const afterStray = d.lastMultipath;
    const dropped =
      !silent && !blind && !afterStray && this.rates.DROPOUT > 0 && d.faults.chance(this.rates.DROPOUT);
    const sent = !silent && !dropped;
    if (silent) this.counts.silent++;
    if (dropped) this.counts.dropped++;
    d.oracle.observe(trueState(ts, body), sent);
    d.planOracle?.observe(planTrueState(ts, body), sent);
    const emit = (payload: string, kind: MessageKind) => {
      this.counts[kind]++;
      out.push({ ts, device: d.device.id, topic: telemetryTopic(d.device.id), payload, kind });
    };
    if (sent) {
      const fix = { ts: ts + d.skewMs, ...body, ...this.observed(d, body, ts) };
      if (blind) {
        d.backlog.push(fix);
        this.counts.buffered++;
      } else {
        const text = JSON.stringify(fix);
        const batch = d.backlog.length > 0 ? JSON.stringify(d.backlog) : undefined;
        d.backlog = [];
        if (batch !== undefined) {
          // out of the blind area: the live fix and the buffer in one go, in the order of the run's option
          if (this.batchOrder === 'before-live') emit(batch, 'backfill');
          emit(text, 'fix');
          d.lastSentTs = ts;
          if (this.batchOrder === 'after-live') emit(batch, 'backfill');
          if (d.held !== undefined) emit(d.held, 'late');
          d.held = undefined;
        } else if (
          d.held === undefined &&
          !afterStray &&
          this.rates.OUT_OF_ORDER > 0 &&
          d.faults.chance(this.rates.OUT_OF_ORDER)
        ) {
          d.held = text; // goes out after the next fix
        } else {
          emit(text, 'fix');
          d.lastSentTs = ts;
          if (d.held !== undefined) emit(d.held, 'late');
          d.held = undefined;
          if (this.rates.DUPLICATE > 0 && d.faults.chance(this.rates.DUPLICATE)) emit(text, 'duplicate');
        }
        if (this.rates.MALFORMED > 0 && d.faults.chance(this.rates.MALFORMED))
          emit(malformed(d.faults, ts), 'malformed');
      }
    } else if (d.held !== undefined) {
      // nothing newer to overtake it: it goes out delayed but in order (an ordinary fix for ingest)
      emit(d.held, 'fix');
      d.held = undefined;
    }
    const alarm = d.oracle.alarm();
    d.nextTs = ts + (alarm ? Math.min(this.alarmMs, d.intervalMs) : d.intervalMs);
    return out;
  }

  /**
   * REVOKE: the truck's own permit is revoked at the first step, 10 min or more into the run, at which
   * it hauls loaded with at least half of the drive ahead (it then drives on and unloads).
   */
  private maybeRevoke(d: SimDevice, ts: number): SimMessage | undefined {
    if (d.revoke === undefined || ts < this.world.startTs + 10 * 60_000) return undefined;
    const b = d.behaviour;
    if (!(b instanceof CycleTruckBehaviour) || !b.loaded) return undefined;
    const leg = b.currentLeg;
    if (leg.type !== 'drive' || b.remainingM < leg.line.lengthM / 2) return undefined;
    const action: SimAction = { type: 'revoke_permit', permit: d.revoke, vehicle: d.unit };
    this.oracleWorld.revoke(d.revoke, ts);
    d.revoke = undefined;
    this.counts.action++;
    return { ts, device: d.device.id, topic: '', payload: JSON.stringify(action), kind: 'action', action };
  }

  /**
   * What the terminal reports: the true position plus GNSS error, drift, canyon bias or a multipath
   * jump, and the sensor readings with their faults (flicker, weight glitch).
   */
  private observed(
    d: SimDevice,
    body: { lat: number; lon: number; speed?: unknown; load?: unknown; weight?: unknown },
    ts: number,
  ): { lat: number; lon: number; accuracy?: number; load?: string; weight?: number } {
    const r = d.noise;
    let east = r.normal(0, this.noiseM);
    let north = r.normal(0, this.noiseM);
    if (d.drift === undefined && this.rates.DRIFT > 0 && d.faults.chance(this.rates.DRIFT)) {
      const totalMs = r.range(60_000, 180_000);
      d.drift = {
        leftMs: totalMs,
        totalMs,
        peakM: r.range(0.5, 1) * this.driftM,
        angle: r.range(0, 2 * Math.PI),
      };
    }
    if (d.drift) {
      // rises and falls back (multipath near tall buildings): a half sine over the episode
      const m = d.drift.peakM * Math.sin((Math.PI * (d.drift.totalMs - d.drift.leftMs)) / d.drift.totalMs);
      east += m * Math.cos(d.drift.angle);
      north += m * Math.sin(d.drift.angle);
      d.drift.leftMs -= d.intervalMs;
      if (d.drift.leftMs <= 0) d.drift = undefined;
    }
    let accuracy = this.noiseM > 0 ? Math.round(this.noiseM * r.range(0.8, 1.3) * 10) / 10 : undefined;
    const f = d.sensor;
    // urban canyon: a steady bias while it lasts, and the terminal knows its fix is worse (accuracy up)
    if (d.canyon === undefined && this.rates.CANYON > 0 && f.chance(this.rates.CANYON)) {
      const biasM = f.range(20, 40);
      const angle = f.range(0, 2 * Math.PI);
      d.canyon = {
        leftMs: f.range(60_000, 180_000),
        east: biasM * Math.cos(angle),
        north: biasM * Math.sin(angle),
        accuracy: Math.round(0.8 * biasM + (accuracy ?? 0)),
      };
      this.counts.canyon++;
    }
    if (d.canyon) {
      east += d.canyon.east;
      north += d.canyon.north;
      accuracy = Math.max(accuracy ?? 0, d.canyon.accuracy);
      d.canyon.leftMs -= d.intervalMs;
      if (d.canyon.leftMs <= 0) d.canyon = undefined;
    }
    let p = offsetM(body, east, north);
    const truck = d.behaviour instanceof CycleTruckBehaviour ? d.behaviour : undefined;
    const driving = truck !== undefined && truck.currentLeg.type === 'drive' && truck.remainingM > 600;
    const speed = Number(body.speed ?? 0);
    // multipath: one fix far off, a live fix just before it (its two neighbours show it is a stray)
    let multipath = false;
    if (
      this.rates.MULTIPATH > 0 &&
      speed > 10 &&
      !d.lastMultipath &&
      d.lastSentTs >= 0 &&
      ts - d.lastSentTs <= 1.5 * d.intervalMs &&
      f.chance(this.rates.MULTIPATH)
    ) {
      const dtS = Math.max(ts - d.lastSentTs, d.intervalMs) / 1000;
      // far enough that both neighbours need >= 200 km/h, the truck's own travel and noise allowed for
      const minM = (MULTIPATH_KMH / 3.6 + 14) * dtS + 100;
      const angle = f.range(0, 2 * Math.PI);
      p =
        this.multipathTarget(body, minM, ts) ?? offsetM(body, minM * Math.cos(angle), minM * Math.sin(angle));
      multipath = true;
      this.counts.multipath++;
    }
    d.lastMultipath = multipath;
    const out: { lat: number; lon: number; accuracy?: number; load?: string; weight?: number } = {
      lat: round6(p.lat),
      lon: round6(p.lon),
    };
    if (accuracy !== undefined) out.accuracy = accuracy;
    if (truck !== undefined) {
      // a load sensor flickering to the opposite reading for 20-30 s while the truck drives
      if (
        d.flickerUntil < ts - 120_000 &&
        driving &&
        speed > 10 &&
        this.rates.FLICKER > 0 &&
        f.chance(this.rates.FLICKER)
      ) {
        d.flickerUntil = ts + f.range(20_000, 30_000);
        this.counts.flicker++;
      }
      if (ts < d.flickerUntil) out.load = body.load === 'empty' ? 'full' : 'empty';
      // one weight reading at a tenth of the truth (24 t -> 2.4 t)
      const w = Number(body.weight ?? 0);
      if (
        driving &&
        speed > 10 &&
        w > 5 &&
        this.rates.WEIGHT_GLITCH > 0 &&
        f.chance(this.rates.WEIGHT_GLITCH)
      ) {
        out.weight = Math.round(w * 10) / 100;
        this.counts.weightGlitch++;
      }
    }
    return out;
  }

  /** A point 100 m inside a restricted zone closed to muck trucks now, at least `minM` away, if in reach. */
  private multipathTarget(from: LatLon, minM: number, ts: number): LatLon | undefined {
    for (const z of this.world.zones) {
      if (z.kind !== 'restricted' || !(z.appliesTo ?? ['muck_truck']).includes('muck_truck')) continue;
      if (!this.oracleWorld.zoneOpen(z, ts)) continue;
      const c = centroidOf(z.polygons);
      const dist = haversineM(from, c);
      if (dist < minM || dist > minM + 800) continue;
      let entry = -1;
      for (let m = 0; m <= dist; m += 10) {
        if (inAnyPolygon(z.polygons, towards(from, c, m))) {
          entry = m;
          break;
        }
      }
      if (entry < 0) continue;
      const at = Math.min(dist, entry + 100);
      if (at >= minM) return towards(from, c, at);
    }
    return undefined;
  }

  private noteTrip(d: SimDevice, ts: number): void {
    if (!(d.behaviour instanceof CycleTruckBehaviour) || d.planner === undefined) return;
    const trip = d.behaviour.trip;
    if (trip === d.trip) return;
    d.trip = trip;
    const planned = d.planner.trips[trip];
    this.tripLog.push({
      vehicle: d.unit,
      trip,
      start: ts,
      ...(planned?.twist ? { twist: planned.twist } : {}),
      ...(planned?.skipped ? { skipped: planned.skipped } : {}),
      ...(planned?.faults ? { faults: planned.faults } : {}),
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const d of this.devices) {
      d.oracle.finish(this.endTs);
      d.planOracle?.finish(this.endTs);
    }
  }

  private flushHeld(): SimMessage[] {
    const out: SimMessage[] = [];
    for (const d of this.devices) {
      if (d.backlog.length > 0) {
        // still in a blind area when the run ended: the buffer goes out at the end
        this.counts.backfill++;
        out.push({
          ts: this.endTs,
          device: d.device.id,
          topic: telemetryTopic(d.device.id),
          payload: JSON.stringify(d.backlog),
          kind: 'backfill',
        });
        d.backlog = [];
      }
      if (d.held === undefined) continue;
      this.counts.fix++;
      out.push({
        ts: this.endTs,
        device: d.device.id,
        topic: telemetryTopic(d.device.id),
        payload: d.held,
        kind: 'fix',
      });
      d.held = undefined;
    }
    return out;
  }

  trips(): TripRecord[] {
    return [...this.tripLog];
  }

  stats(): Record<string, number> {
    return { ...this.counts };
  }

  /**
   * The ground truth (after the run): every violation the rule definitions find on the true tracks, with
   * `injected` set when it is the twist of the trip it began in, or the permit change of its vehicle.
   */
  groundTruth(): GroundTruth[] {
    if (!this.finished) throw new Error('the run is not over');
    const trips = new Map<string, TripRecord[]>();
    for (const t of this.tripLog) trips.set(t.vehicle, [...(trips.get(t.vehicle) ?? []), t]);
    const out: GroundTruth[] = [];
    for (const d of this.devices) {
      const named = new Set(
        this.opts.injections.flatMap((i) =>
          i.vehicle === d.unit && d.kind !== 'muck_truck' ? [i.type] : [],
        ),
      );
      for (const v of [...d.oracle.truths, ...(d.planOracle?.truths ?? [])]) {
        const list = trips.get(d.unit) ?? [];
        const trip = [...list].reverse().find((t) => t.start <= v.start);
        const level = this.world.vehicleInjections.get(d.unit);
        // a sanitation vehicle's or camera's twist is named by its unit (plans/behaviour.ts)
        const vehicleLevel =
          level === v.type || (level === 'REVOKE' && v.type === 'NO_PERMIT') || named.has(v.type);
        const injected = vehicleLevel || trip?.twist?.type === (v.type as ViolationCode);
        // a clock running ahead stamps everything the platform sees (and judges) that much later
        const shifted =
          d.skewMs === 0
            ? v
            : { ...v, start: v.start + d.skewMs, ...(v.end !== undefined ? { end: v.end + d.skewMs } : {}) };
        out.push({ ...shifted, device: d.device.id, injected, ...(trip ? { trip: trip.trip } : {}) });
      }
    }
    return out.sort(
      (a, b) => a.start - b.start || a.vehicle.localeCompare(b.vehicle) || a.type.localeCompare(b.type),
    );
  }
}

function trueState(ts: number, b: Record<string, unknown>): TrueState {
  const s: TrueState = { ts, lat: b.lat as number, lon: b.lon as number, speed: (b.speed as number) ?? 0 };
  if (typeof b.ign === 'boolean') s.ign = b.ign;
  if (typeof b.load === 'string') s.load = b.load as TrueState['load'];
  if (typeof b.weight === 'number') s.weight = b.weight;
  if (typeof b.cover === 'string') s.cover = b.cover as TrueState['cover'];
  if (typeof b.lift === 'string') s.lift = b.lift as TrueState['lift'];
  return s;
}

function planTrueState(ts: number, b: Record<string, unknown>): PlanTrueState {
  const s: PlanTrueState = {
    ts,
    lat: b.lat as number,
    lon: b.lon as number,
    speed: (b.speed as number) ?? 0,
  };
  if (typeof b.task === 'string') s.task = b.task as PlanTrueState['task'];
  if (typeof b.brush === 'boolean') s.brush = b.brush;
  if (typeof b.binLifts === 'number') s.binLifts = b.binLifts;
  if (typeof b.recording === 'boolean') s.recording = b.recording;
  if (typeof b.battery === 'number') s.battery = b.battery;
  if (typeof b.storageFree === 'number') s.storageFree = b.storageFree;
  if (typeof b.docked === 'boolean') s.docked = b.docked;
  if (typeof b.sos === 'boolean') s.sos = b.sos;
  if (typeof b.officer === 'string') s.officer = b.officer;
  return s;
}
