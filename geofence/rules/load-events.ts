import type { Fix } from '../../core/fix.ts';
import type { Thresholds } from '../model.ts';
import type { LoadEvent, WeightLoss } from '../types.ts';
import { verdict } from './confirm.ts';
import { copyTrack, LOAD_TRACK_INITIAL, type LoadTrack, round2, sameTrack } from './load-track.ts';
import { stepWeightLoss } from './weight-loss.ts';

/**
 * Loading and unloading transitions, the confirmed load and the confirmed weight loss on the road
 * (domain.md: 两点一线, the ILLEGAL_DUMP and SPILLAGE rows, "Sensors glitch"), detected in ONE place so
 * that NO_PERMIT, ILLEGAL_DUMP, WRONG_SITE, SPILLAGE, every rule reading `facts.loaded`, and the trip
 * tracker agree on when a truck loaded, unloaded or lost load. Pure: the caller keeps the small
 * `LoadTrack` (plain numbers) in its own state and passes it back with the next fix; the same fixes give
 * the same answers in every caller. The engine core runs it once per judged fix (`facts.load`,
 * `facts.loaded`, `facts.weightLoss`, the track in the vehicle state) and returns those facts with each
 * judged fix (engine.ts `EngineResult.facts`): the trip tracker (trips.ts) reads the engine's verdict
 * there and does not run a detector of its own.
 *
 * Every sensor change is confirmed before it counts (confirm.ts: it persists `sensorConfirmMs`, or
 * another signal corroborates it; a reading that returns sooner is a glitch, counted in `gl`, never
 * judged). Transitions, per in-order fix, against the previous one (`prev`) and the current stopped run
 * ("stopped": speed < `suspectedDumpSpeedKmh`, 3 km/h; a fix without speed counts as stopped; a stopped
 * run's weight extremes start at the weight of the last moving fix):
 * - loading (latch empty): the load state turns from empty to half|full (any speed), or, stopped, the
 *   weight rises more than `dumpWeightDropT` above the run's lowest; confirmed by persistence, or when
 *   the other of the two signals agrees (the weight rise beyond the threshold, the load state not empty);
 * - unloading (latch loaded): lift down -> up, at once (the lift is itself the corroboration; domain.md:
 *   "lift up, moving or not"); or, STOPPED, the load state turns from half|full to empty, or the weight
 *   falls more than `dumpWeightDropT` below the run's highest; confirmed by persistence, or by lift up,
 *   or by the other signal. A load state flickering to empty while the truck drives is never an
 *   unloading (domain.md: "while stopped"); it is a glitch when it returns within the confirmation time.
 * A confirmed transition carries its ONSET (the first fix that showed it: instant, position, validity),
 * which is what a violation or a trip resting on it records. For the weight signals "back" means within
 * half the threshold of the reference (the stopped run's extreme at the onset), so that a slow change
 * hovering at the threshold does not count as a glitch at every other fix.
 *
 * De-duplication: the cargo latch `lc` (the confirmed load, `facts.loaded`). Unloading is looked for
 * only while it says loaded and sets it to empty; loading only while it says empty. One dump that shows
 * as lift up, then load full->empty, then a falling weight is ONE unloading (the first signal names the
 * trigger). The latch starts from the first fix, and follows the raw reading (load state, else weight
 * above `dumpWeightDropT`) without an event once that reading has persisted `sensorConfirmMs` with no
 * transition pending: to loaded while moving with the lift down (a partial dump followed by a second
 * dump elsewhere is two unloadings), to empty at any speed. Known limit: a top-up loading of a truck
 * already latched loaded is not reported.
 *
 * Weight loss on the road (SPILLAGE, `weightLoss`): weight-loss.ts, run at every fix after the transitions.
 *
 * Split by job: the state (load-track.ts), the transitions (here), the weight loss on the road
 * (weight-loss.ts), and what the load-driven rules share around the verdicts (load-refs.ts).
 */

// The load detector's outputs are engine contract types (FixFacts carries them): declared in types.ts.
export type { LoadEvent, LoadTrigger, WeightLoss } from '../types.ts';
export { LOAD_TRACK_INITIAL, type LoadTrack } from './load-track.ts';

