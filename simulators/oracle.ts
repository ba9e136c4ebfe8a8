import {
  type DailyWindow,
  type DateRange,
  inDateRange,
  inWindows,
  inWindowsOnDates,
  parseDateRange,
  parseWindows,
} from '../geofence/geo/windows.ts';
import type { Permit, Route, Site, Thresholds, ViolationCode, Zone } from '../geofence/model.ts';
import type { UnitKind } from '../ingest/fix.ts';
import { inAnyPolygon, nearestOnLine, toLatLon } from './sim-geo.ts';
import { haversineM, type LatLon, Polyline } from './tracks.ts';

/**
 * The ground-truth oracle: the domain brief's rule definitions (shared/domain.md, thresholds in force)
 * applied to what a unit REALLY did, step by step: its true position (no GNSS noise, no drift), true
 * speed, load, weight, cover and lift, and which fixes really reached the wire. It is deliberately
 * simple and independent of geofence/: no hysteresis, no noise allowances, no indexes. Its job is to say
 * what a perfect detector should report, so the engine's detections can be scored against it.
 *
 * Time resolution: the simulation's steps (every report instant, sent or not). A truth's start is the
 * first step at which the rule's condition holds, for an episode that goes on to meet the rule's
 * minimum (duration, fix count); its end is the first step at which the episode is over.
 *
 * Definitions (domain.md), per unit kind:
 * - OFF_ROUTE (muck, loaded, holding a valid permit that names routes): farther than the corridor from
 *   every permitted route and inside none of the permit's sites; qualifies at >= offRouteMinMs outside
 *   or >= offRouteMinFixes consecutive steps outside (a pending episode is broken by any step inside);
 *   ends at the first step of an inside run lasting >= offRouteEndInsideMs.
 * - OFF_HOURS (muck, loaded, a permit valid on the date but no window covering the instant): moving
 *   > offHoursSpeedKmh; stops shorter than offHoursMinMs do not break it; qualifies at offHoursMinMs of
 *   it; ends when covered, unloaded, or at the first step of a stop lasting offHoursMinMs.
 * - NO_PERMIT (muck): a loading (load empty -> half/full, or the weight rising > dumpWeightDropT while
 *   stopped) with no permit valid on the date; ends at the next unloading or when a permit becomes valid.
 * - ILLEGAL_DUMP (muck): an unloading (lift down -> up, load -> empty, or the weight falling >
 *   dumpWeightDropT while stopped; once per load) outside every disposal site; instantaneous.
 * - WRONG_SITE (muck, holding a valid permit): an unloading inside a disposal site (a loading inside an
 *   origin site) that no valid permit names; instantaneous.
 * - SUSPECTED_DUMP (muck): loaded, slower than suspectedDumpSpeedKmh, inside no site, for MORE than
 *   suspectedDumpMinMs.
 * - SPILLAGE (muck): loaded, moving > spillageSpeedKmh with the cover open for >= spillageMinMs (start:
 *   the first such step); or, in a moving run (lift down) that began loaded, the weight has fallen more
 *   than spillageWeightDropT below the run's first weight (start: the step it first has). One episode
 *   while either holds.
 * - OVERSPEED (not body cameras): faster than the lowest limit in force (the stretch limit of a route of
 *   a valid permit when within its corridor, day or night limit; a speed zone in its hours applying to
 *   the kind) for >= overspeedMinMs.
 * - RESTRICTED_ZONE (kinds the zone applies to): inside a restricted zone while it is closed (its
 *   windows; none = always); any step inside counts.
 * - OVERLOAD (muck with a rated load): weight above it for >= overloadMinMs.
 * - OFFLINE: between two sent fixes, more than offlineFactor x the nominal report interval while the
 *   ignition was on (or inside permit hours); start = last fix + that allowance, end = the next fix.
 * - TRACK_GAP: two consecutive sent fixes more than trackGapMs apart, or (true positions) implying more
 *   than trackGapSpeedKmh; start = the earlier fix, end = the later one.
 */

