import type { FixPayload } from '../../ingest/payload.ts';
import { TripPlanner } from '../faults/inject.ts';
import { CLOCK_SKEW_MS } from '../faults/terminal.ts';
import { type Behaviour, OfficerBehaviour, SweeperBehaviour } from '../motion/behaviour.ts';
import { CycleTruckBehaviour } from '../motion/truck-cycle.ts';
import { CollectionRoundBehaviour } from '../plans/collection.ts';
import { PatrolCameraBehaviour } from '../plans/patrol.ts';
import { PlanSweeperBehaviour } from '../plans/sweeper.ts';
import type { TwistTest } from '../plans/walker.ts';
import { createRng, hashString } from '../shared/rng.ts';
import type { SimDevice, SimOptions } from './fleet-types.ts';
import type { FaultType } from './injection-types.ts';
import { UnitOracle } from './oracle/oracle.ts';
import type { PlanTrueState } from './oracle/plan-world.ts';
import { PlanUnitOracle } from './oracle/plans.ts';
import type { OracleWorld, TrueState } from './oracle/world.ts';
import { type SimWorld, unitOf } from './world.ts';

/**
 * The devices of a fleet simulation (fleet-sim.ts), each with its behaviour (a truck's trip cycle with its
 * twists, a plan's unit, a sweeper's round, an officer's patrol), its oracles, its random streams
 * (seeded by the run's seed and the device id) and its first report instant; and what a device really did
 * at a step, as the oracles read it.
 */

/** Every device of the world, in the world's order. */
export function simDevices(
  world: SimWorld,
  opts: SimOptions,
  oracleWorld: OracleWorld,
  rates: Record<FaultType, number>,
): SimDevice[] {
  const skewed = new Set(
    opts.injections.flatMap((i) => (i.type === 'CLOCK_SKEW' && i.vehicle ? [i.vehicle] : [])),
  );
  const vehicles = new Map(world.vehicles.map((v) => [v.id, v]));
  return world.devices.map((device, index) => {
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
    const oracle = new UnitOracle(oracleWorld, {
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
    const skewRate = rates.CLOCK_SKEW;
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
}

/** What the unit really did at this step, for the oracle of the 两点一线 rules. */
export function trueState(ts: number, b: Record<string, unknown>): TrueState {
  const s: TrueState = { ts, lat: b.lat as number, lon: b.lon as number, speed: (b.speed as number) ?? 0 };
  if (typeof b.ign === 'boolean') s.ign = b.ign;
  if (typeof b.load === 'string') s.load = b.load as TrueState['load'];
  if (typeof b.weight === 'number') s.weight = b.weight;
  if (typeof b.cover === 'string') s.cover = b.cover as TrueState['cover'];
  if (typeof b.lift === 'string') s.lift = b.lift as TrueState['lift'];
  return s;
}
/** What the unit really did at this step, for the plans oracle. */
export function planTrueState(ts: number, b: Record<string, unknown>): PlanTrueState {
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
