import { inAnyPolygon, nearestOnLine } from '../../shared/geo.ts';
import { haversineM, type LatLon } from '../../shared/tracks.ts';
import { CargoOracle } from './cargo.ts';
import { inLocalWindows } from './time.ts';
import { sortTruths, TruthRecorder, type TruthType } from './truths.ts';
import {
  type CompiledPermit,
  covering,
  inForce,
  loadedOf,
  type OracleThresholds,
  type OracleUnit,
  type OracleWorld,
  type TrueState,
} from './world.ts';

/**
 * The ground-truth oracle: the domain brief's rule definitions (shared/domain.md, thresholds in force)
 * applied to what a unit REALLY did, step by step: its true position (no GNSS noise, no drift, no
 * multipath), true speed, load, weight, cover and lift (no sensor glitch), which fixes really reached
 * the platform (live or backfilled later), and the permits really in force (a revocation during the run
 * included). It is deliberately simple and written independently of geofence/: it imports nothing from
 * it, not even types (test/simulators/oracle-independence.test.ts scans this file and what it imports), keeps
 * its own local-time code (time.ts), and has no hysteresis, no noise allowances, no indexes. Its
 * job is to say what a perfect and fair detector should report, so the engine's detections can be scored.
 *
 * Time resolution: the simulation's steps (every report instant, sent or not). A truth's start is the
 * first step at which the rule's condition holds, for an episode that goes on to meet the rule's
 * minimum (duration, fix count); its end is the first step at which the episode is over.
 *
 * Definitions (domain.md), per unit kind; "in force" = a permit of the vehicle valid on the local date
 * or inside one of its windows that started on a valid date, and not revoked by then:
 * - OFF_ROUTE (muck, loaded, a permit in force naming routes): farther than the corridor from every
 *   permitted route and inside none of the permit's sites; qualifies at >= offRouteMinMs outside or
 *   >= offRouteMinFixes consecutive steps outside (a pending episode is broken by any step inside); ends
 *   at the first step of an inside run lasting >= offRouteEndInsideMs.
 * - OFF_HOURS (muck, loaded, a permit in force but no window covering the instant): moving
 *   > offHoursSpeedKmh; stops shorter than offHoursMinMs do not break it; qualifies at offHoursMinMs of
 *   it; ends when covered, unloaded, or at the first step of a stop lasting offHoursMinMs.
 * - NO_PERMIT (muck): a loading with no permit in force, or loaded movement (> offHoursSpeedKmh) with no
 *   permit in force lasting noPermitMovingMinMs (start: its first step; stops do not break it): a permit
 *   revoked mid-trip, or the last window over; ends at the next unloading or when a permit is in force.
 * - Loadings and unloadings (muck; one per load, a cargo latch): loading = load empty -> half/full, or
 *   the weight rising > dumpWeightDropT while stopped; unloading = lift up (moving or not), or while
 *   stopped (< suspectedDumpSpeedKmh) load -> empty or the weight falling > dumpWeightDropT. True readings
 *   never glitch, so the persistence the rules ask for holds by construction.
 * - ILLEGAL_DUMP: an unloading outside every disposal site; instantaneous.
 * - WRONG_SITE (muck, a permit in force): an unloading inside a disposal site (a loading inside an
 *   origin site) that no permit in force names; instantaneous.
 * - SUSPECTED_DUMP (muck): loaded, slower than suspectedDumpSpeedKmh, inside no site, for MORE than
 *   suspectedDumpMinMs.
 * - SPILLAGE (muck): loaded, moving > spillageSpeedKmh with the cover open for >= spillageMinMs (start:
 *   the first such step); or weight loss: in a moving run (lift down) that began loaded, the weight falls
 *   more than spillageWeightDropT below the run's first weight (start: that step), and sensorConfirmMs
 *   later it is still more than half of that down (not back within 60 s); from then on while the run
 *   lasts (lift up drops it). One episode while either holds.
 * - OVERSPEED (not body cameras): faster than the lowest limit in force for >= overspeedMinMs: the
 *   stretch limit of a permitted route when within its corridor (night limit in the night windows), a
 *   speed zone in its hours for the kind, and the city default for the kind (day, or night in the night
 *   windows) everywhere.
 * - RESTRICTED_ZONE (kinds the zone applies to): inside a restricted zone while it is closed (its
 *   windows; none = always) for >= restrictedZoneMinFixes steps or >= restrictedZoneMinMs.
 * - OVERLOAD (muck with a rated load): weight above it for >= overloadMinMs.
 * - OFFLINE: between two sent fixes, more than max(offlineFactor x the nominal report interval,
 *   offlineMinMs) while the earlier one had the ignition on, or was a muck truck loaded outside every
 *   site (ignition off is the terminal asleep); start = that fix + the allowance, end = the next fix.
 * - TRACK_GAP: two consecutive sent fixes more than trackGapMs apart while moving (it moved more than
 *   50 m, or a speed above 5 km/h at either), or (true positions) implying more than trackGapSpeedKmh;
 *   start = the earlier fix, end = the later one.
 */