/** What the unit really did at one step (true values). */
export interface TrueState {
  ts: number;
  lat: number;
  lon: number;
  speed: number;
  ign?: boolean;
  load?: 'empty' | 'half' | 'full';
  weight?: number;
  cover?: 'open' | 'closed';
  lift?: 'up' | 'down';
}

export interface TruthViolation {
  vehicle: string;
  type: ViolationCode;
  /** epoch ms */
  start: number;
  /** epoch ms; undefined while still going on at the end of the run */
  end?: number;
  details: Record<string, number | string>;
}

interface CompiledPermit {
  permit: Permit;
  windows: DailyWindow[];
  dates: DateRange;
}

/** The world as the oracle reads it (compiled once per run). */
export class OracleWorld {
  readonly permits: CompiledPermit[];
  readonly routes = new Map<string, { route: Route; line: Polyline }>();
  readonly nightWindows: DailyWindow[];
  private readonly zoneWindows = new Map<string, DailyWindow[]>();

  constructor(
    readonly sites: readonly Site[],
    routes: readonly Route[],
    readonly zones: readonly Zone[],
    permits: readonly Permit[],
    readonly thresholds: Thresholds,
  ) {
    this.permits = permits.map((p) => ({
      permit: p,
      windows: parseWindows(p.windows),
      dates: parseDateRange(p.validFrom, p.validTo),
    }));
    for (const r of routes) this.routes.set(r.id, { route: r, line: new Polyline(r.line.map(toLatLon)) });
    for (const z of zones) this.zoneWindows.set(z.id, parseWindows(z.windows));
    this.nightWindows = parseWindows(thresholds.nightWindows);
  }

  permitsOf(vehicle: string): CompiledPermit[] {
    return this.permits.filter((p) => p.permit.vehicles.includes(vehicle));
  }

  zoneOpen(z: Zone, ts: number): boolean {
    const w = this.zoneWindows.get(z.id) ?? [];
    return w.length === 0 || inWindows(w, ts);
  }
}

export interface OracleUnit {
  /** vehicle id (or the body camera's id) */
  id: string;
  kind: UnitKind;
  ratedLoadT?: number;
  /** nominal report interval, seconds (the registry's: OFFLINE allows offlineFactor x this) */
  reportIntervalS: number;
}

interface Run {
  start: number;
  qualified: boolean;
}

/** The truths of one unit, fed every step in time order. */
export class UnitOracle {
  readonly truths: TruthViolation[] = [];
  private readonly th: Thresholds;
  private readonly permits: CompiledPermit[];
  private prev: TrueState | undefined;
  private lastSent: TrueState | undefined;
  // OFF_ROUTE
  private offRoute: (Run & { outSteps: number; inSince: number }) | undefined;
  // OFF_HOURS
  private offHours: (Run & { stopSince: number }) | undefined;
  // cargo latch (-1 unknown, 0 empty, 1 loaded) and the open NO_PERMIT
  private latch = -1;
  /** lowest and highest weight since the truck last moved (-1 unknown) */
  private stoppedLo = -1;
  private stoppedHi = -1;
  private noPermit: number | undefined;
  private suspected: Run | undefined;
  // SPILLAGE
  private coverSince = -1;
  private weightRef = -1;
  private weightOn = false;
  private spill: { start: number } | undefined;
  private overspeed: (Run & { maxKmh: number; limit: number }) | undefined;
  private readonly zonesIn = new Map<string, number>();
  private overload: (Run & { max: number }) | undefined;

  constructor(
    private readonly world: OracleWorld,
    private readonly unit: OracleUnit,
  ) {
    this.th = world.thresholds;
    this.permits = world.permitsOf(unit.id);
  }

