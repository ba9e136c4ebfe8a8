import { createHash } from 'node:crypto';
import type { Engine, VehicleState } from '../geofence/engine.ts';
import type { JudgeState } from '../geofence/judge.ts';
import { initialTrips, type TripState } from '../geofence/trips.ts';

/**
 * How the compliance shell writes the engine's per-vehicle state to disk and reads it back: plain JSON
 * (the engine's state is plain data by contract: geofence/ holds no classes, Maps or clocks in state;
 * test/compliance/restart.test.ts replays the demo scenarios through a JSON round trip after every fix
 * and checks the events are the same, so a state that stops being JSON-safe fails there, not in the field).
 *
 * The codec does not look inside the rule slices: they belong to the engine and change with it. What it
 * does is refuse states written by a different engine: the fingerprint covers the rule list (codes and
 * versions, in order) and the SHAPE of the initial states (keys, with undefined shown as null). A rule
 * added, removed, reordered, re-versioned, or a slice that gains or renames a field changes it, and the
 * saved states are then dropped rather than fed to rules that would misread them.
 */

const withUndefined = (_key: string, value: unknown): unknown => (value === undefined ? null : value);

export function engineFingerprint(engine: Pick<Engine, 'rules' | 'initial'>): string {
  const rules = engine.rules.map((r) => `${r.code}@${r.version}`).join(',');
  const shape = JSON.stringify([engine.initial(''), initialTrips()], withUndefined);
  return createHash('sha256').update(`${rules}\n${shape}`).digest('hex');
}

export function encodeState(state: VehicleState | TripState): string {
  return JSON.stringify(state);
}

export function decodeVehicleState(text: string): VehicleState {
  const state = JSON.parse(text) as VehicleState;
  // `last.acc` was the accuracy until the Fix named it `accuracy` (2026-12); the fingerprint does not
  // see it (the initial state has no `last`), so a state saved before is renamed here
  const last = state.last as (VehicleState['last'] & { acc?: number }) | undefined;
  if (last !== undefined && last !== null && last.acc !== undefined) {
    if (last.accuracy === undefined) last.accuracy = last.acc;
    delete last.acc;
  }
  return state;
}

export function decodeTripState(text: string): TripState {
  return JSON.parse(text) as TripState;
}

/** The rest of the judge's state (geofence/judge.ts): the ledger of open violations and trip, the last gap. */
export function encodeJudgeExtras(state: Pick<JudgeState, 'open' | 'trip' | 'gap'>): string | undefined {
  if (state.open.length === 0 && state.trip === undefined && state.gap === '') return undefined;
  return JSON.stringify({ open: state.open, trip: state.trip, gap: state.gap });
}

export function decodeJudgeExtras(text: string | undefined): Pick<JudgeState, 'open' | 'trip' | 'gap'> {
  if (text === undefined) return { open: [], gap: '' };
  const x = JSON.parse(text) as Partial<JudgeState>;
  return { open: x.open ?? [], ...(x.trip !== undefined ? { trip: x.trip } : {}), gap: x.gap ?? '' };
}
