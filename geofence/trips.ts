import type { Fix } from '../core/fix.ts';
import type { Permit, Position, Site, Thresholds } from './model.ts';
import type { FixFacts, LoadEvent, Rejudged, ViolationEvent, World } from './types.ts';

/**
 * The trip tracker (两点一线: load inside the origin, travel, unload). Pure, shaped like a rule:
 * `initialTrips()` / `stepTrips(state, input, violations)` -> `{ state, events }`. No I/O, no clock: time
 * comes from the fix. It is an output of the engine's load detection: the engine runs the detector
 * (rules/load-events.ts) once per judged fix and returns the facts of each judged fix
 * (`EngineResult.facts`); the tracker reads the transition there (`facts.load`) and runs no detector of
 * its own, so a trip starts and ends on exactly the fixes where NO_PERMIT, WRONG_SITE and ILLEGAL_DUMP
 * see them. Step it with the fixes the engine judged, each with its facts (`tripInput`).
 *
 * - started:   at a loading whose onset lies inside an ORIGIN site (a loading elsewhere starts no trip).
 * - completed: at the next unloading, wherever it is (`disposalSite` is the disposal site containing the
 *              unloading's onset, '' when none: the violation rules say whether that was allowed).
 * The detector confirms sensor changes (rules/confirm.ts), so a transition may be recognised up to
 * `sensorConfirmMs` after its onset: the trip's start and end are the onsets (instant and position), and
 * the event is emitted at the fix that confirmed it.
 * Distance: planar (equirectangular) metres summed between consecutive valid fixes of the trip, counting
 * only legs that end in a moving fix (speed >= `suspectedDumpSpeedKmh`): GNSS drift while parked at the
 * excavator or the tipping face is not travel.
 * Id: `${vehicle}:trip:${startTs}` (deterministic).
 *
 * Compliance is reported by the caller, explicitly: `violations` is the list of violation events of THIS
 * vehicle that the engine produced for the same fix (engine.step, run first), plus any produced by
 * engine.tick since the previous fix. A trip is `compliant` when no violation event arrived while it was
 * open (from its loading fix to its unloading fix, both included), except a `closed` event of a violation
 * that began before the trip and ended exactly at its first fix (it only touches the trip). A violation
 * already open before the trip that emits nothing during it is not seen: pass its events in if needed.
 * At most `MAX_TRIP_VIOLATION_IDS` distinct ids are kept; `violationCount` counts distinct ids up to that
 * and every further `opened` event after it.
 *
 * Out-of-order or duplicate fixes (ts at or before the last one seen) are ignored, as the engine does.
 */

export const MAX_TRIP_VIOLATION_IDS = 8;

export interface TripState {
  /** ts of the last in-order fix, -1 none */
  pts: number;
  /** start of the open trip, -1 when none */
  ts0: number;
  origin: string;
  originV: number;
  permit: string;
  /** what the loading was (lift|load|weight) */
  ltrig: string;
  lon0: number;
  lat0: number;
  /** last valid position of the open trip */
  lon: number;
  lat: number;
  /** metres travelled so far */
  m: number;
  vids: string[];
  vn: number;
}

export interface TripStart {
  id: string;
  vehicle: string;
  firm: string;
  /** permit the trip runs under ('' when the vehicle had no valid permit) */
  permit: string;
  originSite: string;
  originVersion: number;
  startTs: number;
  startPos: Position;
  loadTrigger: string;
}

export interface Trip extends TripStart {
  /** disposal site containing the unloading fix, '' when none */
  disposalSite: string;
  endTs: number;
  durationMs: number;
  distanceKm: number;
  endPos: Position;
  unloadTrigger: string;
  compliant: boolean;
  violationCount: number;
  violations: string[];
}

/**
 * `withdrawn`: a re-judging with late fixes (geofence/backfill.ts) found the trip did not happen as
 * published (its loading or unloading was elsewhere in time): kept, never counted. Events of a
 * re-judging carry `rejudged` (see types.ts Rejudged): stores apply them even where `completed` would
 * otherwise never be replaced.
 */
export type TripEvent = (
  | { kind: 'started'; trip: TripStart }
  | { kind: 'completed'; trip: Trip }
  | { kind: 'withdrawn'; trip: TripStart | Trip }
) & { rejudged?: Rejudged };

/** What a step reads: a subset of the rule context (the engine's facts of the fix, its transition among them). */
export interface TripInput {
  fix: Fix;
  facts: Pick<FixFacts, 'sites' | 'validPermits' | 'coveringPermit' | 'load'>;
  thresholds: Thresholds;
  /** the sites at a position (a transition's onset before this fix); without it, the fix's own sites */
  sitesAt?: (pos: Position) => readonly Site[];
}

export function initialTrips(): TripState {
  return {
    pts: -1,
    ts0: -1,
    origin: '',
    originV: 0,
    permit: '',
    ltrig: '',
    lon0: 0,
    lat0: 0,
    lon: 0,
    lat: 0,
    m: 0,
    vids: [],
    vn: 0,
  };
}