  /** True while some rule's condition holds (a device reports at its alarm interval then). */
  alarm(): boolean {
    return (
      this.offRoute !== undefined ||
      this.offHours !== undefined ||
      this.noPermit !== undefined ||
      this.suspected !== undefined ||
      this.coverSince >= 0 ||
      this.spill !== undefined ||
      this.overspeed !== undefined ||
      this.zonesIn.size > 0 ||
      this.overload !== undefined
    );
  }

  observe(s: TrueState, sent: boolean): void {
    const muck = this.unit.kind === 'muck_truck';
    const pos: LatLon = { lat: s.lat, lon: s.lon };
    const valid = this.permits.filter((p) => inDateRange(p.dates, s.ts));
    if (muck) {
      const loaded = s.load !== undefined ? s.load !== 'empty' : (s.weight ?? 0) > this.th.dumpWeightDropT;
      this.offRouteStep(s, pos, loaded, valid);
      this.offHoursStep(s, loaded, valid);
      this.loadEventsStep(s, pos, valid);
      this.suspectedStep(s, pos, loaded);
      this.spillageStep(s, loaded);
      this.overloadStep(s);
    }
    if (this.unit.kind !== 'body_camera') this.overspeedStep(s, pos, valid);
    this.zoneStep(s, pos);
    if (sent) this.silenceStep(s);
    this.prev = s;
  }

  /** Episodes still going on at the end of the run are recorded without an end (qualified ones only). */
  finish(endTs: number): void {
    const openEnd = (
      type: ViolationCode,
      r: Run | undefined,
      details: Record<string, number | string> = {},
    ) => {
      if (r?.qualified) this.add(type, r.start, undefined, details);
    };
    openEnd('OFF_ROUTE', this.offRoute);
    openEnd('OFF_HOURS', this.offHours);
    if (this.noPermit !== undefined) this.add('NO_PERMIT', this.noPermit, undefined);
    openEnd('SUSPECTED_DUMP', this.suspected);
    if (this.spill) this.add('SPILLAGE', this.spill.start, undefined);
    openEnd('OVERSPEED', this.overspeed);
    for (const [zone, start] of this.zonesIn) this.add('RESTRICTED_ZONE', start, undefined, { zone });
    openEnd('OVERLOAD', this.overload);
    const last = this.lastSent;
    if (last && this.offlineApplies(last)) {
      const allowed = this.allowedSilenceMs();
      if (endTs - last.ts > allowed) this.add('OFFLINE', last.ts + allowed, undefined);
    }
    this.truths.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
  }

  private add(
    type: ViolationCode,
    start: number,
    end: number | undefined,
    details: Record<string, number | string> = {},
  ) {
    this.truths.push({ vehicle: this.unit.id, type, start, ...(end !== undefined ? { end } : {}), details });
  }

  private offRouteStep(s: TrueState, pos: LatLon, loaded: boolean, valid: CompiledPermit[]): void {
    const withRoutes = valid.filter((p) => p.permit.routes.length > 0);
    const applies = loaded && withRoutes.length > 0;
    let out = false;
    if (applies) {
      const ownSites = new Set(withRoutes.flatMap((p) => [...p.permit.origins, ...p.permit.disposals]));
      const inOwnSite = this.world.sites.some((x) => ownSites.has(x.id) && inAnyPolygon(x.polygons, pos));
      out =
        !inOwnSite &&
        withRoutes.every((p) =>
          p.permit.routes.every((id) => {
            const r = this.world.routes.get(id);
            return r === undefined || nearestOnLine(r.line, pos).distanceM > r.route.corridorM;
          }),
        );
    }
    const e = this.offRoute;
    if (!applies) {
      if (e?.qualified) this.add('OFF_ROUTE', e.start, e.inSince >= 0 ? e.inSince : s.ts);
      this.offRoute = undefined;
      return;
    }
    if (e === undefined) {
      if (out) this.offRoute = { start: s.ts, qualified: false, outSteps: 1, inSince: -1 };
      return;
    }
    if (out) {
      e.outSteps = e.inSince < 0 ? e.outSteps + 1 : 1;
      e.inSince = -1;
      if (s.ts - e.start >= this.th.offRouteMinMs || e.outSteps >= this.th.offRouteMinFixes)
        e.qualified = true;
      return;
    }
    if (!e.qualified) {
      this.offRoute = undefined;
      return;
    }
    if (e.inSince < 0) e.inSince = s.ts;
    if (s.ts - e.inSince >= this.th.offRouteEndInsideMs) {
      this.add('OFF_ROUTE', e.start, e.inSince);
      this.offRoute = undefined;
    }
  }

