/**
 * Running items (fixes, ticks, registry changes) through the REAL engine with ALL_RULES and the trip
 * tracker on the rule-matrix world (world.ts), and reading what came out: events by code, their phases, a
 * stable summary, the completed trips, the refs of a violation, lifecycle problems, evidence hashes.
 */
import type { Fix } from '../../../../core/fix.ts';
import { chinaCalendar } from '../../../../geofence/calendar.ts';
import { createEngine, type VehicleState } from '../../../../geofence/engine.ts';
import { buildEvidence } from '../../../../geofence/evidence.ts';
import { ALL_RULES } from '../../../../geofence/rules/index.ts';
import {
  initialTrips,
  stepTrips,
  type Trip,
  type TripEvent,
  type TripState,
  tripInput,
} from '../../../../geofence/trips.ts';
import type { Violation, ViolationEvent, World } from '../../../../geofence/types.ts';
import { type Item, isFix, type Logged } from '../track-kit.ts';
import { WORLD } from './world.ts';

export interface RunResult {
  log: Logged[];
  events: ViolationEvent[];
  trips: TripEvent[];
  state: VehicleState;
  tripState: TripState;
}

export const ENGINE = createEngine(ALL_RULES, chinaCalendar);

/**
 * Feeds fixes / ticks / world changes through the real engine (ALL_RULES, chinaCalendar) and the trip
 * tracker (violations of the fix, plus those of the ticks since the previous fix, as a shell passes them).
 */
export function run(items: readonly Item[], opts: { world?: World; vehicle?: string } = {}): RunResult {
  let world = opts.world ?? WORLD;
  const first = items.find(isFix);
  let state = ENGINE.initial(opts.vehicle ?? first?.vehicle ?? 'V1');
  let tripState = initialTrips();
  const log: Logged[] = [];
  const trips: TripEvent[] = [];
  let pendingTick: ViolationEvent[] = [];
  for (const item of items) {
    if ('world' in item) {
      world = item.world;
      continue;
    }
    if ('tick' in item) {
      const r = ENGINE.tick(state, item.tick, world);
      state = r.state;
      for (const event of r.events) log.push({ at: item.tick, event });
      pendingTick = pendingTick.concat(r.events);
      continue;
    }
    const r = ENGINE.step(state, item, world);
    state = r.state;
    for (const event of r.events) log.push({ at: item.ts, event });
    // the trip tracker steps the fixes the engine judged, as the shell does (none for a held suspect)
    r.judged.forEach((f, i) => {
      const last = i === r.judged.length - 1;
      const t = stepTrips(
        tripState,
        tripInput(f, r.facts[i]!, world),
        last ? [...pendingTick, ...r.events] : [],
      );
      if (last) pendingTick = [];
      tripState = t.state;
      trips.push(...t.events);
    });
  }
  return { log, events: log.map((l) => l.event), trips, state, tripState };
}

/** `CODE:phase` per event */
export function phases(events: readonly (ViolationEvent | Logged)[]): string[] {
  return events.map((e) => {
    const ev = 'event' in e ? e.event : e;
    return `${ev.violation.code}:${ev.phase}`;
  });
}

/** a stable summary of an event list: code, phase, start, end, level */
export function summary(events: readonly ViolationEvent[]): string[] {
  return events.map(
    (e) =>
      `${e.violation.code}:${e.phase}:${e.violation.startTs}-${e.violation.endTs ?? ''}:L${e.violation.level}`,
  );
}

export function completedTrips(r: RunResult): Trip[] {
  return r.trips.flatMap((e) => (e.kind === 'completed' ? [e.trip] : []));
}

/** the refs of a violation as `kind:id@version`, sorted */
export function refsOf(v: Violation): string[] {
  return v.refs.map((r) => `${r.kind}:${r.id}@${r.version}`).sort();
}

/**
 * Lifecycle problems of an event list (empty when sound): per violation id exactly one `opened`, first;
 * `updated` only while open; at most one `closed`, last; a closed violation has endTs >= startTs and
 * durationMs = endTs - startTs; the id is `vehicle:CODE:startTs` (RESTRICTED_ZONE may append `:zone`).
 */
export function lifecycleProblems(events: readonly ViolationEvent[]): string[] {
  const problems: string[] = [];
  const stage = new Map<string, 'open' | 'closed'>();
  for (const e of events) {
    const v = e.violation;
    const base = `${v.vehicle}:${v.code}:${v.startTs}`;
    if (v.id !== base && !v.id.startsWith(`${base}:`)) problems.push(`${v.id}: id does not name its start`);
    const s = stage.get(v.id);
    if (e.phase === 'opened') {
      if (s !== undefined) problems.push(`${v.id}: opened twice`);
      stage.set(v.id, 'open');
    } else if (s !== 'open') {
      problems.push(`${v.id}: ${e.phase} while ${s ?? 'never opened'}`);
    } else if (e.phase === 'withdrawn') {
      // it never happened: the id may be opened again
      stage.delete(v.id);
    } else if (e.phase === 'closed') {
      stage.set(v.id, 'closed');
      if (v.endTs === undefined || v.endTs < v.startTs) problems.push(`${v.id}: endTs ${v.endTs} < startTs`);
      if (v.durationMs !== (v.endTs ?? 0) - v.startTs) problems.push(`${v.id}: durationMs ${v.durationMs}`);
    }
  }
  return problems;
}

/** sha256 of the evidence package of every closed violation, by id */
export function evidenceHashes(
  events: readonly ViolationEvent[],
  track: readonly Fix[],
  world: World = WORLD,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of events) {
    if (e.phase === 'closed') out[e.violation.id] = buildEvidence(e.violation, track, world).sha256;
  }
  return out;
}