/** The raw cargo reading of a fix: 1 loaded, 0 empty, -1 no reading (neither load state nor weight). */
function cargoReading(fix: Fix, t: Pick<Thresholds, 'dumpWeightDropT'>): number {
  if (fix.load !== undefined) return fix.load !== 'empty' ? 1 : 0;
  if (fix.weight !== undefined) return fix.weight > t.dumpWeightDropT ? 1 : 0;
  return -1;
}

export interface LoadStep {
  /** the new track: the input object itself when nothing changed */
  track: LoadTrack;
  event: LoadEvent | null;
  weightLoss: WeightLoss | null;
}

const NOTHING = { event: null, weightLoss: null };

/**
 * One fix through the detector. `prev` is the previous in-order fix (its lift and load state). Returns
 * the track to keep (`track` itself when nothing changed, so a caller can keep its state object), the
 * confirmed transition of this fix and the confirmed weight loss in force at it.
 */
export function stepLoad(
  track: LoadTrack,
  fix: Fix,
  prev: Pick<Fix, 'lift' | 'load' | 'speed' | 'weight'> | undefined,
  t: Thresholds,
  /** working space the caller owns (the engine keeps one): no object is made when nothing changes */
  scratch?: LoadTrack,
): LoadStep {
  const o = copyTrack(track, scratch ?? { ...LOAD_TRACK_INITIAL });
  const r = stepInto(o, fix, prev, t);
  const same = sameTrack(o, track);
  const next = same ? track : scratch === undefined ? o : copyTrack(o, { ...LOAD_TRACK_INITIAL });
  if (same && r === NOTHING) return { track, event: null, weightLoss: null };
  return { track: next, event: r.event, weightLoss: r.weightLoss };
}

function stepInto(
  o: LoadTrack,
  fix: Fix,
  prev: Pick<Fix, 'lift' | 'load' | 'speed' | 'weight'> | undefined,
  t: Thresholds,
): { event: LoadEvent | null; weightLoss: WeightLoss | null } {
  const w = fix.weight ?? -1;
  const stopped = (fix.speed ?? 0) < t.suspectedDumpSpeedKmh;
  const confirmMs = t.sensorConfirmMs;
  const drop = t.dumpWeightDropT;
  // the weight extremes of the stopped run, from the weight of the last moving fix (kept only while
  // stopped, so that a moving truck's track does not change with every weight reading)
  if (!stopped) {
    o.lhi = -1;
    o.llo = -1;
  } else if (w >= 0) {
    if (o.lhi < 0) {
      const pw = prev?.weight ?? -1;
      const base = pw >= 0 && (prev?.speed ?? 0) >= t.suspectedDumpSpeedKmh ? pw : w;
      o.lhi = Math.max(base, w);
      o.llo = Math.min(base, w);
    } else {
      o.lhi = Math.max(o.lhi, w);
      o.llo = Math.min(o.llo, w);
    }
  }
  const c = cargoReading(fix, t);

  if (o.lc < 0 || prev === undefined) {
    o.lc = c === 1 ? 1 : 0;
    o.lt = fix.ts;
    if (c >= 0) {
      o.cv = c;
      o.ct = fix.ts;
      o.cp = 0;
    }
    const weightLoss = stepWeightLoss(o, fix, t);
    return weightLoss === null ? NOTHING : { event: null, weightLoss };
  }

  // the raw reading: a change that comes back before it could be confirmed is a glitch (counted below)
  let reverted = false;
  if (c >= 0) {
    if (o.cv < 0) {
      o.cv = c;
      o.ct = fix.ts;
    } else if (c !== o.cv) {
      reverted = o.cp === 1 && fix.ts - o.ct < confirmMs;
      o.cv = c;
      o.ct = fix.ts;
      o.cp = 1;
    }
  }

  let event: LoadEvent | null = null;
  let glitch = false;
  if (o.pk !== 0) {
    const j = judgePending(o, fix, w, drop, confirmMs);
    if (j === GLITCH) glitch = true;
    else event = j;
  }
  if (event === null && o.pk === 0 && !glitch) {
    if (o.lc === 1) {
      if (prev.lift === 'down' && fix.lift === 'up') {
        event = {
          kind: 'unloading',
          trigger: 'lift',
          weightChangeT: w >= 0 && o.lhi >= 0 ? round2(o.lhi - w) : 0,
          ts: fix.ts,
          lon: fix.lon,
          lat: fix.lat,
          valid: fix.valid,
        };
        o.lc = 0;
        o.lt = fix.ts;
      } else if (stopped && prev.load !== undefined && prev.load !== 'empty' && fix.load === 'empty') {
        startPending(o, fix, 2, 0, o.lhi);
      } else if (stopped && w >= 0 && o.lhi >= 0 && o.lhi - w > drop) {
        startPending(o, fix, 2, 1, o.lhi);
      }
    } else if (prev.load === 'empty' && fix.load !== undefined && fix.load !== 'empty') {
      startPending(o, fix, 1, 0, o.llo);
    } else if (stopped && w >= 0 && o.llo >= 0 && w - o.llo > drop) {
      startPending(o, fix, 1, 1, o.llo);
    }
    // a change corroborated at its first fix is confirmed at once
    if (o.pk !== 0) {
      const j = judgePending(o, fix, w, drop, confirmMs);
      if (j === GLITCH) glitch = true;
      else event = j;
    }
  }
  if (event !== null) {
    // a new stopped run of weights starts from here
    o.lhi = stopped ? w : -1;
    o.llo = stopped ? w : -1;
  } else if (o.pk === 0 && o.cv >= 0 && fix.ts - o.ct >= confirmMs) {
    // the raw reading has persisted with no transition pending: the latch follows it
    if (o.lc === 0 && o.cv === 1 && !stopped && fix.lift !== 'up') {
      o.lc = 1;
      o.lt = o.ct;
    } else if (o.lc === 1 && o.cv === 0) {
      o.lc = 0;
      o.lt = o.ct;
    }
  }
  if (glitch || reverted) o.gl += 1;

  const weightLoss = stepWeightLoss(o, fix, t);
  return event === null && weightLoss === null ? NOTHING : { event, weightLoss };
}

