import type { FixPayload } from '../../ingest/payload.ts';
import type { NewDevice } from '../../registry/types.ts';
import type { Behaviour } from '../motion/behaviour.ts';
import { CollectionRoundBehaviour } from '../plans/collection.ts';
import { PatrolCameraBehaviour } from '../plans/patrol.ts';
import { PlanSweeperBehaviour } from '../plans/sweeper.ts';
import { occurrencesIn, type SimPlans } from '../plans/world.ts';
import { centroidOf } from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import { haversineM, type LatLon, offsetM } from '../shared/tracks.ts';
import type { BehaviourFactory } from './device-sim.ts';
import { demoPlan } from './geometry.ts';
import { demoRegistrySeed } from './registry.ts';

/**
 * The demo city's plans (issue 15, item 6): what `npm start` seeds for its sanitation vehicles and body
 * cameras, and how they work by them, so that the sanitation and camera violations show up in the demo
 * as the muck trucks' do (compliance.ts, scenario-trucks.ts).
 *
 * - veh-h0621 sweeps its round (a block loop) in hourly shifts HH:00-HH:45, breaking one rule a shift in
 *   turn: it sweeps too fast for a minute or two (SWEEP_OVERSPEED), takes a street off its plan with the
 *   brush on (OUT_OF_AREA), stops at 45 % of the round (SWEEP_COVERAGE at the shift's end).
 * - veh-h0622 is a collection truck with three points on its round, windows HH:05-HH:20, HH:25-HH:40 and
 *   HH:45-HH:59; of every five stops one is late (LATE_COLLECTION, 6-12 min after the window) and one
 *   skipped (MISSED_COLLECTION, decided an hour after the window: the grace).
 * - the three officers patrol their loop in a grid round it in hourly shifts HH:00-HH:50 and dock at the
 *   upload station in the grid's middle between shifts: officer 1 stops recording every shift
 *   (NOT_RECORDING) and presses SOS every other shift; officer 2 leaves the grid every shift (OUT_OF_GRID)
 *   and starts every other shift with a low battery (LOW_BATTERY); officer 3 runs out of storage every
 *   shift (LOW_STORAGE) and goes silent on duty every other (OFFLINE, with a TRACK_GAP as it walks).
 * The windows are daily (24 a day, the registry's maximum), so the seed made once holds at any hour.
 * NOT_UPLOADED needs 24 h of footage that is never docked: the demo's officers dock every hour.
 */

export const DEMO_PLAN_IDS = {
  sweepPlan: 'sweep-hf-h0621',
  collectionPoints: ['cp-hf-h0622-1', 'cp-hf-h0622-2', 'cp-hf-h0622-3'],
  dutyPlans: ['duty-hf-grid-1', 'duty-hf-grid-2', 'duty-hf-grid-3'],
  uploadStations: ['station-hf-1', 'station-hf-2', 'station-hf-3'],
} as const;

const SWEEPER = 'veh-h0621';
const COLLECTOR = 'veh-h0622';
const SANITATION_FIRM = 'firm-hf-qingyuan';
const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
const hourly = (from: string, to: string) => HOURS.map((h) => `${h}:${from}-${h}:${to}`);

const position = (p: LatLon): [number, number] => [
  Math.round(p.lon * 1e7) / 1e7,
  Math.round(p.lat * 1e7) / 1e7,
];

/** A square grid round a patrol loop, 150 m beyond its farthest vertex. */
function gridRound(points: readonly LatLon[]): { centre: LatLon; ring: [number, number][] } {
  const centre = centroidOf([[points.map(position)]]);
  const half = Math.max(...points.map((p) => haversineM(centre, p))) + 150;
  const corner = (e: number, n: number) => position(offsetM(centre, e * half, n * half));
  const first = corner(-1, -1);
  return { centre, ring: [first, corner(1, -1), corner(1, 1), corner(-1, 1), first] };
}