/**
 * The input of one judged fix: the fix and the facts the engine returned with it (`EngineResult.judged`
 * and `EngineResult.facts`, same index), with the thresholds the engine applied to it.
 */
export function tripInput(fix: Fix, facts: TripInput['facts'], world: World): TripInput {
  return {
    fix,
    facts,
    thresholds: world.thresholds(facts.coveringPermit ?? facts.validPermits[0]),
    sitesAt: (p) => world.sitesAt(p),
  };
}

const M_PER_DEG = (Math.PI / 180) * 6_371_008.8;

/** Planar (equirectangular) distance in metres; fine for the few hundred metres between fixes. */
export function planarMetres(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const kx = M_PER_DEG * Math.cos((((lat1 + lat2) / 2) * Math.PI) / 180);
  const dx = (lon2 - lon1) * kx;
  const dy = (lat2 - lat1) * M_PER_DEG;
  return Math.sqrt(dx * dx + dy * dy);
}

function permitFor(input: TripInput, origin: string): Permit | undefined {
  const { validPermits, coveringPermit } = input.facts;
  if (coveringPermit?.origins.includes(origin)) return coveringPermit;
  return validPermits.find((p) => p.origins.includes(origin)) ?? coveringPermit ?? validPermits[0];
}

function sitesAtOnset(input: TripInput, event: LoadEvent): readonly Site[] {
  if (event.ts === input.fix.ts || input.sitesAt === undefined) return input.facts.sites;
  return input.sitesAt([event.lon, event.lat]);
}

function tripId(vehicle: string, startTs: number): string {
  return `${vehicle}:trip:${startTs}`;
}

function startOf(s: TripState, fix: Fix): TripStart {
  return {
    id: tripId(fix.vehicle, s.ts0),
    vehicle: fix.vehicle,
    firm: fix.firm,
    permit: s.permit,
    originSite: s.origin,
    originVersion: s.originV,
    startTs: s.ts0,
    startPos: [s.lon0, s.lat0],
    loadTrigger: s.ltrig,
  };
}

/** Records the violation events of this fix into an open trip (see the header for the overlap rule). */
function note(s: TripState, violations: readonly ViolationEvent[]): void {
  for (const e of violations) {
    const v = e.violation;
    if (e.phase === 'closed' && v.startTs < s.ts0 && (v.endTs ?? 0) <= s.ts0) continue;
    if (s.vids.includes(v.id)) continue;
    if (s.vids.length < MAX_TRIP_VIOLATION_IDS) {
      s.vids = [...s.vids, v.id];
      s.vn += 1;
    } else if (e.phase === 'opened') {
      s.vn += 1;
    }
  }
}

export function stepTrips(
  state: TripState,
  input: TripInput,
  violations: readonly ViolationEvent[] = [],
): { state: TripState; events: TripEvent[] } {
  const { fix } = input;
  if (state.pts >= 0 && fix.ts <= state.pts) return { state, events: [] };
  // the transition the engine's load detector confirmed at this fix
  const event = input.facts.load;
  const s: TripState = { ...state, pts: fix.ts };
  const events: TripEvent[] = [];

  if (s.ts0 >= 0) {
    if (fix.valid) {
      // parked GNSS drift is not travel: only legs ending in a moving fix count
      if ((fix.speed ?? 0) >= input.thresholds.suspectedDumpSpeedKmh) {
        s.m += planarMetres(s.lon, s.lat, fix.lon, fix.lat);
      }
      s.lon = fix.lon;
      s.lat = fix.lat;
    }
    note(s, violations);
    if (event?.kind === 'unloading') {
      const disposal = sitesAtOnset(input, event).find((x: Site) => x.kind === 'disposal');
      const endTs = Math.max(event.ts, s.ts0);
      const trip: Trip = {
        ...startOf(s, fix),
        disposalSite: disposal?.id ?? '',
        endTs,
        durationMs: endTs - s.ts0,
        distanceKm: Math.round(s.m) / 1000,
        endPos: [event.lon, event.lat],
        unloadTrigger: event.trigger,
        compliant: s.vn === 0,
        violationCount: s.vn,
        violations: s.vids,
      };
      events.push({ kind: 'completed', trip });
      return {
        state: { ...s, ts0: -1, origin: '', originV: 0, permit: '', ltrig: '', m: 0, vids: [], vn: 0 },
        events,
      };
    }
    return { state: s, events };
  }

  if (event?.kind === 'loading' && event.valid) {
    const origin = sitesAtOnset(input, event).find((x) => x.kind === 'origin');
    if (origin) {
      s.ts0 = event.ts;
      s.origin = origin.id;
      s.originV = origin.version;
      s.permit = permitFor(input, origin.id)?.id ?? '';
      s.ltrig = event.trigger;
      s.lon0 = event.lon;
      s.lat0 = event.lat;
      s.lon = fix.valid ? fix.lon : event.lon;
      s.lat = fix.valid ? fix.lat : event.lat;
      s.m = 0;
      s.vids = [];
      s.vn = 0;
      note(s, violations);
      events.push({ kind: 'started', trip: startOf(s, fix) });
    }
  }
  return { state: s, events };
}
