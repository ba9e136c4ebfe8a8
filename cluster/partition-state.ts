/**
 * One partition's judgement, without I/O: the engine and trip states of the partition's units, stepped
 * by the fixes of the partition in stream order, and the checkpoint that saves them together with the
 * stream sequence they cover. The same engine and the same steps as the single process
 * (platform/compliance.ts stepFix), so the same fixes give the same events with the same ids; restored
 * from a checkpoint at sequence S and fed the stream after S, it gives what an uninterrupted run gives.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Calendar, Engine, VehicleState } from '../geofence/engine.ts';
import { initialTrips, stepTrips, type TripEvent, type TripState, tripInput } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { Fix } from '../ingest/fix.ts';
import { decodeVehicleState } from '../platform/engine-state-codec.ts';

/** what a checkpoint holds (JSON, gzipped in the KV bucket) */
export interface PartitionCheckpoint {
  /** engineFingerprint(): a checkpoint of another engine version is not fed to this one */
  engine: string;
  /** the last stream sequence whose fix is in these states (0: none) */
  seq: number;
  vehicles: [string, VehicleState][];
  trips: [string, TripState][];
}

export interface StepOutput {
  violations: ViolationEvent[];
  trips: TripEvent[];
}

export class PartitionState {
  private readonly states = new Map<string, VehicleState>();
  private readonly tripStates = new Map<string, TripState>();
  /** the last stream sequence stepped */
  seq = 0;

  constructor(
    private readonly engine: Engine,
    private readonly calendar: Calendar,
    private readonly fingerprint: string,
  ) {}

  get units(): number {
    return this.states.size;
  }

  /** steps one fix taken from stream sequence `seq`, appending its events to `out` */
  step(fix: Fix, seq: number, world: World, out: StepOutput): void {
    this.seq = seq;
    const state = this.states.get(fix.vehicle) ?? this.engine.initial(fix.vehicle);
    const result = this.engine.step(state, fix, world);
    this.states.set(fix.vehicle, result.state);
    if (fix.kind === 'muck_truck') {
      const trips = this.tripStates.get(fix.vehicle) ?? initialTrips();
      const tr = stepTrips(trips, tripInput(fix, world, this.calendar), result.events);
      this.tripStates.set(fix.vehicle, tr.state);
      for (const e of tr.events) out.trips.push(e);
    }
    for (const e of result.events) out.violations.push(e);
  }

  encode(): Uint8Array {
    const checkpoint: PartitionCheckpoint = {
      engine: this.fingerprint,
      seq: this.seq,
      vehicles: [...this.states],
      trips: [...this.tripStates],
    };
    return gzipSync(JSON.stringify(checkpoint));
  }

  /**
   * Reads a checkpoint back. One written by another engine version gives its sequence but no states
   * (the units start afresh, as the single process does with such saved states): `stale` says so.
   */
  restore(bytes: Uint8Array): { stale: boolean } {
    const checkpoint = JSON.parse(gunzipSync(bytes).toString('utf8')) as PartitionCheckpoint;
    this.states.clear();
    this.tripStates.clear();
    this.seq = checkpoint.seq;
    if (checkpoint.engine !== this.fingerprint) return { stale: true };
    for (const [unit, state] of checkpoint.vehicles)
      this.states.set(unit, decodeVehicleState(JSON.stringify(state)));
    for (const [unit, trips] of checkpoint.trips) this.tripStates.set(unit, trips);
    return { stale: false };
  }
}