  private offHoursStep(s: TrueState, loaded: boolean, valid: CompiledPermit[]): void {
    const covered = this.permits.some((p) => inWindowsOnDates(p.windows, p.dates, s.ts));
    const applies = loaded && valid.length > 0 && !covered;
    const e = this.offHours;
    if (!applies) {
      if (e?.qualified) this.add('OFF_HOURS', e.start, s.ts);
      this.offHours = undefined;
      return;
    }
    const moving = s.speed > this.th.offHoursSpeedKmh;
    if (e === undefined) {
      if (moving) this.offHours = { start: s.ts, qualified: false, stopSince: -1 };
      return;
    }
    if (moving) {
      e.stopSince = -1;
      if (s.ts - e.start >= this.th.offHoursMinMs) e.qualified = true;
      return;
    }
    if (e.stopSince < 0) e.stopSince = s.ts;
    if (s.ts - e.stopSince >= this.th.offHoursMinMs) {
      if (e.qualified) this.add('OFF_HOURS', e.start, e.stopSince);
      this.offHours = undefined;
    }
  }

  /**
   * Loadings and unloadings (domain.md): loading = load empty -> half/full, or the weight rising more than
   * dumpWeightDropT while stopped; unloading = lift up, load -> empty, or the weight falling more than
   * dumpWeightDropT while stopped. A cargo latch makes one unloading per load (and one loading per
   * unloading), whichever signal comes first. "While stopped": against the lowest (highest) weight since
   * the truck last moved.
   */
  private loadEventsStep(s: TrueState, pos: LatLon, valid: CompiledPermit[]): void {
    const p = this.prev;
    const hasCargo = s.load !== undefined ? s.load !== 'empty' : (s.weight ?? 0) > this.th.dumpWeightDropT;
    const stopped = s.speed < this.th.suspectedDumpSpeedKmh;
    const w = s.weight;
    if (!stopped || w === undefined) {
      this.stoppedLo = stopped ? this.stoppedLo : (w ?? -1);
      this.stoppedHi = stopped ? this.stoppedHi : (w ?? -1);
    } else {
      this.stoppedLo = this.stoppedLo < 0 ? w : Math.min(this.stoppedLo, w);
      this.stoppedHi = this.stoppedHi < 0 ? w : Math.max(this.stoppedHi, w);
    }
    if (this.latch < 0 || p === undefined) {
      this.latch = hasCargo ? 1 : 0;
      return;
    }
    const drop =
      stopped && w !== undefined && this.stoppedHi >= 0 && this.stoppedHi - w > this.th.dumpWeightDropT;
    const rise =
      stopped && w !== undefined && this.stoppedLo >= 0 && w - this.stoppedLo > this.th.dumpWeightDropT;
    let event: 'loading' | 'unloading' | undefined;
    if (
      this.latch === 1 &&
      ((p.lift === 'down' && s.lift === 'up') || (p.load !== 'empty' && s.load === 'empty') || drop)
    ) {
      event = 'unloading';
      this.latch = 0;
    } else if (
      this.latch === 0 &&
      ((p.load === 'empty' && s.load !== undefined && s.load !== 'empty') || rise)
    ) {
      event = 'loading';
      this.latch = 1;
    }
    if (event !== undefined) {
      this.stoppedLo = w ?? -1;
      this.stoppedHi = w ?? -1;
    }
    if (this.noPermit !== undefined && (event === 'unloading' || valid.length > 0)) {
      this.add('NO_PERMIT', this.noPermit, s.ts);
      this.noPermit = undefined;
    }
    if (event === undefined) return;
    const here = this.world.sites.filter((x) => inAnyPolygon(x.polygons, pos));
    if (event === 'loading') {
      if (valid.length === 0) this.noPermit = s.ts;
      const origins = here.filter((x) => x.kind === 'origin');
      const named = new Set(valid.flatMap((v) => v.permit.origins));
      if (valid.length > 0 && origins.length > 0 && !origins.some((x) => named.has(x.id)))
        this.add('WRONG_SITE', s.ts, s.ts, { action: 'loading', site: origins[0]!.id });
      return;
    }
    const disposals = here.filter((x) => x.kind === 'disposal');
    if (disposals.length === 0) {
      this.add('ILLEGAL_DUMP', s.ts, s.ts);
      return;
    }
    const named = new Set(valid.flatMap((v) => v.permit.disposals));
    if (valid.length > 0 && !disposals.some((x) => named.has(x.id)))
      this.add('WRONG_SITE', s.ts, s.ts, { action: 'unloading', site: disposals[0]!.id });
  }

