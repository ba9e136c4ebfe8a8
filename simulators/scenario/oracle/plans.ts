import { inAnyPolygon } from '../../shared/geo.ts';
import { haversineM, type LatLon } from '../../shared/tracks.ts';
import { Episode, type Reading } from './episode.ts';
import { lineDistanceM, samples, segmentDistanceM } from './plan-geometry.ts';
import type {
  OracleCollectionPoint,
  OracleDutyPlan,
  OraclePlanThresholds,
  OraclePlanWorld,
  OracleSweepPlan,
  PlanOracleUnit,
  PlanTrueState,
} from './plan-world.ts';
import { firstFrom, holding, type LocalWindow, parseLocalWindow, type Span } from './time.ts';
import { sortTruths, TruthRecorder, type TruthType } from './truths.ts';

/**
 * The ground-truth oracle of the sanitation and body-camera rules (issue 15), written like oracle.ts:
 * the domain brief's definitions (shared/domain.md, the text, the thresholds in force) applied to
 * what a unit REALLY did at every step of the simulation (true position, speed, task, brush, bin lifts,
 * recording, battery, storage, docking, SOS; which fixes reached the platform). It imports nothing from
 * geofence/ (test/simulators/oracle-independence.test.ts scans every file of this folder and what it
 * imports): its window occurrences come from time.ts, its distances from plan-geometry.ts and
 * shared/tracks.ts, its episodes from episode.ts, and it keeps no noise allowance
 * (true positions have no noise). A truth starts at the first step its condition holds, for an episode
 * that goes on to meet the rule's minimum (duration, steps).
 *
 * Plans are watched from the first window occurrence that STARTS at or after the unit's first step (a
 * window already running when the unit is first seen is not judged: the "from the first window
 * that starts after the unit is first seen"). Shifts and windows are daily "HH:MM-HH:MM", China Standard
 * Time, belonging to the day they start.
 *
 * Definitions:
 * - MISSED_COLLECTION / LATE_COLLECTION (a vehicle the point names): a visit is a step stopped
 *   (speed <= collectionStopSpeedKmh) within the point's radius, with the task `collecting` or the bin-lift
 *   counter up since the step before. The first visit of a window occurrence in [start, end) serves it;
 *   one in [end, end + collectionLateGraceMs] is LATE (start = the window's end, end = the visit); none
 *   by then is MISSED (start and end = the window's), known once the run passes end + grace.
 * - SWEEP_OVERSPEED: sweeping (brush on or task `sweeping`) faster than sweepSpeedLimitKmh for at least
 *   sweepOverspeedMinMs; ends at the first step not over.
 * - SWEEP_COVERAGE (a vehicle the sweep plan names): at the end of each shift, the share of the plan's
 *   length lying within its corridor of the path the vehicle really swept in the shift (the straight
 *   pieces between consecutive sweeping steps), sampled every 2 m, under sweepCoverageMin: start and
 *   end = the shift's; judged for shifts that end inside the run.
 * - OUT_OF_AREA: in a shift of one of its sweep plans, working a road (brush, sweeping, spraying)
 *   farther than the corridor from every stretch of the plans in shift, for outOfAreaMinMs and
 *   outOfAreaMinFixes steps; ends at the first step of a return lasting outOfAreaEndInsideMs, at once
 *   when it stops working or the shift ends.
 * - Body cameras are on duty in a shift of a duty plan naming the camera or the officer wearing it.
 * - NOT_RECORDING: on duty and not recording for notRecordingMinMs; ends at the first recording step or
 *   off duty (the simulator opens no incidents).
 * - OUT_OF_GRID: on duty outside the duty plan's grid for outOfGridMinMs and outOfGridMinFixes steps;
 *   ends at the first step of a return lasting outOfGridEndInsideMs, at once off duty.
 * - LOW_BATTERY / LOW_STORAGE: on duty, not docked, the reading under lowBatteryPct / lowStorageMB for
 *   lowReadingMinMs (two steps at least); ends when back, docked or off duty.
 * - NOT_UPLOADED: footage recorded (the first recording step since the last docked one) and not docked
 *   within uploadMaxMs: start = first recording + uploadMaxMs, end = the next docked step.
 * - SOS: the button pressed, from the first step with it to the first step without.
 * - OFFLINE (body cameras; vehicles are oracle.ts's): between two fixes that reached the platform, or
 *   after the last, silent for more than max(offlineFactor x the report interval, offlineMinMs) counted
 *   from the later of the last fix and the start of a shift it is silent in: start = that instant,
 *   end = the next fix.
 */

