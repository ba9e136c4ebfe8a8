import type { Permit, Position } from './model.ts';
import type { Calendar, RouteFact, World } from './types.ts';

/**
 * The per-fix facts several rules share (types.ts `FixFacts`), computed once per fix by the engine core
 * so that no rule repeats a lookup another rule already made: the permits in force, and the match of the
 * fix against the routes of its permit (OFF_ROUTE and OVERSPEED both judge it).
 *
 * Permits in force change only with the local date (validity) and the local minute (windows are
 * "HH:MM"), so they are memoized per permit list: a vehicle reporting every 10 s asks the calendar about
 * once a minute instead of every fix. The memo holds derived values of its keys only (the world's
 * immutable per-vehicle permit lists): answers are the same as without it.
 */

/** Route hints kept per vehicle (bounded: a permit naming more routes is measured without hints beyond). */
export const MAX_ROUTE_HINTS = 4;

const MINUTE_MS = 60_000;

/** The permit whose routes judge the vehicle: the covering one, else the first valid one naming routes. */
export function routePermitOf(covering: Permit | undefined, valid: readonly Permit[]): Permit | undefined {
  if (covering && covering.routes.length > 0) return covering;
  for (const p of valid) if (p.routes.length > 0) return p;
  return undefined;
}

/** The permits of one vehicle in force at an instant. */
export interface PermitsInForce {
  /** local date these answers are for */
  date: string;
  /**
   * In the world's (id) order: valid on that date, or inside one of its windows that started on a valid
   * date (01:00 on the day after the last valid date, in a 22:00-06:00 window that began on it)
   */
  valid: readonly Permit[];
  /** the first permit (world order) in a window that started on one of its valid dates */
  covering: Permit | undefined;
  routePermit: Permit | undefined;
}

/**
 * The permits in force at an instant, unmemoized: the one rule for validity and coverage (the engine
 * memoizes it below; the trip tracker's `tripInput` calls it as is). `dated` is `list` filtered to the
 * permits valid on the instant's local date (passed in by the memo, which keeps it per date).
 */
export function permitsAt(
  calendar: Calendar,
  list: readonly Permit[],
  ts: number,
  dated: readonly Permit[] = validOn(list, calendar.localDate(ts)),
): Omit<PermitsInForce, 'date'> {
  let covering: Permit | undefined;
  // a permit not valid on the local date counts only inside a window that began on a valid date
  let extra = false;
  for (const p of list) {
    const inWindow = calendar.permitWindowStart(p, ts) !== undefined;
    if (inWindow && covering === undefined) covering = p;
    if (inWindow && dated !== list && !dated.includes(p)) extra = true;
  }
  const valid = extra
    ? list.filter((p) => dated.includes(p) || calendar.permitWindowStart(p, ts) !== undefined)
    : dated;
  return { valid, covering, routePermit: routePermitOf(covering, valid) };
}

interface Memo extends PermitsInForce {
  /** UTC minute (ts / 60,000) the coverage was computed for; the date is constant within a minute */
  minute: number;
  /** permits valid on `date` itself (recomputed when the date changes) */
  dated: readonly Permit[];
}

/**
 * Returns `permitsAt(list, ts)`: `list` is `world.permitsOf(vehicle)`. The returned object is the memo
 * entry itself, valid until the next call with the same list: read it, do not keep it.
 */
export function permitsInForce(calendar: Calendar): (list: readonly Permit[], ts: number) => PermitsInForce {
  const memo = new WeakMap<readonly Permit[], Memo>();
  return (list, ts) => {
    const minute = Math.floor(ts / MINUTE_MS);
    let m = memo.get(list);
    if (m !== undefined && m.minute === minute) return m;
    const date = calendar.localDate(ts);
    if (m === undefined) {
      const dated = validOn(list, date);
      m = { date, dated, valid: dated, minute, covering: undefined, routePermit: undefined };
      memo.set(list, m);
    } else if (m.date !== date) {
      m.date = date;
      m.dated = validOn(list, date);
    }
    m.minute = minute;
    const now = permitsAt(calendar, list, ts, m.dated);
    m.valid = now.valid;
    m.covering = now.covering;
    m.routePermit = now.routePermit;
    return m;
  };
}

function validOn(list: readonly Permit[], date: string): readonly Permit[] {
  let all = true;
  for (const p of list) if (!(p.validFrom <= date && date <= p.validTo)) all = false;
  return all ? list : list.filter((p) => p.validFrom <= date && date <= p.validTo);
}

const NO_HINTS: readonly number[] = Object.freeze([]);
const NO_ROUTES: readonly RouteFact[] = Object.freeze([]);

/**
 * Per route of a permit, the segment the previous fix matched (-1 unknown): `hint` for the first route,
 * `more` for the next ones (up to MAX_ROUTE_HINTS - 1). Split so that the usual one-route permit keeps
 * a plain number in the vehicle state instead of a new array per fix.
 */
export interface RouteHints {
  hint: number;
  more: readonly number[];
}

/**
 * Matches the position against each route of the permit that the world knows (permit order), each
 * search seeded with the segment of the previous fix (`seed`). Writes the hints for the next fix to
 * `next` (`more` is the same array when none of the further routes changed).
 */
export function matchRoutes(
  world: World,
  permit: Permit,
  pos: Position,
  seed: RouteHints,
  next: RouteHints,
): readonly RouteFact[] {
  next.hint = seed.hint;
  next.more = seed.more;
  const ids = permit.routes;
  if (ids.length === 1) {
    // the usual permit: one route, one fact, no list building
    const route = world.route(ids[0]!);
    const match = route && world.routeDistance(ids[0]!, pos, seed.hint);
    if (route === undefined || match === undefined) return NO_ROUTES;
    next.hint = match.segmentIndex;
    return [{ route, match }];
  }
  const out: RouteFact[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const route = world.route(id);
    if (route === undefined) continue;
    const hint = i === 0 ? seed.hint : i < MAX_ROUTE_HINTS ? (seed.more[i - 1] ?? -1) : -1;
    const match = world.routeDistance(id, pos, hint);
    if (match === undefined) continue;
    out.push({ route, match });
    if (i === 0) next.hint = match.segmentIndex;
    else if (i < MAX_ROUTE_HINTS && next.more[i - 1] !== match.segmentIndex) {
      const copy = next.more === seed.more ? next.more.slice() : (next.more as number[]);
      while (copy.length < i - 1) copy.push(-1);
      copy[i - 1] = match.segmentIndex;
      next.more = copy;
    }
  }
  return out;
}

/** Hints of a vehicle with none yet (or whose route permit changed). */
export const NO_ROUTE_HINTS: Readonly<RouteHints> = Object.freeze({ hint: -1, more: NO_HINTS });
