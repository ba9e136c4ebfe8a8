import type { Fix } from '../ingest/fix.ts';
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

/**
 * The engine's contracts (architecture.md, principles 1 and 2): a rule is a module with its defaults,
 * its slice of per-vehicle state and a pure step. No I/O, no clock (time comes from the fix, silence
 * from an explicit tick), no globals. Same fixes in, same events out, byte for byte.
 */

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
}

export interface RouteMatch {
  distanceM: number;
  segmentIndex: number;
  /** metres from the start of the route to the nearest point */
  alongM: number;
}

/** Facts about the current fix that several rules need, computed once per fix by the engine core. */
export interface FixFacts {
  pos: Position;
  /** true when the load state says half/full or weight is above a small floor */
  loaded: boolean;
  sites: readonly Site[];
  zones: readonly Zone[];
  /** permits of this vehicle valid on the fix's local date */
  validPermits: readonly Permit[];
  /** the permit covering this instant (valid date and inside its windows), if any */
  coveringPermit: Permit | undefined;
  /** local (Asia/Shanghai) date of the fix, YYYY-MM-DD */
  localDate: string;
}

export interface RuleContext {
  fix: Fix;
  /** the previous in-order fix of this vehicle (undefined for the first) */
  prev: Fix | undefined;
  facts: FixFacts;
  world: World;
  vehicle: VehicleProfile | undefined;
  thresholds: Thresholds;
}

export interface TickContext {
  vehicle: string;
  nowMs: number;
  /** the last in-order fix of the vehicle, if any */
  last: Fix | undefined;
  world: World;
  thresholds: Thresholds;
}

export type ViolationPhase = 'opened' | 'updated' | 'closed';

export interface Violation {
  /** deterministic: `${vehicle}:${code}:${startTs}` */
  id: string;
  code: ViolationCode;
  vehicle: string;
  firm: string;
  permit?: string;
  startTs: number;
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
}

export interface ViolationEvent {
  phase: ViolationPhase;
  violation: Violation;
}

export interface StepResult<S> {
  state: S;
  events: ViolationEvent[];
}

/** One rule: its code, version, defaults live in model.ts thresholds; its state slice is S. */
export interface RuleModule<S> {
  code: ViolationCode;
  /** recorded in every violation and evidence package; bump when the logic changes */
  version: number;
  /** unit kinds the rule judges (all when absent); the engine leaves the slice untouched for others */
  appliesTo?: readonly Fix['kind'][];
  initial(): S;
  step(state: S, ctx: RuleContext): StepResult<S>;
  /** silence detection; rules that do not watch time leave it out */
  tick?(state: S, ctx: TickContext): StepResult<S>;
}
