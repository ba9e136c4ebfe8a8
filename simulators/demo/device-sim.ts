import type { UnitKind } from '../../core/fix.ts';
import { type FixPayload, telemetryTopic } from '../../ingest/payload.ts';
import type { NewDevice } from '../../registry/types.ts';
import {
  type Behaviour,
  MuckTruckBehaviour,
  OfficerBehaviour,
  SweeperBehaviour,
  type TruckPhase,
} from '../motion/behaviour.ts';
import { createRng, hashString, type Rng } from '../shared/rng.ts';
import type { Polyline } from '../shared/tracks.ts';
import { type DemoHaul, demoPlan } from './geometry.ts';
import { CAMERAS, DEFAULT_INTERVAL_S, demoRegistrySeed, SWEEPERS, TRUCKS } from './registry.ts';
/**
 * The demo's devices as pure simulations (fleet.ts drives them live over MQTT): one device's behaviour
 * on its own clock, and the messages a set of them would publish, in time order, without a broker.
 */

export interface DemoMessage {
  device: string;
  kind: UnitKind;
  topic: string;
  ts: number;
  payload: FixPayload;
  /** true when the device did not send this fix (a simulated outage): publishers skip it */
  silent?: boolean;
}

/**
 * Chooses the behaviour of a device instead of the default demo one (e.g. the compliance scenarios of
 * scenario-trucks.ts); returns undefined to keep the default. Must not draw from `rng` when it returns undefined.
 */
export type BehaviourFactory = (device: NewDevice, rng: Rng) => Behaviour<FixPayload> | undefined;

export interface DeviceSimOptions {
  seed?: number;
  /** simulated epoch ms of the start; the first fix comes within one interval after it */
  startTs: number;
  /** report interval override per kind, seconds */
  intervalS?: Partial<Record<UnitKind, number>>;
  /** position of this device among those of its kind (chooses its route when it is not a demo device) */
  indexInKind?: number;
  /** optional behaviour override per device (default: the demo behaviours) */
  behaviourFor?: BehaviourFactory;
}

/** One simulated device: its behaviour plus its own clock. Pure and deterministic. */
export class DeviceSim {
  readonly id: string;
  readonly kind: UnitKind;
  readonly intervalMs: number;
  readonly behaviour: Behaviour<FixPayload>;
  /** ts of the next fix */
  nextTs: number;
  private lastTs: number;

  constructor(device: NewDevice, opts: DeviceSimOptions) {
    this.id = device.id;
    this.kind = device.kind;
    const seed = opts.seed ?? 1;
    const rng = createRng((Math.imul(seed, 0x9e3779b1) ^ hashString(device.id)) >>> 0);
    const intervalS =
      opts.intervalS?.[device.kind] ?? device.reportIntervalS ?? DEFAULT_INTERVAL_S[device.kind];
    this.intervalMs = Math.round(intervalS * 1000);
    const plan = demoPlan();
    const index = opts.indexInKind ?? 0;
    const custom = opts.behaviourFor?.(device, rng);
    if (custom !== undefined) {
      this.behaviour = custom;
    } else if (device.kind === 'muck_truck') {
      const known = TRUCKS.findIndex((t) => t.device === device.id);
      const i = known >= 0 ? known : index;
      const haul = plan.hauls[Math.floor(i / 2) % plan.hauls.length] as DemoHaul;
      const phases: TruckPhase[] = ['loading', 'haul', 'unloading', 'return'];
      // The two trucks of a firm start half a cycle apart.
      const phase = phases[(i * 2 + rng.int(0, 1)) % phases.length] as TruckPhase;
      const rated = TRUCKS[i % TRUCKS.length]?.ratedLoadT ?? 18;
      this.behaviour = new MuckTruckBehaviour(rng, {
        route: haul.route,
        ratedLoadT: rated,
        startPhase: phase,
        startProgress: rng.range(0, 0.8),
      });
    } else if (device.kind === 'sanitation') {
      const known = SWEEPERS.findIndex((s) => s.device === device.id);
      const i = known >= 0 ? known : index;
      const loop = plan.sweeperRounds[i % plan.sweeperRounds.length] as Polyline;
      this.behaviour = new SweeperBehaviour(rng, loop, rng.range(0, 1));
    } else {
      const known = CAMERAS.findIndex((c) => c.device === device.id);
      const i = known >= 0 ? known : index;
      const loop = plan.patrols[i % plan.patrols.length] as Polyline;
      const officer = device.officer ?? CAMERAS[i % CAMERAS.length]?.officer ?? 'officer-001';
      this.behaviour = new OfficerBehaviour(rng, loop, officer, rng.range(0, 1));
    }
    this.nextTs = opts.startTs + rng.int(0, this.intervalMs - 1);
    this.lastTs = opts.startTs;
  }

  get track(): Polyline {
    return this.behaviour.track;
  }

  /** The fix due at `nextTs`; advances the clock by one interval. */
  next(): DemoMessage {
    const ts = this.nextTs;
    const body = this.behaviour.step(ts - this.lastTs);
    this.lastTs = ts;
    this.nextTs = ts + this.intervalMs;
    const payload = { ts, ...body } as FixPayload;
    const msg: DemoMessage = {
      device: this.id,
      kind: this.kind,
      topic: telemetryTopic(this.id),
      ts,
      payload,
    };
    if (this.behaviour.silent === true) msg.silent = true;
    return msg;
  }
}

/** Creates one DeviceSim per device (defaults to the demo devices). */
export function createDeviceSims(
  devices: readonly NewDevice[] = demoRegistrySeed().devices,
  opts: Omit<DeviceSimOptions, 'indexInKind'>,
): DeviceSim[] {
  const counters: Record<UnitKind, number> = { muck_truck: 0, sanitation: 0, body_camera: 0 };
  return devices.map((d) => new DeviceSim(d, { ...opts, indexInKind: counters[d.kind]++ }));
}

export interface GenerateOptions {
  seed?: number;
  /** simulated start, epoch ms (default 2025-06-02T00:00:00Z, 08:00 in Hefei) */
  startTs?: number;
  /** number of messages (over all devices) */
  count: number;
  devices?: readonly NewDevice[];
  intervalS?: Partial<Record<UnitKind, number>>;
  /** optional behaviour override per device */
  behaviourFor?: BehaviourFactory;
}

/**
 * The first `count` messages the fleet would publish, in time order, without a broker (the silent fixes
 * of simulated outages left out). Pure: the same options give the same messages.
 */
export function generateDemoFixes(opts: GenerateOptions): DemoMessage[] {
  const sims = createDeviceSims(opts.devices, {
    seed: opts.seed ?? 1,
    startTs: opts.startTs ?? Date.UTC(2025, 5, 2, 0, 0, 0),
    intervalS: opts.intervalS,
    ...(opts.behaviourFor ? { behaviourFor: opts.behaviourFor } : {}),
  });
  const out: DemoMessage[] = [];
  if (sims.length === 0) return out;
  while (out.length < opts.count) {
    let best = sims[0] as DeviceSim;
    for (const s of sims) if (s.nextTs < best.nextTs) best = s;
    const msg = best.next();
    if (msg.silent !== true) out.push(msg);
  }
  return out;
}
