import type { Fix } from '../../ingest/fix.ts';
import type { EntityRef, Permit, Site, Thresholds } from '../model.ts';
import type { RuleContext } from '../types.ts';
import { baseRefs } from './lifecycle.ts';

/**
 * Loading and unloading transitions (domain.md, 两点一线 and the ILLEGAL_DUMP row), detected in ONE
 * place so that NO_PERMIT, ILLEGAL_DUMP, WRONG_SITE and the trip tracker agree on when a truck loaded or
 * unloaded. Pure: the caller keeps the small `LoadTrack` (three numbers) flat inside its own state and
 * passes it back with the next fix; the same fixes give the same transitions in every caller. The engine
 * core runs it once per fix for the three rules (`facts.load`, the numbers in the vehicle state); the trip
 * tracker runs its own.
 *
 * Signals, per in-order fix, comparing with the previous in-order fix (`ctx.prev`):
 * - loading:   load empty -> half|full, or (stopped) the weight rose by more than `dumpWeightDropT` above
 *              the lowest weight of the current stopped run.
 * - unloading: lift down -> up, or load half|full -> empty, or (stopped) the weight fell by more than
 *              `dumpWeightDropT` below the highest weight of the current stopped run.
 * "Stopped" is speed < `suspectedDumpSpeedKmh` (3 km/h by default); a fix without speed counts as stopped.
 * A stopped run's weight reference starts at the weight of the last moving fix, so a drop between the
 * last moving fix and the first stopped one counts too.
 *
 * De-duplication: a cargo latch. Unloading is reported only while the latch says loaded and sets it to
 * empty; loading only while it says empty and sets it to loaded. So one dump that shows as lift up, then
 * load full->empty, then a falling weight is ONE unloading (the first signal names the trigger). The latch
 * starts from the first fix (`hasCargo`), and re-arms to loaded WITHOUT an event when the truck moves
 * (not stopped, lift not up) still carrying cargo: a partial dump followed by a second dump elsewhere is
 * two unloadings. Known limit: a top-up loading of a truck already latched loaded is not reported.
 */

export interface LoadTrack {
  /** cargo latch: -1 before the first fix, 0 empty, 1 loaded */
  lc: number;
  /** highest weight (t) in the current stopped run, -1 unknown */
  lhi: number;
  /** lowest weight (t) in the current stopped run, -1 unknown */
  llo: number;
}

export const LOAD_TRACK_INITIAL: Readonly<LoadTrack> = Object.freeze({ lc: -1, lhi: -1, llo: -1 });

export type LoadTrigger = 'lift' | 'load' | 'weight';

export interface LoadEvent {
  kind: 'loading' | 'unloading';
  trigger: LoadTrigger;
  /** weight change over the stopped run so far (t, >= 0, 2 decimals); 0 without a weight reading */
  weightChangeT: number;
}

/** Cargo on board for the latch: load state when reported, else weight above `dumpWeightDropT`. */
export function hasCargo(fix: Fix, t: Pick<Thresholds, 'dumpWeightDropT'>): boolean {
  if (fix.load !== undefined) return fix.load !== 'empty';
  return fix.weight !== undefined && fix.weight > t.dumpWeightDropT;
}

/** The thresholds the detection applies, recorded in every violation that rests on a transition. */
export function loadThresholds(t: Thresholds): Partial<Thresholds> {
  return { dumpWeightDropT: t.dumpWeightDropT, suspectedDumpSpeedKmh: t.suspectedDumpSpeedKmh };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * One fix through the detector. `track` is read from the caller's slice (any object with the three
 * fields); the returned track holds those fields, for the caller to spread back into its slice. It is
 * `track` itself when nothing happened and nothing changed, so a caller can keep its slice object.
 */
export function stepLoad(
  track: LoadTrack,
  fix: Fix,
  prev: Pick<Fix, 'lift' | 'load'> | undefined,
  t: Thresholds,
): { track: LoadTrack; event: LoadEvent | null } {
  const out: LoadTrack = { lc: 0, lhi: 0, llo: 0 };
  const event = stepLoadInto(track, fix, prev, t, out);
  const same = event === null && out.lc === track.lc && out.lhi === track.lhi && out.llo === track.llo;
  return { track: same ? track : out, event };
}

/**
 * `stepLoad` writing the new tracker fields into `out` (may be `track` itself): the engine core keeps
 * them in the vehicle state and calls this on every fix, without a result object.
 */