  private suspectedStep(s: TrueState, pos: LatLon, loaded: boolean): void {
    const cond =
      loaded &&
      s.speed < this.th.suspectedDumpSpeedKmh &&
      !this.world.sites.some((x) => inAnyPolygon(x.polygons, pos));
    const e = this.suspected;
    if (!cond) {
      if (e?.qualified) this.add('SUSPECTED_DUMP', e.start, s.ts);
      this.suspected = undefined;
      return;
    }
    if (e === undefined) this.suspected = { start: s.ts, qualified: false };
    else if (s.ts - e.start > this.th.suspectedDumpMinMs) e.qualified = true;
  }

  private spillageStep(s: TrueState, loaded: boolean): void {
    const moving = s.speed > this.th.spillageSpeedKmh;
    if (loaded && moving && s.cover === 'open') {
      if (this.coverSince < 0) this.coverSince = s.ts;
    } else {
      this.coverSince = -1;
    }
    const coverOn = this.coverSince >= 0 && s.ts - this.coverSince >= this.th.spillageMinMs;
    if (!moving || s.lift === 'up') {
      this.weightRef = -1;
      this.weightOn = false;
    } else if (s.weight !== undefined) {
      if (this.weightRef < 0 && loaded && this.prevStopped()) this.weightRef = s.weight;
      else if (this.weightRef >= 0 && this.weightRef - s.weight > this.th.spillageWeightDropT)
        this.weightOn = true;
    }
    const active = coverOn || this.weightOn;
    if (active && this.spill === undefined) this.spill = { start: coverOn ? this.coverSince : s.ts };
    else if (!active && this.spill !== undefined) {
      this.add('SPILLAGE', this.spill.start, s.ts);
      this.spill = undefined;
    }
  }

  /** The weight reference is the first fix of a moving run (the previous step was stopped or absent). */
  private prevStopped(): boolean {
    const p = this.prev;
    return p === undefined || !(p.speed > this.th.spillageSpeedKmh) || p.lift === 'up';
  }