interface PointWatch {
  point: OracleCollectionPoint;
  windows: LocalWindow[];
  occ: Span | undefined;
  visit: number;
}

interface SweepWatch {
  plan: OracleSweepPlan;
  windows: LocalWindow[];
  occ: Span | undefined;
  /** the swept pieces of the shift (consecutive sweeping steps inside it) */
  swept: Array<[LatLon, LatLon]>;
  last: LatLon | undefined;
}

/** The truths of one sanitation vehicle or body camera, fed every step in time order. */
export class PlanUnitOracle extends TruthRecorder {
  private prev: PlanTrueState | undefined;
  private lastSentTs = -1;
  private readonly points: PointWatch[];
  private readonly sweeps: SweepWatch[];
  private readonly sweepWindows: Array<{ plan: OracleSweepPlan; windows: LocalWindow[] }>;
  private readonly duties: Array<{ plan: OracleDutyPlan; windows: LocalWindow[] }>;
  private readonly overspeed: Episode;
  private readonly outOfArea: Episode;
  private readonly notRecording: Episode;
  private readonly outOfGrid: Episode;
  private readonly lowBattery: Episode;
  private readonly lowStorage: Episode;
  private readonly sos: Episode;
  private recordedSince = -1;
  private notUploaded = -1;

  constructor(
    world: OraclePlanWorld,
    private readonly unit: PlanOracleUnit,
    private readonly th: OraclePlanThresholds,
  ) {
    super(unit.id);
    const parse = (ws: readonly string[]) => ws.map(parseLocalWindow);
    this.points = world.collectionPoints
      .filter((p) => p.vehicles.includes(unit.id))
      .map((point) => ({ point, windows: parse(point.windows), occ: undefined, visit: -1 }));
    const sweepPlans = world.sweepPlans.filter((p) => p.vehicles.includes(unit.id));
    this.sweepWindows = sweepPlans.map((plan) => ({ plan, windows: parse(plan.windows) }));
    this.sweeps = sweepPlans.map((plan) => ({
      plan,
      windows: parse(plan.windows),
      occ: undefined,
      swept: [],
      last: undefined,
    }));
    this.duties = world.dutyPlans.map((plan) => ({ plan, windows: parse(plan.windows) }));
    const add = (type: TruthType) => (start: number, end: number | undefined) => this.add(type, start, end);
    this.overspeed = new Episode(
      () => ({ minMs: th.sweepOverspeedMinMs, minSteps: 1, backMs: 0 }),
      add('SWEEP_OVERSPEED'),
    );
    this.outOfArea = new Episode(
      () => ({ minMs: th.outOfAreaMinMs, minSteps: th.outOfAreaMinFixes, backMs: th.outOfAreaEndInsideMs }),
      add('OUT_OF_AREA'),
    );
    this.notRecording = new Episode(
      () => ({ minMs: th.notRecordingMinMs, minSteps: 1, backMs: 0 }),
      add('NOT_RECORDING'),
    );
    this.outOfGrid = new Episode(
      () => ({ minMs: th.outOfGridMinMs, minSteps: th.outOfGridMinFixes, backMs: th.outOfGridEndInsideMs }),
      add('OUT_OF_GRID'),
    );
    const low = () => ({ minMs: th.lowReadingMinMs, minSteps: 2, backMs: 0 });
    this.lowBattery = new Episode(low, add('LOW_BATTERY'));
    this.lowStorage = new Episode(low, add('LOW_STORAGE'));
    this.sos = new Episode(() => ({ minMs: 0, minSteps: 1, backMs: 0 }), add('SOS'));
  }