/** A truck moving slower than this is not moving for TRACK_GAP (as for SPILLAGE: 5 km/h). */
const MOVING_KMH = 5;
/** A true displacement beyond this between two fixes is movement for TRACK_GAP. */
const MOVED_M = 50;

interface Run {
  start: number;
  qualified: boolean;
}

/** The truths of one unit, fed every step in time order. */
export class UnitOracle extends TruthRecorder {
  private readonly th: OracleThresholds;
  private readonly permits: CompiledPermit[];
  private prev: TrueState | undefined;
  private lastSent: TrueState | undefined;
  // OFF_ROUTE
  private offRoute: (Run & { outSteps: number; inSince: number }) | undefined;
  // OFF_HOURS
  private offHours: (Run & { stopSince: number }) | undefined;
  private suspected: Run | undefined;
  /** loadings and unloadings, NO_PERMIT, ILLEGAL_DUMP, WRONG_SITE, SPILLAGE */
  private readonly cargo: CargoOracle;
  private overspeed: (Run & { maxKmh: number; limit: number }) | undefined;
  private readonly zonesIn = new Map<string, { start: number; steps: number }>();
  private overload: (Run & { max: number }) | undefined;

  constructor(
    private readonly world: OracleWorld,
    private readonly unit: OracleUnit,
  ) {
    super(unit.id);
    this.th = world.thresholds;
    this.permits = world.permitsOf(unit.id);
    this.cargo = new CargoOracle(world, this.th, (type, start, end, details) =>
      this.add(type, start, end, details),
    );
  }

  /** True while some rule's condition holds (a device reports at its alarm interval then). */
  alarm(): boolean {
    return (
      this.offRoute !== undefined ||
      this.offHours !== undefined ||
      this.cargo.alarm() ||
      this.suspected !== undefined ||
      this.overspeed !== undefined ||
      this.zonesIn.size > 0 ||
      this.overload !== undefined
    );
  }

  observe(s: TrueState, sent: boolean): void {
    const muck = this.unit.kind === 'muck_truck';
    const pos: LatLon = { lat: s.lat, lon: s.lon };
    const valid = this.permits.filter((p) => inForce(p, s.ts));
    if (muck) {
      const loaded = loadedOf(s, this.th);
      this.offRouteStep(s, pos, loaded, valid);
      this.offHoursStep(s, loaded, valid);
      this.cargo.loadEvents(s, this.prev, pos, valid);
      this.cargo.noPermitMoving(s, loaded, valid);
      this.suspectedStep(s, pos, loaded);
      this.cargo.spillage(s, this.prev, loaded);
      this.overloadStep(s);
    }
    if (this.unit.kind !== 'body_camera') this.overspeedStep(s, pos, valid);
    this.zoneStep(s, pos);
    if (sent) this.silenceStep(s);
    this.prev = s;
  }

