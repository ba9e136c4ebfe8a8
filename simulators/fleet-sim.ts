import type { ViolationCode } from '../geofence/model.ts';
import type { UnitKind } from '../ingest/fix.ts';
import type { FixPayload } from '../ingest/payload.ts';
import { telemetryTopic } from '../ingest/payload.ts';
import type { NewDevice } from '../registry/types.ts';
import { type Behaviour, type FixBody, OfficerBehaviour, SweeperBehaviour } from './behaviour.ts';
import { faultRates, TripPlanner, type Twist } from './inject.ts';
import { MinHeap } from './min-heap.ts';
import { OracleWorld, type TrueState, type TruthViolation, UnitOracle } from './oracle.ts';
import { createRng, hashString, type Rng } from './rng.ts';
import type { FaultType, ScenarioInjection } from './scenario-file.ts';
import { offsetM } from './tracks.ts';
import { CycleTruckBehaviour } from './truck-cycle.ts';
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
}

export type MessageKind = 'fix' | 'duplicate' | 'late' | 'malformed';

export interface SimMessage {
  /** simulated send instant, epoch ms */
  ts: number;
  device: string;
  topic: string;
  payload: string;
  kind: MessageKind;
}

export interface TripRecord {
  vehicle: string;
  trip: number;
  /** epoch ms */
  start: number;
  twist?: Twist;
  skipped?: string;
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
  faults: Rng;
  noise: Rng;
  intervalMs: number;
  nextTs: number;
  lastTs: number;
  drift?: Drift;
  held?: string;
  trip: number;
}

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
  private readonly counts: Record<MessageKind | 'dropped' | 'silent', number> = {
    fix: 0,
    duplicate: 0,
    late: 0,
    malformed: 0,
    dropped: 0,
    silent: 0,
  };
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
      if (device.kind === 'muck_truck') {
        const haul = world.hauls.get(unit)!;
        planner = new TripPlanner({
          world,
          vehicle: unit,
          haul,
          intervalMs,
          injections: opts.injections,
          rng: rng.fork('trips'),
        });
        const p = planner;
        behaviour = new CycleTruckBehaviour(rng, {
          track: haul.line,
          ratedLoadT: vehicle?.ratedLoadT ?? 18,
          cycle: p.cycleFor(0),
          nextCycle: (trip) => p.cycleFor(trip),
          gnssNoiseSdM: 0,
        });
      } else if (device.kind === 'sanitation') {
        behaviour = new SweeperBehaviour(rng, world.rounds.get(unit)!, rng.range(0, 1), 0);
      } else {
        const officer = device.officer ?? 'officer';
        behaviour = new OfficerBehaviour(rng, world.patrols.get(device.id)!, officer, rng.range(0, 1), 0);
      }
      const oracle = new UnitOracle(this.oracleWorld, {
        id: unit,
        kind: device.kind,
        ...(vehicle?.ratedLoadT !== undefined ? { ratedLoadT: vehicle.ratedLoadT } : {}),
        reportIntervalS: nominalS,
      });
      const first = world.startTs + rng.int(0, intervalMs - 1);
      return {
        index,
        device,
        unit,
        kind: device.kind,
        behaviour,
        ...(planner ? { planner } : {}),
        oracle,
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
    const silent = d.behaviour.silent === true;
    const dropped = !silent && this.rates.DROPOUT > 0 && d.faults.chance(this.rates.DROPOUT);
    const sent = !silent && !dropped;
    if (silent) this.counts.silent++;
    if (dropped) this.counts.dropped++;
    d.oracle.observe(trueState(ts, body), sent);
    const out: SimMessage[] = [];
    const emit = (payload: string, kind: MessageKind) => {
      this.counts[kind]++;
      out.push({ ts, device: d.device.id, topic: telemetryTopic(d.device.id), payload, kind });
    };
    if (sent) {
      const text = JSON.stringify({ ts, ...body, ...this.observed(d, body) });
      if (d.held === undefined && this.rates.OUT_OF_ORDER > 0 && d.faults.chance(this.rates.OUT_OF_ORDER)) {
        d.held = text; // goes out after the next fix
      } else {
        emit(text, 'fix');
        if (d.held !== undefined) emit(d.held, 'late');
        d.held = undefined;
        if (this.rates.DUPLICATE > 0 && d.faults.chance(this.rates.DUPLICATE)) emit(text, 'duplicate');
      }
      if (this.rates.MALFORMED > 0 && d.faults.chance(this.rates.MALFORMED))
        emit(malformed(d.faults, ts), 'malformed');
    } else if (d.held !== undefined) {
      // nothing newer to overtake it: it goes out delayed but in order (an ordinary fix for ingest)
      emit(d.held, 'fix');
      d.held = undefined;
    }
    const alarm = d.oracle.alarm();
    d.nextTs = ts + (alarm ? Math.min(this.alarmMs, d.intervalMs) : d.intervalMs);
    return out;
  }

  /** What the terminal reports of its position: the truth plus GNSS error and drift. */
  private observed(
    d: SimDevice,
    body: { lat: number; lon: number },
  ): { lat: number; lon: number; accuracy?: number } {
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
    const p = offsetM(body, east, north);
    const out: { lat: number; lon: number; accuracy?: number } = { lat: round6(p.lat), lon: round6(p.lon) };
    if (this.noiseM > 0) out.accuracy = Math.round(this.noiseM * r.range(0.8, 1.3) * 10) / 10;
    return out;
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
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const d of this.devices) d.oracle.finish(this.endTs);
  }

  private flushHeld(): SimMessage[] {
    const out: SimMessage[] = [];
    for (const d of this.devices) {
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
      for (const v of d.oracle.truths) {
        const list = trips.get(d.unit) ?? [];
        const trip = [...list].reverse().find((t) => t.start <= v.start);
        const vehicleLevel = this.world.vehicleInjections.get(d.unit) === v.type;
        const injected = vehicleLevel || trip?.twist?.type === (v.type as ViolationCode);
        out.push({ ...v, device: d.device.id, injected, ...(trip ? { trip: trip.trip } : {}) });
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
