/**
 * The load detector's per-vehicle state (load-events.ts): plain numbers, so that the engine keeps it in
 * the vehicle state as JSON and reuses one working copy (`copyTrack`) instead of making an object at
 * every fix (`sameTrack` tells whether a step changed anything).
 */

export interface LoadTrack {
  /** cargo latch, the confirmed load: -1 before the first fix, 0 empty, 1 loaded */
  lc: number;
  /** onset of the latch's current value (the transition's onset, or the raw reading's), -1 unknown */
  lt: number;
  /** highest weight (t) in the current stopped run (from the last moving fix's), -1 none or moving */
  lhi: number;
  /** lowest weight (t) in the current stopped run, -1 none or moving */
  llo: number;
  /** the raw cargo reading of the last fix that had one (-1 none yet, 0, 1), since when, and 1 when a run of the other reading came before */
  cv: number;
  ct: number;
  cp: number;
  /** pending transition: 0 none, 1 loading, 2 unloading; its trigger: 0 load state, 1 weight */
  pk: number;
  ptr: number;
  /** its onset: instant, position, position valid (1/0) */
  pt: number;
  plon: number;
  plat: number;
  pv: number;
  /** the weight it is judged against (the stopped run's low for a loading, high for an unloading), -1 none */
  pref: number;
  /** weight loss on the road: the weight at the first fix of the moving run that began loaded (-1 none) */
  wr: number;
  /** its onset (-1 none) and position, the largest drop so far (t), confirmed (1/0) */
  wt: number;
  wlon: number;
  wlat: number;
  wd: number;
  wc: number;
  /** sensor glitches counted (load state and weight changes that returned before they were confirmed) */
  gl: number;
}

export const LOAD_TRACK_INITIAL: Readonly<LoadTrack> = Object.freeze({
  lc: -1,
  lt: -1,
  lhi: -1,
  llo: -1,
  cv: -1,
  ct: -1,
  cp: 0,
  pk: 0,
  ptr: 0,
  pt: -1,
  plon: 0,
  plat: 0,
  pv: 1,
  pref: -1,
  wr: -1,
  wt: -1,
  wlon: 0,
  wlat: 0,
  wd: 0,
  wc: 0,
  gl: 0,
});

/** Copies every field of `a` into `b` (the detector's working space) and returns `b`. */
export function copyTrack(a: LoadTrack, b: LoadTrack): LoadTrack {
  b.lc = a.lc;
  b.lt = a.lt;
  b.lhi = a.lhi;
  b.llo = a.llo;
  b.cv = a.cv;
  b.ct = a.ct;
  b.cp = a.cp;
  b.pk = a.pk;
  b.ptr = a.ptr;
  b.pt = a.pt;
  b.plon = a.plon;
  b.plat = a.plat;
  b.pv = a.pv;
  b.pref = a.pref;
  b.wr = a.wr;
  b.wt = a.wt;
  b.wlon = a.wlon;
  b.wlat = a.wlat;
  b.wd = a.wd;
  b.wc = a.wc;
  b.gl = a.gl;
  return b;
}

export function sameTrack(a: LoadTrack, b: LoadTrack): boolean {
  return (
    a.lc === b.lc &&
    a.lt === b.lt &&
    a.lhi === b.lhi &&
    a.llo === b.llo &&
    a.cv === b.cv &&
    a.ct === b.ct &&
    a.cp === b.cp &&
    a.pk === b.pk &&
    a.ptr === b.ptr &&
    a.pt === b.pt &&
    a.plon === b.plon &&
    a.plat === b.plat &&
    a.pv === b.pv &&
    a.pref === b.pref &&
    a.wr === b.wr &&
    a.wt === b.wt &&
    a.wlon === b.wlon &&
    a.wlat === b.wlat &&
    a.wd === b.wd &&
    a.wc === b.wc &&
    a.gl === b.gl
  );
}

/** Weights are compared and reported to 0.01 t (the sensors' resolution). */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
