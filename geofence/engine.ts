import { type Fix, UNIT_KINDS } from '../core/fix.ts';
import { matchRoutes, NO_ROUTE_HINTS, permitsInForce, type RouteHints } from './facts.ts';
import type { Position } from './model.ts';
import { screenFix } from './outliers.ts';
import { LOAD_TRACK_INITIAL, type LoadTrack, stepLoad } from './rules/load-events.ts';
import type {
  Calendar,
  FixFacts,
  LastFix,
  RouteFact,
  RuleContext,
  RuleModule,
  TickContext,
  ViolationEvent,
  World,
} from './types.ts';

export type { Calendar, LastFix } from './types.ts';

/**
 * The engine core: per vehicle, `step(state, fix, world)` returns the new state and the violation
 * events; `tick(state, vehicle, now, world)` detects silence. Pure: no I/O, no clock, no globals. The
 * rules are passed in (geofence/rules/index.ts lists them), each owning one slot of `slices`.
 *
 * Fixes are judged in the vehicle's time order. A fix at or before the last judged one (a duplicate, or
 * a late backfill) does not move the state: it is counted in `skippedLate` and stored by ingest as usual.
 * Before the rules, outliers are screened out (outliers.ts): a fix implying an implausible speed from
 * the last judged one is held back (`held`) until the next fix shows whether the track really jumped or
 * the fix was a stray; a stray is counted in `outliers` and never judged.
 *
 * Hot path (issue 3: 500,000 fixes/s on one core, under 1 KiB of state per vehicle): the facts are
 * computed once per fix (facts.ts); a rule that changes nothing returns its slice object unchanged and the
 * shared frozen NO_EVENTS, and then the slices array is shared with the previous state instead of copied.
 * States are immutable plain JSON data (the shell persists them as JSON): sharing is safe, and a state
 * read back from JSON behaves the same.
 */

export interface VehicleState {
  vehicle: string;
  /**
   * the load detector (rules/load-events.ts) behind `facts.load`, `facts.loaded` and `facts.weightLoss`,
   * with the vehicle's sensor glitch count (`load.gl`, a data-quality figure)
   */
  load: LoadTrack;
  last: LastFix | undefined;
  /** permit whose routes the hints belong to ('' none) */
  hintPermit: string;
  /** segment the last fix matched on that permit's first route (-1 unknown): where the next search starts */
  hint: number;
  /** the same for its further routes (facts.ts `RouteHints`; usually empty) */
  moreHints: readonly number[];
  /** one slot per rule, in the order of the rule list */
  slices: unknown[];
  skippedLate: number;
  /** a suspect fix held back until the next one decides whether it is an outlier (outliers.ts) */
  held: Fix | undefined;
  /** fixes found to be outliers (stored, not judged): a data-quality figure, like `load.gl` */
  outliers: number;
}

export interface TickResult {
  state: VehicleState;
  /** empty (a shared frozen array) on most fixes */
  events: readonly ViolationEvent[];
}

export interface EngineResult extends TickResult {
  /**
   * the fixes this step judged, in order: usually the fix itself; none when it was held back as a
   * suspect or skipped as late; a released suspect and the fix (the trip tracker steps the same fixes)
   */
  judged: readonly Fix[];
  /**
   * the facts of each judged fix, in the same order: what the rules read, the load detector's verdict
   * among them (`load`, `loaded`, `weightLoss`). The trip tracker (trips.ts) consumes these, so that
   * the detector runs once per fix and a trip starts and ends exactly where the rules see it.
   */
  facts: readonly FixFacts[];
  /** the fix this step found to be an outlier, if any (for the shell to mark in the track) */
  outlier?: Fix;
}

const NO_FIXES: readonly Fix[] = Object.freeze([]);
const NO_FACTS: readonly FixFacts[] = Object.freeze([]);

const NO_EVENTS: readonly ViolationEvent[] = Object.freeze([]);
const NO_ROUTES: readonly RouteFact[] = Object.freeze([]);

