import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { createEngine, type VehicleState } from '../geofence/engine.ts';
import type { RegistrySnapshot, VehicleProfile } from '../geofence/model.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import type { Device } from '../registry/types.ts';
import type { SimMessage } from './fleet-sim.ts';
import type { Detection } from './score.ts';
import { type SimWorld, unitOf } from './world.ts';

/**
 * A run's messages through the real engine without the platform: every message decoded by ingest's own
 * decoder (as the broker receives it), stepped through the engine in delivery order, silence ticked every
 * 5 s of the run's time (the fleet clock: the newest message), registry changes (`action` messages)
 * applied where they are in the stream. What the platform would judge, minus MQTT, storage and the shell;
 * fast and deterministic, so tests can score a whole scenario in seconds. Late fixes are handled as the
 * engine handles them (a shell that re-judges late fixes is the platform's business); violations the
 * engine closes as withdrawn (`details.withdrawn`) are not detections.
 */

export interface ReplayResult {
  detections: Detection[];
  events: ViolationEvent[];
  states: Map<string, VehicleState>;
  /** fixes decoded and stepped, and rejections by reason */
  fixes: number;
  rejected: Record<string, number>;
}

const TICK_MS = 5_000;

function snapshotOf(world: SimWorld, revoked: ReadonlySet<string>): RegistrySnapshot {
  const vehicles: VehicleProfile[] = world.devices
    .filter((d) => d.kind !== 'body_camera' || d.vehicle === undefined)
    .map((d) => {
      const v = world.vehicles.find((x) => x.id === unitOf(d));
      return {
        id: unitOf(d),
        version: 1,
        firm: d.firm,
        kind: d.kind,
        ...(v?.ratedLoadT !== undefined ? { ratedLoadT: v.ratedLoadT } : {}),
        reportIntervalS: d.reportIntervalS ?? 10,
      };
    });
  return {
    sites: world.sites,
    routes: world.routes,
    zones: world.zones,
    permits: world.permits.filter((p) => !revoked.has(p.id)),
    vehicles,
    thresholds: { id: 'city', version: 1, values: world.thresholds },
  };
}

export function replayThroughEngine(
  world: SimWorld,
  messages: Iterable<SimMessage>,
  endTs: number,
): ReplayResult {
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const revoked = new Set<string>();
  let compiled: World = compileWorld(snapshotOf(world, revoked));
  const devices = new Map<string, Device>(
    world.devices.map((d) => [
      d.id,
      {
        id: d.id,
        kind: d.kind,
        unit: unitOf(d),
        firm: d.firm,
        reportIntervalS: d.reportIntervalS ?? 10,
        enabled: true,
        ...(d.officer ? { officer: d.officer } : {}),
      },
    ]),
  );
  const states = new Map<string, VehicleState>();
  const events: ViolationEvent[] = [];
  const rejected: Record<string, number> = {};
  let fixes = 0;
  let clock = Number.NEGATIVE_INFINITY;
  let nextTick = Number.NEGATIVE_INFINITY;
  const tickTo = (now: number) => {
    if (!Number.isFinite(nextTick)) nextTick = now;
    while (nextTick <= now) {
      for (const [unit, state] of states) {
        const r = engine.tick(state, nextTick, compiled);
        states.set(unit, r.state);
        events.push(...r.events);
      }
      nextTick += TICK_MS;
    }
  };
  for (const m of messages) {
    if (m.kind === 'action') {
      if (m.action?.type === 'revoke_permit') {
        revoked.add(m.action.permit);
        compiled = compileWorld(snapshotOf(world, revoked));
      }
      continue;
    }
    const device = devices.get(m.device);
    const r = decodeTelemetry({
      deviceId: m.device,
      payload: Buffer.from(m.payload),
      receivedMs: m.ts,
      device,
    });
    for (const x of r.rejections) rejected[x.reason] = (rejected[x.reason] ?? 0) + 1;
    for (const fix of r.fixes) {
      fixes++;
      const state = states.get(fix.vehicle) ?? engine.initial(fix.vehicle);
      const s = engine.step(state, fix, compiled);
      states.set(fix.vehicle, s.state);
      events.push(...s.events);
      clock = Math.max(clock, fix.ts);
    }
    if (Number.isFinite(clock)) tickTo(Math.min(clock, m.ts + 300_000));
  }
  tickTo(endTs);
  const byId = new Map<string, Detection>();
  const withdrawn = new Set<string>();
  for (const e of events) {
    const v = e.violation;
    if (v.details.withdrawn === true) withdrawn.add(v.id);
    byId.set(v.id, {
      id: v.id,
      vehicle: v.vehicle,
      code: v.code,
      startTs: v.startTs,
      ...(v.endTs !== undefined ? { endTs: v.endTs } : {}),
      ...(v.detectedTs !== undefined ? { detectedTs: byId.get(v.id)?.detectedTs ?? v.detectedTs } : {}),
    });
  }
  // a violation found never to have happened (OFFLINE closed at its start by fixes recorded in the
  // silence) is withdrawn: not a detection
  const detections = [...byId.values()].filter((d) => !withdrawn.has(d.id ?? ''));
  return { detections, events, states, fixes, rejected };
}