  observe(s: PlanTrueState, sent: boolean): void {
    const pos: LatLon = { lat: s.lat, lon: s.lon };
    if (this.unit.kind === 'sanitation') {
      this.collectionStep(s, pos);
      this.sweepStep(s, pos);
    } else if (this.unit.kind === 'body_camera') {
      this.cameraStep(s, pos);
      if (sent) {
        if (this.lastSentTs >= 0) this.silence(this.lastSentTs, s.ts, true);
        this.lastSentTs = s.ts;
      }
    }
    this.prev = s;
  }

  finish(endTs: number): void {
    for (const e of [
      this.overspeed,
      this.outOfArea,
      this.notRecording,
      this.outOfGrid,
      this.lowBattery,
      this.lowStorage,
      this.sos,
    ])
      e.finish();
    if (this.unit.kind === 'body_camera') {
      if (this.notUploaded < 0 && this.recordedSince >= 0 && endTs > this.recordedSince + this.th.uploadMaxMs)
        this.notUploaded = this.recordedSince + this.th.uploadMaxMs;
      if (this.notUploaded >= 0) this.add('NOT_UPLOADED', this.notUploaded, undefined);
      if (this.lastSentTs >= 0) this.silence(this.lastSentTs, endTs, false);
    }
    sortTruths(this.truths);
  }

  // --- sanitation ---------------------------------------------------------------------------------------

  private collectionStep(s: PlanTrueState, pos: LatLon): void {
    const p = this.prev;
    const binsUp = p?.binLifts !== undefined && s.binLifts !== undefined && s.binLifts > p.binLifts;
    const stopped = s.speed <= this.th.collectionStopSpeedKmh;
    const working = s.task === 'collecting' || binsUp;
    for (const w of this.points) {
      if (p === undefined) w.occ = firstFrom(w.windows, s.ts);
      let visiting =
        stopped &&
        working &&
        haversineM(pos, { lon: w.point.position[0], lat: w.point.position[1] }) <= w.point.radiusM;
      for (let guard = 0; guard < 64 && w.occ !== undefined; guard++) {
        const occ: Span = w.occ;
        const deadline = occ.end + this.th.collectionLateGraceMs;
        if (visiting && w.visit < 0 && s.ts >= occ.start && s.ts <= deadline) {
          w.visit = s.ts;
          visiting = false;
        }
        if (w.visit >= 0) {
          if (w.visit >= occ.end)
            this.add('LATE_COLLECTION', occ.end, w.visit, { point: w.point.id, lateByMs: w.visit - occ.end });
        } else if (s.ts > deadline) {
          this.add('MISSED_COLLECTION', occ.start, occ.end, { point: w.point.id });
        } else break;
        w.visit = -1;
        w.occ = firstFrom(w.windows, occ.end);
      }
    }
  }

  private sweepStep(s: PlanTrueState, pos: LatLon): void {
    const sweeping = s.brush === true || s.task === 'sweeping';
    const roadWork = sweeping || s.task === 'spraying';
    // SWEEP_OVERSPEED
    this.overspeed.step(sweeping && s.speed > this.th.sweepSpeedLimitKmh ? 'on' : 'off', s.ts);
    // SWEEP_COVERAGE
    for (const w of this.sweeps) {
      if (this.prev === undefined) w.occ = firstFrom(w.windows, s.ts);
      for (let guard = 0; guard < 64 && w.occ !== undefined && s.ts >= w.occ.end; guard++) {
        this.judgeCoverage(w, w.occ);
        w.occ = firstFrom(w.windows, w.occ.end);
        w.swept = [];
        w.last = undefined;
      }
      if (w.occ === undefined) continue;
      if (sweeping && s.ts >= w.occ.start) {
        if (w.last !== undefined) w.swept.push([w.last, pos]);
        w.last = pos;
      } else w.last = undefined;
    }
    // OUT_OF_AREA
    const inShift = this.sweepWindows.filter((x) => holding(x.windows, s.ts) !== undefined);
    let reading: Reading = 'end';
    if (inShift.length > 0 && roadWork) {
      const outside = inShift.every((x) =>
        x.plan.lines.every((l) => lineDistanceM(pos, l) > x.plan.corridorM),
      );
      reading = outside ? 'on' : 'off';
    }
    this.outOfArea.step(reading, s.ts);
  }