export function createEngine(
  // biome-ignore lint/suspicious/noExplicitAny: each rule owns its own slice type
  rules: readonly RuleModule<any>[],
  calendar: Calendar,
) {
  const permitsAt = permitsInForce(calendar);
  // hints in and out of the route matching (read at once: scratch, not state)
  const seed: RouteHints = { hint: -1, more: NO_ROUTE_HINTS.more };
  const nextHints: RouteHints = { hint: -1, more: NO_ROUTE_HINTS.more };
  const appliesTo = rules.map((r) => r.appliesTo);
  // The indexes of the rules that judge each unit kind, in rule order, computed once: a muck truck's fix
  // then visits the truck rules only instead of testing every sanitation and camera rule's `appliesTo`
  // (13 of 36 rules) at each fix (the engine benchmark's profile, issue 11 item 7).
  const rulesOf = new Map<Fix['kind'], readonly number[]>(
    UNIT_KINDS.map((kind) => [
      kind,
      rules.flatMap((r, i) => (r.appliesTo === undefined || r.appliesTo.includes(kind) ? [i] : [])),
    ]),
  );
  // a kind outside UNIT_KINDS (validation refuses it) would meet the rules that judge every kind
  const kindless = rules.flatMap((r, i) => (r.appliesTo === undefined ? [i] : []));
  // the load detector's working space (read at once: scratch, not state)
  const loadScratch: LoadTrack = { ...LOAD_TRACK_INITIAL };

  function initial(vehicle: string): VehicleState {
    return {
      vehicle,
      last: undefined,
      hintPermit: '',
      hint: NO_ROUTE_HINTS.hint,
      moreHints: NO_ROUTE_HINTS.more,
      load: LOAD_TRACK_INITIAL,
      slices: rules.map((r) => r.initial()),
      skippedLate: 0,
      held: undefined,
      outliers: 0,
    };
  }

  function step(state: VehicleState, fix: Fix, world: World): EngineResult {
    const newest = state.held?.ts ?? state.last?.ts;
    if (newest !== undefined && fix.ts <= newest) {
      return {
        state: { ...state, skippedLate: state.skippedLate + 1 },
        events: NO_EVENTS,
        judged: NO_FIXES,
        facts: NO_FACTS,
      };
    }
    const screened = screenFix(state.last, state.held, fix, world.thresholds());
    let next = state;
    let events = NO_EVENTS;
    let facts = NO_FACTS;
    for (const f of screened.judge) {
      const r = judge(next, f, world);
      next = r.state;
      if (r.events.length > 0) events = events === NO_EVENTS ? r.events : [...events, ...r.events];
      facts = facts === NO_FACTS ? [r.facts] : [...facts, r.facts];
    }
    if (screened.held !== next.held || screened.outlier !== undefined) {
      next = {
        ...next,
        held: screened.held,
        outliers: next.outliers + (screened.outlier === undefined ? 0 : 1),
      };
    }
    const judged = screened.judge;
    return screened.outlier === undefined
      ? { state: next, events, judged, facts }
      : { state: next, events, judged, facts, outlier: screened.outlier };
  }

  /** One plausible in-order fix through the facts and the rules. */
  function judge(state: VehicleState, fix: Fix, world: World): TickResult & { facts: FixFacts } {
    const prev = state.last;
    const pos: Position = [fix.lon, fix.lat];
    const inForce = permitsAt(world.permitsOf(fix.vehicle), fix.ts);
    const { valid, covering, routePermit } = inForce;
    let routes = NO_ROUTES;
    let hintPermit = state.hintPermit;
    let hint = state.hint;
    let moreHints = state.moreHints;
    if (routePermit !== undefined && fix.valid) {
      const samePermit = hintPermit === routePermit.id;
      seed.hint = samePermit ? hint : NO_ROUTE_HINTS.hint;
      seed.more = samePermit ? moreHints : NO_ROUTE_HINTS.more;
      routes = matchRoutes(world, routePermit, pos, seed, nextHints);
      if (routes.length > 0) {
        hintPermit = routePermit.id;
        hint = nextHints.hint;
        moreHints = nextHints.more;
      }
    }
    const thresholds = world.thresholds(covering ?? valid[0]);
    const detected = stepLoad(state.load, fix, prev, thresholds, loadScratch);
    const facts: FixFacts = {
      pos,
      loaded: detected.track.lc === 1,
      loadChangeTs: detected.track.lt,
      sites: world.sitesAt(pos),
      zones: world.zonesAt(pos),
      validPermits: valid,
      coveringPermit: covering,
      localDate: inForce.date,
      load: detected.event,
      weightLoss: detected.weightLoss,
      routePermit,
      routes,
    };
    const ctx: RuleContext = {
      fix,
      prev,
      facts,
      world,
      vehicle: world.vehicle(fix.vehicle),
      thresholds,
    };
    let events = NO_EVENTS;
    const before = state.slices;
    let slices = before;
    const judging = rulesOf.get(fix.kind) ?? kindless;
    for (let k = 0; k < judging.length; k++) {
      const i = judging[k]!;
      const slice = before[i];
      const result = rules[i]!.step(slice, ctx);
      if (result.state !== slice) {
        if (slices === before) slices = before.slice();
        slices[i] = result.state;
      }
      const es = result.events;
      if (es.length > 0) {
        if (events === NO_EVENTS) events = [];
        for (const e of es) (events as ViolationEvent[]).push(e);
      }
    }
    const last: LastFix = {
      ts: fix.ts,
      lon: fix.lon,
      lat: fix.lat,
      valid: fix.valid,
      accuracy: fix.accuracy,
      speed: fix.speed,
      ign: fix.ign,
      lift: fix.lift,
      load: fix.load,
      weight: fix.weight,
      kind: fix.kind,
      firm: fix.firm,
    };
    return {
      state: {
        vehicle: state.vehicle,
        last,
        hintPermit,
        hint,
        moreHints,
        load: detected.track,
        slices,
        skippedLate: state.skippedLate,
        held: state.held,
        outliers: state.outliers,
      },
      events,
      facts,
    };
  }

  function tick(state: VehicleState, nowMs: number, world: World): TickResult {
    const permit = state.last ? world.permitsOf(state.vehicle)[0] : undefined;
    // a held suspect was heard: silence counts from it (its sensors are real, only its position is in doubt)
    const held = state.held;
    const last =
      held === undefined || state.last === undefined
        ? state.last
        : { ...state.last, ts: held.ts, ign: held.ign, load: held.load, speed: held.speed };
    const ctx: TickContext = {
      vehicle: state.vehicle,
      nowMs,
      last,
      world,
      thresholds: world.thresholds(permit),
    };
    let events = NO_EVENTS;
    const before = state.slices;
    let slices = before;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.tick === undefined) continue;
      const only = appliesTo[i];
      if (only !== undefined && state.last && !only.includes(state.last.kind)) continue;
      const result = rule.tick(before[i], ctx);
      if (result.state !== before[i]) {
        if (slices === before) slices = before.slice();
        slices[i] = result.state;
      }
      if (result.events.length > 0) {
        if (events === NO_EVENTS) events = [];
        for (const e of result.events) (events as ViolationEvent[]).push(e);
      }
    }
    return { state: slices === before ? state : { ...state, slices }, events };
  }

  return { initial, step, tick, rules };
}

export type Engine = ReturnType<typeof createEngine>;