const GLITCH = 'glitch';

/** A transition pending from this fix (its onset): kind 1 loading, 2 unloading; trigger 0 load, 1 weight. */
function startPending(o: LoadTrack, fix: Fix, kind: number, trigger: number, ref: number): void {
  o.pk = kind;
  o.ptr = trigger;
  o.pt = fix.ts;
  o.plon = fix.lon;
  o.plat = fix.lat;
  o.pv = fix.valid ? 1 : 0;
  o.pref = ref;
}

/** The pending transition at this fix: the confirmed event, GLITCH, or null while still pending. */
function judgePending(
  o: LoadTrack,
  fix: Fix,
  w: number,
  drop: number,
  confirmMs: number,
): LoadEvent | typeof GLITCH | null {
  const loading = o.pk === 1;
  const byLoad = o.ptr === 0;
  // whether this fix still shows the change, and whether it has the reading at all
  let has: boolean;
  let still: boolean;
  if (byLoad) {
    has = fix.load !== undefined;
    still = loading ? fix.load !== 'empty' : fix.load === 'empty';
  } else {
    has = w >= 0;
    still = loading ? w - o.pref > drop / 2 : o.pref - w > drop / 2;
  }
  // the other signal
  let corroborated: boolean;
  if (loading) {
    corroborated = byLoad
      ? w >= 0 && o.pref >= 0 && w - o.pref > drop
      : fix.load !== undefined && fix.load !== 'empty';
  } else {
    corroborated =
      fix.lift === 'up' || (byLoad ? w >= 0 && o.pref >= 0 && o.pref - w > drop : fix.load === 'empty');
  }
  const v = has
    ? verdict(o.pt, fix.ts, still, corroborated, confirmMs)
    : corroborated
      ? 'confirmed'
      : 'pending';
  if (v === 'pending') return null;
  o.pk = 0;
  if (v === 'glitch') return GLITCH;
  o.lc = loading ? 1 : 0;
  o.lt = o.pt;
  return {
    kind: loading ? 'loading' : 'unloading',
    trigger: byLoad ? 'load' : 'weight',
    weightChangeT: w >= 0 && o.pref >= 0 ? round2(Math.abs(w - o.pref)) : 0,
    ts: o.pt,
    lon: o.plon,
    lat: o.plat,
    valid: o.pv === 1,
  };
}
