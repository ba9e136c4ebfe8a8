import type { Fix } from '../../core/fix.ts';
import { InMemoryLine } from '../../geofence/backfill-memory.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine, type VehicleState } from '../../geofence/engine.ts';
import { createJudge } from '../../geofence/judge.ts';
import type { RegistrySnapshot, VehicleProfile } from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import type { ViolationEvent, World } from '../../geofence/types.ts';
import { decodeTelemetry } from '../../ingest/decode.ts';
import type { Device } from '../../registry/types.ts';
import type { SimMessage } from './fleet-types.ts';
import type { Detection } from './score.ts';
import { type SimWorld, unitOf } from './world.ts';

/**
 * A run's messages through the real engine without the platform: every message decoded by ingest's own
 * decoder (as the broker receives it), stepped through the engine in delivery order, silence ticked every
 * 5 s of the run's time (the fleet clock: the newest message), registry changes (`action` messages)
 * applied where they are in the stream. What the platform would judge, minus MQTT and storage: each
 * unit's fixes go through the same judge and late-fix re-judging as the shell's (geofence/judge.ts,
 * geofence/backfill.ts), with the history in memory (geofence/backfill-memory.ts), so a BLIND_AREA batch
 * that arrives after the live fix is judged in time order, as the platform judges it. Fast and
 * deterministic, so tests can score a whole scenario in seconds. A detection is the latest event of each
 * violation id as consumers keep it; withdrawn violations are not detections.
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

/** The scenario's world as the engine sees it at the start of the run (before any revocation). */
export function compiledWorldOf(world: SimWorld): World {
  return compileWorld(snapshotOf(world, new Set()));
}

export function replayThroughEngine(
  world: SimWorld,
  messages: Iterable<SimMessage>,
  endTs: number,
): ReplayResult {
  const judge = createJudge(createEngine(ALL_RULES, chinaCalendar));
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
  const lines = new Map<string, InMemoryLine>();
  const rejected: Record<string, number> = {};
  let fixes = 0;
  let clock = Number.NEGATIVE_INFINITY;
  let nextTick = Number.NEGATIVE_INFINITY;
  const tickTo = (now: number) => {
    if (!Number.isFinite(nextTick)) nextTick = now;
    while (nextTick <= now) {
      for (const line of lines.values()) line.tick(nextTick);
      nextTick += TICK_MS;
    }
  };
  for (const m of messages) {
    if (m.kind === 'action') {
      if (m.action?.type === 'revoke_permit') {
        revoked.add(m.action.permit);
        compiled = compileWorld(snapshotOf(world, revoked));
        for (const line of lines.values()) line.world = compiled;
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
    // one delivery per message, as ingest hands a batch over: its late fixes re-judged at its end
    const byUnit = new Map<string, Fix[]>();
    for (const fix of r.fixes) {
      fixes++;
      const list = byUnit.get(fix.vehicle);
      if (list === undefined) byUnit.set(fix.vehicle, [fix]);
      else list.push(fix);
      clock = Math.max(clock, fix.ts);
    }
    for (const [unit, batch] of byUnit) {
      let line = lines.get(unit);
      if (line === undefined) {
        line = new InMemoryLine(judge, unit, compiled);
        lines.set(unit, line);
      }
      line.deliver(batch);
    }
    if (Number.isFinite(clock)) tickTo(Math.min(clock, m.ts + 300_000));
  }
  tickTo(endTs);
  const events: ViolationEvent[] = [];
  const detections: Detection[] = [];
  const states = new Map<string, VehicleState>();
  for (const [unit, line] of lines) {
    states.set(unit, line.state.engine);
    events.push(...line.published);
    const first = new Map<string, number>();
    for (const e of line.published) {
      const v = e.violation;
      if (v.detectedTs !== undefined && !first.has(v.id)) first.set(v.id, v.detectedTs);
    }
    for (const e of line.view.values()) {
      // a violation found never to have happened (a silence its batch filled, a verdict a late fix undid)
      if (e.phase === 'withdrawn') continue;
      const v = e.violation;
      const detectedTs = first.get(v.id);
      detections.push({
        id: v.id,
        vehicle: v.vehicle,
        code: v.code,
        startTs: v.startTs,
        ...(v.endTs !== undefined ? { endTs: v.endTs } : {}),
        ...(detectedTs !== undefined ? { detectedTs } : {}),
      });
    }
  }
  return { detections, events, states, fixes, rejected };
}