/** The demo's plans, version 1 (windows are daily: the same at any hour of any day). */
export function demoPlansSeed(): SimPlans {
  const plan = demoPlan();
  const seed = demoRegistrySeed();
  const cameras = seed.devices.filter((d) => d.kind === 'body_camera');
  const round = plan.sweeperRounds[1]!;
  const collectionWindows = [hourly('05', '20'), hourly('25', '40'), hourly('45', '59')];
  const grids = plan.patrols.map((l) => gridRound(l.points));
  return {
    sweepPlans: [
      {
        id: DEMO_PLAN_IDS.sweepPlan,
        version: 1,
        firm: SANITATION_FIRM,
        name: '长江西路片区 机扫作业计划',
        lines: [plan.sweeperRounds[0]!.points.map(position)],
        corridorM: 20,
        windows: hourly('00', '45'),
        vehicles: [SWEEPER],
      },
    ],
    collectionPoints: DEMO_PLAN_IDS.collectionPoints.map((id, k) => ({
      id,
      version: 1,
      firm: SANITATION_FIRM,
      name: `芜湖路 垃圾收运点 ${k + 1}`,
      position: position(round.points[k]!),
      radiusM: 30,
      windows: collectionWindows[k]!,
      vehicles: [COLLECTOR],
      binsExpected: 6,
    })),
    dutyPlans: cameras.map((c, i) => ({
      id: DEMO_PLAN_IDS.dutyPlans[i]!,
      version: 1,
      firm: c.firm,
      name: `蜀山区 网格 ${i + 1}`,
      polygons: [[grids[i]!.ring]],
      windows: hourly('00', '50'),
      cameras: [c.id],
      officers: [],
    })),
    uploadStations: grids.map((g, i) => ({
      id: DEMO_PLAN_IDS.uploadStations[i]!,
      version: 1,
      name: `执法记录仪采集站 ${i + 1}`,
      position: position(g.centre),
      radiusM: 50,
    })),
  };
}

/** What each demo unit breaks, by the occurrence (shift or stop) counted from the fleet's start. */
const DEMO_TWISTS: Record<string, (type: string, k: number) => boolean> = {
  // one twist a shift: a detour or a short shift would take the time an overspeed needs
  [SWEEPER]: (type, k) =>
    (type === 'SWEEP_OVERSPEED' && k % 3 === 0) ||
    (type === 'OUT_OF_AREA' && k % 3 === 1) ||
    (type === 'SWEEP_COVERAGE' && k % 3 === 2),
  [COLLECTOR]: (type, k) =>
    (type === 'LATE_COLLECTION' && k % 5 === 1) || (type === 'MISSED_COLLECTION' && k % 5 === 3),
  'cam-sc-0001': (type, k) => type === 'NOT_RECORDING' || (type === 'SOS' && k % 2 === 1),
  'cam-sc-0002': (type, k) => type === 'OUT_OF_GRID' || (type === 'LOW_BATTERY' && k % 2 === 0),
  'cam-sc-0003': (type, k) => type === 'LOW_STORAGE' || (type === 'OFFLINE' && k % 2 === 1),
};

/**
 * The behaviour factory for the demo fleet's sanitation vehicles and cameras (startDemoFleet's
 * `behaviourFor`, after the scenario trucks'): they work by demoPlansSeed() from `startTs` on, for
 * `days` days, the shift or window running at the start included.
 */
export function demoPlanBehaviourFor(startTs: number, days = 30): BehaviourFactory {
  const plans = demoPlansSeed();
  const from = startTs - 3_600_000;
  const to = startTs + days * 86_400_000;
  const allowanceMs = 10 * 60_000;
  return (device: NewDevice, rng: Rng): Behaviour<FixPayload> | undefined => {
    const unit = device.vehicle ?? device.id;
    const twist = DEMO_TWISTS[unit];
    if (twist === undefined) return undefined;
    if (unit === SWEEPER) {
      const p = plans.sweepPlans[0]!;
      return new PlanSweeperBehaviour(
        rng,
        startTs,
        {
          kind: 'sweep',
          plan: p.id,
          line: demoPlan().sweeperRounds[0]!,
          shifts: occurrencesIn(p.windows, from, to),
        },
        twist,
        allowanceMs,
      );
    }
    if (unit === COLLECTOR) {
      const stops = plans.collectionPoints
        .flatMap((p) =>
          occurrencesIn(p.windows, from, to).map((window) => ({
            point: p.id,
            pos: { lat: p.position[1], lon: p.position[0] },
            radiusM: p.radiusM,
            window,
          })),
        )
        .filter((s) => s.window.end > startTs)
        .sort((a, b) => a.window.start - b.window.start);
      return new CollectionRoundBehaviour(rng, startTs, { kind: 'collection', stops }, twist);
    }
    const i = DEMO_PLAN_IDS.dutyPlans.findIndex((_, k) => plans.dutyPlans[k]?.cameras.includes(unit));
    const duty = plans.dutyPlans[i];
    if (duty === undefined) return undefined;
    const station = plans.uploadStations[i]!.position;
    return new PatrolCameraBehaviour(
      rng,
      startTs,
      device.officer ?? 'officer',
      {
        kind: 'patrol',
        plan: duty.id,
        grid: duty.polygons,
        loop: demoPlan().patrols[i]!,
        station: { lat: station[1], lon: station[0] },
        shifts: occurrencesIn(duty.windows, from, to).filter((s) => s.end > startTs),
      },
      twist,
      allowanceMs,
    );
  };
}

/** Two factories in turn: the first that gives a behaviour wins. */
export function firstOf(...factories: BehaviourFactory[]): BehaviourFactory {
  return (device, rng) => {
    for (const f of factories) {
      const b = f(device, rng);
      if (b !== undefined) return b;
    }
    return undefined;
  };
}
