import type { z } from 'zod';
import type { Fix } from '../core/fix.ts';
import type {
  EntityRef,
  Permit,
  Position,
  Route,
  Site,
  Thresholds,
  VehicleProfile,
  ViolationCode,
  Zone,
} from './model.ts';
import type {
  CollectionPoint,
  DutyPlan,
  Incident,
  SweepLayout,
  SweepMatch,
  SweepPlan,
  UploadStation,
} from './plans.ts';

/**
 * The engine's contracts (architecture.md, principles 1 and 2): a rule is a module with its defaults,
 * its slice of per-vehicle state and a pure step. No I/O, no clock (time comes from the fix, silence
 * from an explicit tick), no globals. Same fixes in, same events out, byte for byte.
 */

/** What the load detector (rules/load-events.ts) says about a fix, read by the loaded-truck rules. */
export type LoadTrigger = 'lift' | 'load' | 'weight';

export interface LoadEvent {
  kind: 'loading' | 'unloading';
  trigger: LoadTrigger;
  /** weight change over the stopped run at confirmation (t, >= 0, 2 decimals); 0 without a weight reading */
  weightChangeT: number;
  /** the onset: the first fix that showed the change (the current fix for a lift or a corroborated change) */
  ts: number;
  lon: number;
  lat: number;
  /** whether the onset fix's position was valid */
  valid: boolean;
}

/** A confirmed loss of weight on the road (SPILLAGE), reported while it lasts. */
export interface WeightLoss {
  /** onset: the first fix past the threshold */
  ts: number;
  lon: number;
  lat: number;
  /** largest drop below the run's first weight so far, t */
  dropT: number;
}

/** What the compiled registry answers per fix, in O(1)-ish time (indexes built by compile.ts). */
export interface World {
  /** sites whose polygon contains the position (edges count as inside) */
  sitesAt(pos: Position): readonly Site[];
  /** zones whose polygon contains the position */
  zonesAt(pos: Position): readonly Zone[];
  /**
   * Distance in metres from the position to one route, with the segment found; `hint` is the segment
   * index found for the previous fix of this vehicle (local search from there first).
   */
  routeDistance(routeId: string, pos: Position, hint?: number): RouteMatch | undefined;
  /** distance from a position to a site's boundary in metres (for hysteresis) */
  siteBoundaryDistance(siteId: string, pos: Position): number;
  permitsOf(vehicle: string): readonly Permit[];
  site(id: string): Site | undefined;
  route(id: string): Route | undefined;
  zone(id: string): Zone | undefined;
  vehicle(id: string): VehicleProfile | undefined;
  /** city-wide thresholds merged under a permit's overrides */
  thresholds(permit?: Permit): Thresholds;
  /** the references of the city thresholds themselves (their version) */
  thresholdsRef: EntityRef;
  // ---- plans (issue 15; empty lists when the city has none) ----
  /** collection points assigned to the vehicle, by id */
  collectionPointsOf(vehicle: string): readonly CollectionPoint[];
  /** sweep plans naming the vehicle, by id */
  sweepPlansOf(vehicle: string): readonly SweepPlan[];
  /** the nearest road stretch of a sweep plan to the position */
  sweepMatch(planId: string, pos: Position): SweepMatch | undefined;
  /** a sweep plan cut into coverage pieces */
  sweepLayout(planId: string): SweepLayout | undefined;
  /** duty plans naming the camera, or the officer wearing it, by id */
  dutyPlansOf(unit: string, officer: string | undefined): readonly DutyPlan[];
  /** metres from the position to a duty plan's grid boundary: negative inside, positive outside */
  gridDistance(planId: string, pos: Position): number;
  /** the nearest upload station whose radius contains the position, if any */
  uploadStationAt(pos: Position): UploadStation | undefined;
  /** a plan entity by kind and id (evidence) */
  planEntity(
    kind: PlanRefKind,
    id: string,
  ): CollectionPoint | SweepPlan | DutyPlan | UploadStation | Incident | undefined;
  /** the incidents assigned to a unit (item 5 of issue 15), by assignment instant */
  incidentsOf(unit: string): readonly Incident[];
}

