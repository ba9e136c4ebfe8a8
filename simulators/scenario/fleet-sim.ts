import type { ViolationCode } from '../../geofence/model.ts';
import type { FixPayload } from '../../ingest/payload.ts';
import { telemetryTopic } from '../../ingest/payload.ts';
import { faultRates } from '../faults/inject-spec.ts';
import { malformed, TerminalFaults } from '../faults/terminal.ts';
import type { FixBody } from '../motion/behaviour.ts';
import { CycleTruckBehaviour } from '../motion/truck-cycle.ts';
import { planTrueState, simDevices, trueState } from './fleet-devices.ts';
import type {
  GroundTruth,
  MessageKind,
  SimAction,
  SimDevice,
  SimMessage,
  SimOptions,
  TripRecord,
} from './fleet-types.ts';
import type { FaultType } from './injection-types.ts';
import { MinHeap } from './min-heap.ts';
import { OracleWorld } from './oracle/world.ts';
import type { SimWorld } from './world.ts';

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
 * Faults (injection-types.ts FAULT_TYPES) are laid over what the terminal REPORTS, never over the truth:
 * a flickering load sensor, a weight glitch, a multipath fix, an urban-canyon bias, a clock running
 * ahead; a blind area's fixes are recorded and uploaded late as one batch (the truth counts them as
 * sent: the platform gets them); a REVOKE truck's permit is revoked through the platform API during the
 * run by an `action` message the publisher carries out at its instant (the truth knows the instant).
 */

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
  private readonly terminal: TerminalFaults<SimWorld['zones'][number]>;

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
    this.oracleWorld = new OracleWorld(
      world.sites,
      world.routes,
      world.zones,
      world.permits,
      world.thresholds,
    );
    this.devices = simDevices(world, opts, this.oracleWorld, this.rates);
    this.terminal = new TerminalFaults(
      this.rates,
      this.noiseM,
      this.driftM,
      this.counts,
      world.zones,
      (z, ts) => this.oracleWorld.zoneOpen(z, ts),
    );
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
      const fix = { ts: ts + d.skewMs, ...body, ...this.terminal.observe(d, body, ts) };
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
        // a sanitation vehicle's or camera's twist is named by its unit (plans/walker.ts TwistTest)
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
