import { inLocalWindows } from '../calendar.ts';
import type { EntityRef, Position, Route, Thresholds, Zone } from '../model.ts';
import { thresholds } from '../thresholds/overspeed.ts';
import type { RuleContext, RuleModule, Violation } from '../types.ts';
import { baseRefs, close, NO_EVENTS, open, quietResult, unchanged, update } from './lifecycle.ts';
import { round1 } from './off-hours.ts';
import { levelFor } from './off-route.ts';

/**
 * OVERSPEED (超速): faster than the lowest limit that applies to the fix, for >= overspeedMinMs
 * (domain.md: > limit for >= 10 s; graded by 20 % / 50 % over and by duration 5 / 10 min). Every unit
 * kind except body cameras.
 *
 * Limits that apply (the minimum wins):
 * - the vehicle's permitted routes (covering or valid permit), when the fix is within that route's
 *   corridor + max(accuracyFloorM, fix.accuracy): the `limits` stretches covering the matched segment
 *   (segment i runs from vertex i to i+1, covered when from <= i and i+1 <= to); during
 *   `thresholds.nightWindows` (China Standard Time, fixed +8 h) the stretch's nightLimitKmh, falling back
 *   to its day limit;
 * - speed zones the fix is in (`facts.zones`, kind 'speed', with a limit), during their windows (empty
 *   list = all day), when `appliesTo` (default muck trucks) includes the fix's unit kind;
 * - the city default for the unit kind (`defaultSpeedLimitKmh`, inside `nightWindows` the
 *   `defaultNightSpeedLimitKmh`, falling back to the day one), everywhere: a route stretch or zone limit
 *   binds only where it is stricter (domain.md, issue 10 item 9: a truck off every route and zone is
 *   judged too).
 * No applicable limit: nothing to judge (an open violation closes).
 *
 * Lifecycle: a run starts at the first fix over its limit (startTs) and opens at a fix still over the
 * limit >= overspeedMinMs later; it closes at the first fix at or under the limit (endTs = that fix).
 * details: limitKmh (the limit at the worst fix) and limitSource (route | zone | default: whose limit it
 * was), maxSpeedKmh, overPct (worst fraction over, %), grade
 * (0, 1 at >= overspeedGrades[0] over, 2 at >= overspeedGrades[1], by the worst fix); level rises at
 * overspeedEscalationMs since start. `updated` events on a grade or level change only; the closed event
 * carries the final maxima. refs: permit, thresholds, and each route / zone (with version) whose limit
 * was the binding one at some judged fix (bounded). A fix with `valid: false` or no speed is not judged.
 */

export interface OverspeedState {
  /** first over-limit fix of the pending run; -1 when none */
  runTs: number;
  runLon: number;
  runLat: number;
  runMaxKmh: number;
  /** worst (speed - limit) / limit of the run, and the limit at that fix */
  runWorst: number;
  runWorstLimit: number;
  /** whose limit bound at that fix: 'route', 'zone' or 'default' ('' before the first) */
  runWorstSource: LimitSource | '';
  open: Violation | undefined;
}

export type LimitSource = 'route' | 'zone' | 'default';

/** The slice of every vehicle with no run and nothing open (shared: most vehicles, most of the time). */
const IDLE: OverspeedState = Object.freeze({
  runTs: -1,
  runLon: 0,
  runLat: 0,
  runMaxKmh: 0,
  runWorst: 0,
  runWorstLimit: 0,
  runWorstSource: '',
  open: undefined,
});
const QUIET = quietResult(IDLE);

const MAX_REFS = 8;

const DEFAULT_APPLIES_TO: readonly string[] = ['muck_truck'];

function zoneApplies(z: Zone, kind: string): boolean {
  return (z.appliesTo ?? DEFAULT_APPLIES_TO).includes(kind as 'muck_truck');
}

/** The entity whose limit binds, as a reference (built only when a violation needs it). */
function limitRef(route: Route | undefined, zone: Zone | undefined): EntityRef | undefined {
  if (zone !== undefined) return { kind: 'zone', id: zone.id, version: zone.version };
  if (route !== undefined) return { kind: 'route', id: route.id, version: route.version };
  return undefined;
}