export type PlanRefKind = 'collection_point' | 'sweep_plan' | 'duty_plan' | 'upload_station' | 'incident';

export interface RouteMatch {
  distanceM: number;
  segmentIndex: number;
  /** metres from the start of the route to the nearest point */
  alongM: number;
}

/** A route of the fix's route permit, with the fix matched against it (once per fix, by the engine core). */
export interface RouteFact {
  route: Route;
  match: RouteMatch;
}

/** Local-time helpers the engine core needs (geofence/calendar.ts implements them for China). */
export interface Calendar {
  localDate(utcMs: number): string;
  /** daily "HH:MM-HH:MM" windows: minute resolution, which the engine relies on to ask once per minute */
  inWindows(windows: readonly string[], utcMs: number): boolean;
  /**
   * Start (UTC) of the permit's window covering the instant, counting only windows that STARTED on a
   * date of its validity (a 22:00-06:00 window belongs to the date it starts); undefined when uncovered.
   */
  permitWindowStart(
    permit: Pick<Permit, 'windows' | 'validFrom' | 'validTo'>,
    utcMs: number,
  ): number | undefined;
}

/**
 * The few fields of the previous in-order fix that rules read (`ctx.prev`, the tick's `last`): kept in
 * the per-vehicle state instead of the whole fix, which would triple its size.
 */
export type LastFix = Pick<
  Fix,
  'ts' | 'lon' | 'lat' | 'valid' | 'accuracy' | 'speed' | 'ign' | 'lift' | 'load' | 'weight' | 'kind' | 'firm'
>;

/** Facts about the current fix that several rules need, computed once per fix by the engine core. */
export interface FixFacts {
  pos: Position;
  /**
   * the CONFIRMED load (rules/load-events.ts: the cargo latch): the load state half/full, else a weight
   * above dumpWeightDropT, once that reading persisted or a loading or unloading confirmed it; a load
   * sensor flickering for a few seconds does not change it
   */
  loaded: boolean;
  /**
   * when `loaded` took its current value: the onset of the loading or unloading, or of the reading that
   * persisted (rules that end because the truck is no longer loaded end there); -1 unknown
   */
  loadChangeTs: number;
  sites: readonly Site[];
  zones: readonly Zone[];
  /**
   * permits of this vehicle valid on the fix's local date, or inside one of their windows that started on
   * a valid date (a 22:00-06:00 window belongs to the date it starts: facts.ts `permitsAt`)
   */
  validPermits: readonly Permit[];
  /** the permit covering this instant (inside one of its windows that started on a valid date), if any */
  coveringPermit: Permit | undefined;
  /** local (Asia/Shanghai) date of the fix, YYYY-MM-DD */
  localDate: string;
  /**
   * The loading or unloading transition at this fix (rules/load-events.ts), detected once by the engine
   * core for NO_PERMIT, ILLEGAL_DUMP and WRONG_SITE (the detector's state is in the vehicle state); null
   * on most fixes.
   */
  load: LoadEvent | null;
  /** a confirmed loss of weight on the road (SPILLAGE), while it lasts; null on most fixes */
  weightLoss: WeightLoss | null;
  /** the permit whose routes judge the vehicle: the covering one if it names routes, else the first valid one that does */
  routePermit: Permit | undefined;
  /**
   * The fix matched against each route of `routePermit` that the world knows, in permit order. Empty when
   * the fix's position is not valid or there is no route permit. Shared by OFF_ROUTE and OVERSPEED.
   */
  routes: readonly RouteFact[];
}

export interface RuleContext {
  fix: Fix;
  /** the previous in-order fix of this vehicle (undefined for the first) */
  prev: LastFix | undefined;
  facts: FixFacts;
  world: World;
  vehicle: VehicleProfile | undefined;
  thresholds: Thresholds;
}

export interface TickContext {
  vehicle: string;
  nowMs: number;
  /** the last in-order fix of the vehicle, if any */
  last: LastFix | undefined;
  world: World;
  thresholds: Thresholds;
}