  private limitAt(s: TrueState, pos: LatLon, valid: CompiledPermit[]): number | undefined {
    let limit: number | undefined;
    const night = inWindows(this.world.nightWindows, s.ts);
    for (const id of new Set(valid.flatMap((p) => p.permit.routes))) {
      const r = this.world.routes.get(id);
      if (!r) continue;
      const near = nearestOnLine(r.line, pos);
      if (near.distanceM > r.route.corridorM) continue;
      for (const l of r.route.limits) {
        if (!(l.from <= near.segment && near.segment + 1 <= l.to)) continue;
        const kmh = night ? (l.nightLimitKmh ?? l.speedLimitKmh) : l.speedLimitKmh;
        if (kmh !== undefined) limit = Math.min(limit ?? kmh, kmh);
      }
    }
    for (const z of this.world.zones) {
      if (z.kind !== 'speed' || z.speedLimitKmh === undefined) continue;
      if (!(z.appliesTo ?? ['muck_truck']).includes(this.unit.kind as 'muck_truck')) continue;
      if (!this.world.zoneOpen(z, s.ts) || !inAnyPolygon(z.polygons, pos)) continue;
      limit = Math.min(limit ?? z.speedLimitKmh, z.speedLimitKmh);
    }
    return limit;
  }

  private overspeedStep(s: TrueState, pos: LatLon, valid: CompiledPermit[]): void {
    const limit = this.limitAt(s, pos, valid);
    const over = limit !== undefined && s.speed > limit;
    const e = this.overspeed;
    if (!over) {
      if (e?.qualified) this.add('OVERSPEED', e.start, s.ts, { limitKmh: e.limit, maxSpeedKmh: e.maxKmh });
      this.overspeed = undefined;
      return;
    }
    if (e === undefined) {
      this.overspeed = { start: s.ts, qualified: false, maxKmh: s.speed, limit: limit! };
      return;
    }
    e.maxKmh = Math.max(e.maxKmh, s.speed);
    e.limit = Math.min(e.limit, limit!);
    if (s.ts - e.start >= this.th.overspeedMinMs) e.qualified = true;
  }

  private zoneStep(s: TrueState, pos: LatLon): void {
    for (const z of this.world.zones) {
      if (z.kind !== 'restricted') continue;
      const applies = (z.appliesTo ?? ['muck_truck']).includes(this.unit.kind as 'muck_truck');
      const inside = applies && this.world.zoneOpen(z, s.ts) && inAnyPolygon(z.polygons, pos);
      const since = this.zonesIn.get(z.id);
      if (inside && since === undefined) this.zonesIn.set(z.id, s.ts);
      else if (!inside && since !== undefined) {
        this.add('RESTRICTED_ZONE', since, s.ts, { zone: z.id });
        this.zonesIn.delete(z.id);
      }
    }
  }

  private overloadStep(s: TrueState): void {
    const rated = this.unit.ratedLoadT;
    if (rated === undefined || s.weight === undefined) return;
    const e = this.overload;
    if (s.weight <= rated) {
      if (e?.qualified) this.add('OVERLOAD', e.start, s.ts, { ratedLoadT: rated, maxWeightT: e.max });
      this.overload = undefined;
      return;
    }
    if (e === undefined) this.overload = { start: s.ts, qualified: false, max: s.weight };
    else {
      e.max = Math.max(e.max, s.weight);
      if (s.ts - e.start >= this.th.overloadMinMs) e.qualified = true;
    }
  }

  private allowedSilenceMs(): number {
    return this.th.offlineFactor * this.unit.reportIntervalS * 1000;
  }

  private offlineApplies(last: TrueState): boolean {
    if (last.ign === true) return true;
    const at = last.ts + this.allowedSilenceMs();
    return this.permits.some((p) => inWindowsOnDates(p.windows, p.dates, at));
  }

  private silenceStep(s: TrueState): void {
    const last = this.lastSent;
    this.lastSent = s;
    if (last === undefined) return;
    const gap = s.ts - last.ts;
    const allowed = this.allowedSilenceMs();
    if (gap > allowed && this.offlineApplies(last))
      this.add('OFFLINE', last.ts + allowed, s.ts, { gapMs: gap });
    const impliedKmh = (haversineM(last, s) / gap) * 3600;
    if (gap > this.th.trackGapMs || impliedKmh > this.th.trackGapSpeedKmh)
      this.add('TRACK_GAP', last.ts, s.ts, { gapMs: gap });
  }
}