function gradeFor(over: number, grades: readonly number[]): number {
  let g = 0;
  for (const step of grades) if (over >= step - 1e-9) g++;
  return g;
}

function overspeedThresholds(th: Thresholds, night: boolean, source: LimitSource): Partial<Thresholds> {
  return {
    accuracyFloorM: th.accuracyFloorM,
    overspeedMinMs: th.overspeedMinMs,
    overspeedGrades: th.overspeedGrades,
    overspeedEscalationMs: th.overspeedEscalationMs,
    ...(night ? { nightWindows: th.nightWindows } : {}),
    ...(source === 'default'
      ? night
        ? { defaultNightSpeedLimitKmh: th.defaultNightSpeedLimitKmh }
        : { defaultSpeedLimitKmh: th.defaultSpeedLimitKmh }
      : {}),
  };
}

function withRef(refs: EntityRef[], ref: EntityRef | undefined): EntityRef[] {
  if (ref === undefined || refs.length >= MAX_REFS) return refs;
  if (refs.some((r) => r.kind === ref.kind && r.id === ref.id && r.version === ref.version)) return refs;
  return [...refs, ref];
}

/** 2: the city default limits (version 1 judged only route stretch and zone limits). */
const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const overspeed: RuleModule<OverspeedState> = {
  code: 'OVERSPEED',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx: RuleContext) {
    const { fix, facts, thresholds: th } = ctx;
    // no speed reading: not judged (it must neither end nor split a run)
    if (fix.kind === 'body_camera' || !fix.valid || fix.speed === undefined) {
      return unchanged(state, QUIET);
    }

    // the binding limit: the lowest; on a tie the first found (routes in permit order, then zones).
    // Kept as scalars, not objects: this runs on every fix.
    let hasLimit = false;
    let limitKmh = 0;
    let limitRoute: Route | undefined;
    let limitZone: Zone | undefined;
    let limitNight = false;
    let nightChecked = false;
    let night = false;
    const margin = Math.max(th.accuracyFloorM, fix.accuracy ?? 0);
    // the engine core matched the fix against the routes of the permit once (facts.ts)
    for (const { route, match } of facts.routes) {
      if (route.limits.length === 0 || match.distanceM > route.corridorM + margin) continue;
      const seg = match.segmentIndex;
      for (const l of route.limits) {
        if (seg < l.from || seg + 1 > l.to) continue;
        if (!nightChecked) {
          night = inLocalWindows(th.nightWindows, fix.ts);
          nightChecked = true;
        }
        const kmh = night ? (l.nightLimitKmh ?? l.speedLimitKmh) : l.speedLimitKmh;
        if (kmh !== undefined && (!hasLimit || kmh < limitKmh)) {
          hasLimit = true;
          limitKmh = kmh;
          limitRoute = route;
          limitNight = night;
        }
      }
    }
    for (const z of facts.zones) {
      if (z.kind !== 'speed' || z.speedLimitKmh === undefined || !zoneApplies(z, fix.kind)) continue;
      if (z.windows.length > 0 && !inLocalWindows(z.windows, fix.ts)) continue;
      if (!hasLimit || z.speedLimitKmh < limitKmh) {
        hasLimit = true;
        limitKmh = z.speedLimitKmh;
        limitRoute = undefined;
        limitZone = z;
        limitNight = false;
      }
    }
    // the city default for the kind; the night is asked only when it has a night limit of its own
    let limitDefault = false;
    const dayDefault = th.defaultSpeedLimitKmh?.[fix.kind as 'muck_truck'];
    const nightDefault = th.defaultNightSpeedLimitKmh?.[fix.kind as 'muck_truck'];
    if (dayDefault !== undefined || nightDefault !== undefined) {
      if (!nightChecked && nightDefault !== undefined && nightDefault !== dayDefault) {
        night = inLocalWindows(th.nightWindows, fix.ts);
        nightChecked = true;
      }
      const kmh = night && nightDefault !== undefined ? nightDefault : dayDefault;
      if (kmh !== undefined && (!hasLimit || kmh < limitKmh)) {
        hasLimit = true;
        limitKmh = kmh;
        limitRoute = undefined;
        limitZone = undefined;
        limitNight = night && nightDefault !== undefined;
        limitDefault = true;
      }
    }

    const speed = fix.speed;
    const over = hasLimit && speed > limitKmh;
    const base = state;
    if (!over) {
      if (state.open) return { state: IDLE, events: [close(state.open, fix.ts)] };
      return state.runTs >= 0 ? QUIET : unchanged(state, QUIET);
    }
    const pos: Position = [fix.lon, fix.lat];
    const source: LimitSource = limitDefault ? 'default' : limitZone !== undefined ? 'zone' : 'route';
    const lim = { kmh: limitKmh, ref: limitRef(limitRoute, limitZone), night: limitNight, source };
    const kmh = speed;
    const worst = (kmh - lim.kmh) / lim.kmh;

    const v = state.open;
    if (v === undefined) {
      const fresh = state.runTs < 0;
      const runTs = fresh ? fix.ts : state.runTs;
      const runLon = fresh ? fix.lon : state.runLon;
      const runLat = fresh ? fix.lat : state.runLat;
      const runMaxKmh = Math.max(fresh ? 0 : state.runMaxKmh, kmh);
      const better = fresh || worst > state.runWorst;
      const runWorst = better ? worst : state.runWorst;
      const runWorstLimit = better ? lim.kmh : state.runWorstLimit;
      const runWorstSource = better ? lim.source : state.runWorstSource;
      if (fix.ts - runTs >= th.overspeedMinMs) {
        const o = open(ctx, {
          code: 'OVERSPEED',
          ruleVersion: RULE_VERSION,
          startTs: runTs,
          startPos: [runLon, runLat],
          refs: withRef(baseRefs(ctx), lim.ref),
          thresholds: overspeedThresholds(th, lim.night, lim.source),
          level: levelFor(fix.ts - runTs, th.overspeedEscalationMs),
          details: {
            limitKmh: runWorstLimit,
            limitSource: runWorstSource || lim.source,
            maxSpeedKmh: round1(runMaxKmh),
            overPct: round1(runWorst * 100),
            grade: gradeFor(runWorst, th.overspeedGrades),
          },
        });
        return { state: { ...IDLE, open: o.violation }, events: [o.event] };
      }
      return {
        state: { ...base, runTs, runLon, runLat, runMaxKmh, runWorst, runWorstLimit, runWorstSource },
        events: NO_EVENTS,
      };
    }

    // open: keep the maxima, report grade / level changes
    const pct = round1(worst * 100);
    const details: Violation['details'] = {
      maxSpeedKmh: Math.max(Number(v.details.maxSpeedKmh ?? 0), round1(kmh)),
      ...(pct > Number(v.details.overPct ?? 0)
        ? { limitKmh: lim.kmh, limitSource: lim.source, overPct: pct }
        : {}),
    };
    const grade = Math.max(Number(v.details.grade ?? 0), gradeFor(worst, th.overspeedGrades));
    details.grade = grade;
    const level = Math.max(v.level, levelFor(fix.ts - v.startTs, th.overspeedEscalationMs));
    const refs = withRef(v.refs, lim.ref);
    const missing =
      (lim.night && v.thresholds.nightWindows === undefined) ||
      (lim.source === 'default' &&
        (lim.night ? v.thresholds.defaultNightSpeedLimitKmh : v.thresholds.defaultSpeedLimitKmh) ===
          undefined);
    const thresholds = missing
      ? { ...v.thresholds, ...overspeedThresholds(th, lim.night, lim.source) }
      : v.thresholds;
    const withMeta: Violation =
      refs === v.refs && thresholds === v.thresholds ? v : { ...v, refs, thresholds };
    if (grade !== v.details.grade || level !== v.level) {
      const u = update(withMeta, { level, lastPos: pos, details });
      return { state: { ...base, open: u.violation }, events: [u.event] };
    }
    const silent: Violation = { ...withMeta, lastPos: pos, details: { ...v.details, ...details } };
    return { state: { ...base, open: silent }, events: NO_EVENTS };
  },
};