export function stepLoadInto(
  track: LoadTrack,
  fix: Fix,
  prev: Pick<Fix, 'lift' | 'load'> | undefined,
  t: Thresholds,
  out: LoadTrack,
): LoadEvent | null {
  const w = fix.weight ?? -1;
  const stopped = (fix.speed ?? 0) < t.suspectedDumpSpeedKmh;
  let hi: number;
  let lo: number;
  if (!stopped) {
    hi = w;
    lo = w;
  } else if (w < 0) {
    hi = track.lhi;
    lo = track.llo;
  } else {
    hi = track.lhi < 0 ? w : Math.max(track.lhi, w);
    lo = track.llo < 0 ? w : Math.min(track.llo, w);
  }

  if (track.lc < 0 || prev === undefined) {
    out.lc = hasCargo(fix, t) ? 1 : 0;
    out.lhi = hi;
    out.llo = lo;
    return null;
  }

  if (track.lc === 1) {
    let trigger: LoadTrigger | null = null;
    if (prev.lift === 'down' && fix.lift === 'up') trigger = 'lift';
    else if (prev.load !== undefined && prev.load !== 'empty' && fix.load === 'empty') trigger = 'load';
    else if (stopped && w >= 0 && hi >= 0 && hi - w > t.dumpWeightDropT) trigger = 'weight';
    if (trigger === null) {
      out.lc = 1;
      out.lhi = hi;
      out.llo = lo;
      return null;
    }
    const weightChangeT = w >= 0 && hi >= 0 ? round2(hi - w) : 0;
    out.lc = 0;
    out.lhi = w;
    out.llo = w;
    return { kind: 'unloading', trigger, weightChangeT };
  }

  let trigger: LoadTrigger | null = null;
  if (prev.load === 'empty' && fix.load !== undefined && fix.load !== 'empty') trigger = 'load';
  else if (stopped && w >= 0 && lo >= 0 && w - lo > t.dumpWeightDropT) trigger = 'weight';
  if (trigger !== null) {
    const weightChangeT = w >= 0 && lo >= 0 ? round2(w - lo) : 0;
    out.lc = 1;
    out.lhi = w;
    out.llo = w;
    return { kind: 'loading', trigger, weightChangeT };
  }
  const rearm = !stopped && fix.lift !== 'up' && hasCargo(fix, t);
  out.lc = rearm ? 1 : 0;
  out.lhi = hi;
  out.llo = lo;
  return null;
}

// ---- shared helpers of the load-driven rules (references, site lookups) ----

export function siteRef(site: Pick<Site, 'id' | 'version'>): EntityRef {
  return { kind: 'site', id: site.id, version: site.version };
}

/**
 * The base references (city thresholds, permit in force) plus every other permit the judgement used and
 * the sites involved, each once, in a stable order.
 */
export function refsWith(
  ctx: Pick<RuleContext, 'facts' | 'world'>,
  permits: readonly Permit[],
  sites: readonly Pick<Site, 'id' | 'version'>[],
): EntityRef[] {
  const refs = baseRefs(ctx);
  const seen = new Set(refs.map((r) => `${r.kind}:${r.id}`));
  const add = (r: EntityRef) => {
    const key = `${r.kind}:${r.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    refs.push(r);
  };
  for (const p of permits) add({ kind: 'permit', id: p.id, version: p.version });
  for (const s of sites) add(siteRef(s));
  return refs;
}

/** Site ids named by the permits for one role, deduplicated, in permit order. */
export function namedSites(permits: readonly Permit[], role: 'origins' | 'disposals'): string[] {
  const out: string[] = [];
  for (const p of permits) for (const id of p[role]) if (!out.includes(id)) out.push(id);
  return out;
}

/**
 * Whether the position is within the GNSS accuracy floor of (or inside) one of the given sites: the
 * benefit of the doubt for a fix next to a boundary. Returns the nearest such site id and distance.
 */
export function nearestSite(
  ctx: Pick<RuleContext, 'world' | 'facts'>,
  siteIds: readonly string[],
): { id: string; distanceM: number } | null {
  let best: { id: string; distanceM: number } | null = null;
  for (const id of siteIds) {
    const d = ctx.world.siteBoundaryDistance(id, ctx.facts.pos);
    if (!Number.isFinite(d)) continue;
    if (best === null || d < best.distanceM) best = { id, distanceM: d };
  }
  return best;
}