  private judgeCoverage(w: SweepWatch, occ: Span): void {
    let total = 0;
    let swept = 0;
    for (const line of w.plan.lines) {
      for (const x of samples(line, 2)) {
        total += x.m;
        if (w.swept.some(([a, b]) => segmentDistanceM(x.p, a, b) <= w.plan.corridorM)) swept += x.m;
      }
    }
    const share = total > 0 ? swept / total : 1;
    if (share < this.th.sweepCoverageMin)
      this.add('SWEEP_COVERAGE', occ.start, occ.end, {
        plan: w.plan.id,
        coveragePct: Math.round(share * 1000) / 10,
      });
  }

  // --- body cameras -------------------------------------------------------------------------------------

  private dutyAt(ts: number, officer: string | undefined): { plan: OracleDutyPlan; shift: Span } | undefined {
    for (const d of this.duties) {
      const named =
        d.plan.cameras.includes(this.unit.id) || (officer !== undefined && d.plan.officers.includes(officer));
      if (!named) continue;
      const shift = holding(d.windows, ts);
      if (shift !== undefined) return { plan: d.plan, shift };
    }
    return undefined;
  }

  private cameraStep(s: PlanTrueState, pos: LatLon): void {
    const duty = this.dutyAt(s.ts, s.officer);
    const docked = s.docked === true;
    const onDuty = duty !== undefined;
    this.notRecording.step(
      !onDuty ? 'end' : s.recording === undefined ? 'skip' : s.recording ? 'off' : 'on',
      s.ts,
    );
    this.outOfGrid.step(!onDuty ? 'end' : inAnyPolygon(duty.plan.polygons, pos) ? 'off' : 'on', s.ts);
    const low = (value: number | undefined, limit: number): Reading =>
      !onDuty || docked ? 'end' : value === undefined ? 'skip' : value < limit ? 'on' : 'off';
    this.lowBattery.step(low(s.battery, this.th.lowBatteryPct), s.ts);
    this.lowStorage.step(low(s.storageFree, this.th.lowStorageMB), s.ts);
    this.sos.step(s.sos === undefined ? 'skip' : s.sos ? 'on' : 'off', s.ts);
    // NOT_UPLOADED
    if (docked) {
      if (this.notUploaded >= 0) this.add('NOT_UPLOADED', this.notUploaded, Math.max(s.ts, this.notUploaded));
      this.notUploaded = -1;
      this.recordedSince = -1;
      return;
    }
    if (this.recordedSince < 0 && s.recording === true) this.recordedSince = s.ts;
    if (this.recordedSince >= 0 && this.notUploaded < 0 && s.ts > this.recordedSince + this.th.uploadMaxMs)
      this.notUploaded = this.recordedSince + this.th.uploadMaxMs;
  }

  /** Camera OFFLINE over the silence between two fixes that arrived (closed) or after the last (open). */
  private silence(from: number, to: number, closed: boolean): void {
    if (this.duties.length === 0) return;
    const allowed = Math.max(this.th.offlineFactor * this.unit.reportIntervalS * 1000, this.th.offlineMinMs);
    if (to - from <= allowed) return;
    const officer = this.prev?.officer;
    // every shift of a plan naming it that overlaps the silence, earliest first
    const shifts: Span[] = [];
    for (const d of this.duties) {
      const named =
        d.plan.cameras.includes(this.unit.id) || (officer !== undefined && d.plan.officers.includes(officer));
      if (!named) continue;
      const first = holding(d.windows, from);
      if (first) shifts.push(first);
      for (let t = from, i = 0; i < 64; i++) {
        const o = firstFrom(d.windows, t);
        if (o === undefined || o.start >= to) break;
        shifts.push(o);
        t = o.start + 1;
      }
    }
    shifts.sort((a, b) => a.start - b.start);
    for (const shift of shifts) {
      const onset = Math.max(from, shift.start) + allowed;
      if (onset < Math.min(to, shift.end)) {
        this.add('OFFLINE', onset, closed ? to : undefined, { gapMs: to - from });
        return;
      }
    }
  }
}