  /** Episodes still going on at the end of the run are recorded without an end (qualified ones only). */
  finish(endTs: number): void {
    const openEnd = (type: TruthType, r: Run | undefined, details: Record<string, number | string> = {}) => {
      if (r?.qualified) this.add(type, r.start, undefined, details);
    };
    openEnd('OFF_ROUTE', this.offRoute);
    openEnd('OFF_HOURS', this.offHours);
    this.cargo.finishNoPermit();
    openEnd('SUSPECTED_DUMP', this.suspected);
    this.cargo.finishSpill();
    openEnd('OVERSPEED', this.overspeed);
    for (const [zone, e] of this.zonesIn)
      if (this.zoneQualified(e, endTs)) this.add('RESTRICTED_ZONE', e.start, undefined, { zone });
    openEnd('OVERLOAD', this.overload);
    const last = this.lastSent;
    if (last && this.offlineApplies(last)) {
      const allowed = this.allowedSilenceMs();
      if (endTs - last.ts > allowed) this.add('OFFLINE', last.ts + allowed, undefined);
    }
    sortTruths(this.truths);
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
    const covered = this.permits.some((p) => covering(p, s.ts));
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

  private limitAt(s: TrueState, pos: LatLon, valid: CompiledPermit[]): number | undefined {
    let limit: number | undefined;
    const night = inLocalWindows(this.world.nightWindows, s.ts);
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
    const kind = this.unit.kind as 'muck_truck';
    const day = this.th.defaultSpeedLimitKmh[kind];
    const fallback = night ? (this.th.defaultNightSpeedLimitKmh[kind] ?? day) : day;
    if (fallback !== undefined) limit = Math.min(limit ?? fallback, fallback);
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

  private zoneQualified(e: { start: number; steps: number }, ts: number): boolean {
    return e.steps >= this.th.restrictedZoneMinFixes || ts - e.start >= this.th.restrictedZoneMinMs;
  }

  private zoneStep(s: TrueState, pos: LatLon): void {
    for (const z of this.world.zones) {
      if (z.kind !== 'restricted') continue;
      const applies = (z.appliesTo ?? ['muck_truck']).includes(this.unit.kind as 'muck_truck');
      const inside = applies && this.world.zoneOpen(z, s.ts) && inAnyPolygon(z.polygons, pos);
      const e = this.zonesIn.get(z.id);
      if (inside) {
        if (e === undefined) this.zonesIn.set(z.id, { start: s.ts, steps: 1 });
        else e.steps++;
      } else if (e !== undefined) {
        // the last step inside is the previous one: the episode lasted until then
        const lastInside = this.prev?.ts ?? e.start;
        if (this.zoneQualified(e, lastInside)) this.add('RESTRICTED_ZONE', e.start, s.ts, { zone: z.id });
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
    return Math.max(this.th.offlineFactor * this.unit.reportIntervalS * 1000, this.th.offlineMinMs);
  }

  /** The terminal should have reported: ignition on, or a muck truck loaded outside every site. */
  private offlineApplies(last: TrueState): boolean {
    if (last.ign === true) return true;
    if (this.unit.kind !== 'muck_truck' || !loadedOf(last, this.th)) return false;
    const pos: LatLon = { lat: last.lat, lon: last.lon };
    return !this.world.sites.some((x) => inAnyPolygon(x.polygons, pos));
  }

  private silenceStep(s: TrueState): void {
    const last = this.lastSent;
    this.lastSent = s;
    if (last === undefined) return;
    const gap = s.ts - last.ts;
    const allowed = this.allowedSilenceMs();
    if (gap > allowed && this.offlineApplies(last))
      this.add('OFFLINE', last.ts + allowed, s.ts, { gapMs: gap });
    const distanceM = haversineM(last, s);
    const impliedKmh = (distanceM / gap) * 3600;
    const moving = distanceM > MOVED_M || last.speed > MOVING_KMH || s.speed > MOVING_KMH;
    if ((gap > this.th.trackGapMs && moving) || impliedKmh > this.th.trackGapSpeedKmh)
      this.add('TRACK_GAP', last.ts, s.ts, { gapMs: gap });
  }
}