/**
 * The engine's lifecycle of a violation: opened (first evidence) → updated (escalation, new maximum) →
 * closed (duration), or withdrawn: a later judgement of the same vehicle (late fixes re-judged in time
 * order, geofence/backfill.ts) found it did not happen as raised. A withdrawn violation is kept, with its
 * `withdrawal`, but is not a violation of the firm (never in a scorecard). The same id may be opened
 * again by a later re-judging (further late fixes) or by the fixes that follow.
 */
export const VIOLATION_PHASES = ['opened', 'updated', 'closed', 'withdrawn'] as const;
export type ViolationPhase = (typeof VIOLATION_PHASES)[number];

/** Why a violation was withdrawn. */
export const WITHDRAWAL_REASONS = ['backfill'] as const;
export type WithdrawalReason = (typeof WITHDRAWAL_REASONS)[number];

export interface Withdrawal {
  /** backfill: fixes that arrived late (older than the vehicle's newest), judged in time order, showed it did not happen so */
  reason: WithdrawalReason;
  /** the earliest of those late fixes (epoch ms) */
  lateTs: number;
  /**
   * the violation that replaced it, when the late fixes moved its onset: ids are `vehicle:code:startTs`,
   * so a new onset is a new id (the same fixes in any order give the same ids)
   */
  supersededBy?: string;
}

/**
 * Set on every event a re-judging publishes (withdrawals, violations it opened, changed or reopened):
 * the event corrects what was published before, so stores apply it even where the lifecycle order
 * (opened < updated < closed) would refuse it, and it is not a duplicate of an earlier identical event.
 */
export interface Rejudged {
  reason: WithdrawalReason;
  /** the earliest late fix of the re-judging (epoch ms): one re-judging of a vehicle per late fix at most */
  lateTs: number;
}

export interface Violation {
  /** deterministic: `${vehicle}:${code}:${startTs}` */
  id: string;
  code: ViolationCode;
  vehicle: string;
  firm: string;
  permit?: string;
  startTs: number;
  /**
   * when the engine raised it: the timestamp of the fix (or the silence tick's instant) at which the
   * rule's minimum was met. startTs is backdated to the onset, so detectedTs - startTs is the rule's
   * own decision delay (e.g. OFF_ROUTE's minimum duration); absent on violations stored before it existed
   */
  detectedTs?: number;
  /** set when closed */
  endTs?: number;
  durationMs?: number;
  /** escalation level, 0 = base */
  level: number;
  startPos: Position;
  lastPos: Position;
  /** entities (with versions) the judgement rests on */
  refs: EntityRef[];
  /** the thresholds the rule applied, by name */
  thresholds: Partial<Thresholds>;
  ruleVersion: number;
  /** rule-specific figures (max deviation m, max speed km/h, weight drop t, ...) */
  details: Record<string, number | string | boolean>;
  /** set when withdrawn (phase `withdrawn`) */
  withdrawal?: Withdrawal;
}

export interface ViolationEvent {
  phase: ViolationPhase;
  violation: Violation;
  /** present on the events of a re-judging (see Rejudged) */
  rejudged?: Rejudged;
}

export interface StepResult<S> {
  /** the same object as the input state when nothing changed (the engine then shares it, no copy) */
  state: S;
  /** usually empty: rules return the shared frozen NO_EVENTS (rules/lifecycle.ts) rather than a new [] */
  events: readonly ViolationEvent[];
}

/** One rule: its code, version, defaults live in model.ts thresholds; its state slice is S. */
export interface RuleModule<S> {
  code: ViolationCode;
  /** recorded in every violation and evidence package; bump when the logic changes */
  version: number;
  /**
   * the rule's own thresholds as a zod object with defaults and descriptions (issue 11, "one schema per
   * contract"): the registry, the API and the README table are built from it. Rules written before it
   * keep theirs in model.ts for now.
   */
  thresholds?: z.ZodObject;
  /** unit kinds the rule judges (all when absent); the engine leaves the slice untouched for others */
  appliesTo?: readonly Fix['kind'][];
  initial(): S;
  step(state: S, ctx: RuleContext): StepResult<S>;
  /** silence detection; rules that do not watch time leave it out */
  tick?(state: S, ctx: TickContext): StepResult<S>;
}
