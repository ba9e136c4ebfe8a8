import type { Logger } from 'pino';
import type { Fix } from '../core/fix.ts';
import { withoutRetracted } from '../geofence/backfill.ts';
import { compileWorld } from '../geofence/compile.ts';
import { type Calendar, createEngine, type Engine } from '../geofence/engine.ts';
import { createJudge, type Judge, type JudgeState, newestStepped } from '../geofence/judge.ts';
import type { Outage, PlatformGap } from '../geofence/platform-gaps.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { PlatformOutage, SqliteHistory } from './backfill-history.ts';
import {
  decodeJudgeExtras,
  decodeTripState,
  decodeVehicleState,
  encodeJudgeExtras,
  encodeState,
} from './engine-state-codec.ts';
import type { EvidenceDone, EvidenceDueRow, SavedVehicle, StateBatch } from './engine-state-store.ts';
import { LateFixes, type Rejudgings } from './late-fixes.ts';
import type { ComplianceSource } from './service-options.ts';

/**
 * The driver of the pure engine (compliance/service.ts coordinates it with the outbox, the evidence and
 * the alerts): the compiled world (recompiled on every registry change, and for a vehicle it has not
 * seen), the per-vehicle judge states (geofence/judge.ts: engine, trip tracker, ledger), the late fixes
 * and their history (compliance/late-fixes.ts), and what the steps and ticks produced since the last
 * commit (dirty vehicles, events, the silences the platform's outages voided), which it turns into the
 * commit's batch (`commitWork`). The hot path (`step`) only marks vehicles dirty.
 */

/** What one commit holds and what it found, returned from inside its transaction. */
export interface CommitWork {
  batch: StateBatch;
  late: Rejudgings;
  violations: ViolationEvent[];
  trips: TripEvent[];
  gaps: number;
}

/** What the commit is given besides what the driver holds. */
export interface CommitInput {
  /** the platform's outages in force (re-judgings void the silences they cover) */
  outages: readonly Outage[];
  /** outage records that changed since the last commit */
  changedOutages: readonly PlatformOutage[];
  /** the judgement clock's instant of the last tick, if any */
  tickedTo?: number;
  /** the judgement clock now (a start after this commit knows the platform was up until here) */
  aliveAt: number;
  /** the history older than this (wall ms) is pruned */
  cutoff: number;
  /** outbox rows the EventStore took, evidence packages stored */
  acked: readonly number[];
  evidenceDone: readonly EvidenceDone[];
}

export class EngineDriver {
  readonly engine: Engine;
  /** late fixes and the history they are re-judged from */
  readonly late: LateFixes;
  private readonly judge: Judge;
  private world: World;
  /** per vehicle: the engine, trip tracker and ledger (geofence/judge.ts) */
  private readonly states = new Map<string, JudgeState>();
  /** vehicles whose state changed since the last commit */
  private readonly dirty = new Set<string>();
  /** produced since the last commit (not durable yet) */
  private freshViolations: ViolationEvent[] = [];
  private freshTrips: TripEvent[] = [];
  /** silences the outages voided since the last commit */
  private pendingGaps: PlatformGap[] = [];
  private lastRecompileForUnknown = 0;

  constructor(
    private readonly registry: ComplianceSource,
    calendar: Calendar,
    private readonly logger: Logger,
  ) {
    this.engine = createEngine(ALL_RULES, calendar);
    this.judge = createJudge(this.engine);
    this.late = new LateFixes(this.judge, logger);
    this.world = compileWorld(registry.snapshot());
  }

  /** the world violations are currently judged against */
  currentWorld(): World {
    return this.world;
  }

  recompile(): void {
    try {
      this.world = compileWorld(this.registry.snapshot());
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'compliance: could not compile the registry');
    }
  }

  /** Reads back the saved states; returns the newest fix among them (-Infinity when none). */
  restore(vehicles: readonly SavedVehicle[]): number {
    let newestFix = Number.NEGATIVE_INFINITY;
    for (const v of vehicles) {
      try {
        const engine = decodeVehicleState(v.engine);
        const trips = v.trips !== undefined ? decodeTripState(v.trips) : undefined;
        this.states.set(v.vehicle, {
          engine,
          ...(trips !== undefined ? { trips } : {}),
          ...decodeJudgeExtras(v.judge),
        });
        if (engine.last !== undefined && engine.last.ts > newestFix) newestFix = engine.last.ts;
      } catch (err) {
        this.logger.error(
          { err: (err as Error).message, vehicle: v.vehicle },
          'compliance: unreadable saved state',
        );
      }
    }
    return newestFix;
  }

  get vehicles(): number {
    return this.states.size;
  }

  /** the kind of the vehicle as last heard, else as registered */
  kindOf(vehicle: string): Fix['kind'] | undefined {
    return this.states.get(vehicle)?.engine.last?.kind ?? this.world.vehicle(vehicle)?.kind;
  }

  /** One accepted fix: judged now when in order, else queued for the next commit's re-judging. */
  step(fix: Fix, outages: readonly Outage[]): void {
    // A vehicle registered after the last compile: the world learns of it with a (rate-limited) recompile.
    if (this.world.vehicle(fix.vehicle) === undefined) {
      const now = Date.now();
      if (now - this.lastRecompileForUnknown >= 1000) {
        this.lastRecompileForUnknown = now;
        this.recompile();
      }
    }
    const world = this.world;
    const vehicle = fix.vehicle;
    const state = this.states.get(vehicle) ?? this.judge.initial(vehicle);
    // the newest fix stepped: a suspect held back by the outlier screen (geofence/outliers.ts) counts
    const prevTs = newestStepped(state);
    if (prevTs !== undefined && fix.ts <= prevTs) {
      // late (or a duplicate of the newest): judged in time order at the next flush
      this.late.queue(fix);
      return;
    }
    const out = this.judge.step(state, fix, world, outages);
    this.states.set(vehicle, out.state);
    this.dirty.add(vehicle);
    this.late.stepped(fix, prevTs, out);
    for (const g of out.gaps) this.pendingGaps.push(g);
    for (const e of out.trips) this.freshTrips.push(e);
    for (const e of out.events) this.freshViolations.push(e);
  }

  /** Silence detection for every known vehicle at the judgement clock's instant `now`. */
  tick(now: number, outages: readonly Outage[]): void {
    const world = this.world;
    for (const [vehicle, state] of this.states) {
      try {
        const out = this.judge.tick(state, now, world, outages);
        if (out.state !== state) {
          this.states.set(vehicle, out.state);
          this.dirty.add(vehicle);
        }
        for (const g of out.gaps) this.pendingGaps.push(g);
        // the newest fix stepped (a held suspect included): the history's checkpoints are taken at it
        const afterTs = newestStepped(state);
        if (out.events.length > 0 && afterTs !== undefined) this.late.ticked(vehicle, afterTs, out.events);
        for (const e of out.events) this.freshViolations.push(e);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, vehicle }, 'compliance: engine tick failed');
      }
    }
  }

  /**
   * Violations opened and not closed, by code, read from the engine states at scrape time (so a restart,
   * which restores the states, restores the count too). Every rule keeps what it has open in its
   * slice's `open`: one violation, an array of them (zones), or null/undefined.
   */
  openViolationsByCode(): Map<string, number> {
    const out = new Map<string, number>();
    const add = (v: unknown) => {
      const code = (v as { code?: unknown } | null)?.code;
      if (typeof code === 'string') out.set(code, (out.get(code) ?? 0) + 1);
    };
    for (const state of this.states.values()) {
      for (const slice of state.engine.slices) {
        const open = (slice as { open?: unknown } | null)?.open;
        if (Array.isArray(open)) for (const v of open) add(v);
        else if (open) add(open);
      }
    }
    return out;
  }

  /** Data-quality figures over all vehicles: fixes not judged, sensor glitches, outliers. */
  figures(): { skippedLate: number; sensorGlitches: number; outlierFixes: number } {
    let skippedLate = this.late.figures.beyondHistory;
    let sensorGlitches = 0;
    let outlierFixes = 0;
    for (const s of this.states.values()) {
      skippedLate += s.engine.skippedLate;
      sensorGlitches += s.engine.load.gl;
      outlierFixes += s.engine.outliers;
    }
    return { skippedLate, sensorGlitches, outlierFixes };
  }

  /** whether anything waits for a commit */
  get changed(): boolean {
    return (
      this.dirty.size > 0 ||
      this.freshViolations.length > 0 ||
      this.freshTrips.length > 0 ||
      this.late.pending ||
      this.pendingGaps.length > 0
    );
  }

  /** events produced and not yet handed to the outbox */
  get freshCounts(): { violations: number; trips: number } {
    return { violations: this.freshViolations.length, trips: this.freshTrips.length };
  }

  /**
   * Inside the commit's transaction: the history of this flush, the re-judgings, the batch. Changes no
   * field of the driver (the transaction may still fail): what it found is returned.
   */
  commitWork(history: SqliteHistory, input: CommitInput): CommitWork {
    const late = this.late.write(history, {
      world: this.world,
      outages: input.outages,
      ...(input.tickedTo !== undefined ? { tickedTo: input.tickedTo } : {}),
    });
    const gaps = [...this.pendingGaps, ...late.gaps];
    const { violations, trips } = withoutRetracted(
      [...this.freshViolations, ...late.violations],
      [...this.freshTrips, ...late.trips],
    );
    const states: SavedVehicle[] = [];
    for (const vehicle of new Set([...this.dirty, ...late.states.keys()])) {
      const state = late.states.get(vehicle) ?? this.states.get(vehicle);
      if (state === undefined) continue;
      states.push({
        vehicle,
        engine: encodeState(state.engine),
        trips: state.trips ? encodeState(state.trips) : undefined,
        judge: encodeJudgeExtras(state),
      });
    }
    // a closed violation's evidence is due from this commit on (evidence-queue.ts picks it up), and a
    // withdrawn one's again: its package says so (a due row holds the violation's latest event)
    const evidenceDue: EvidenceDueRow[] = [];
    for (const e of violations) {
      if (e.phase === 'closed' || e.phase === 'withdrawn')
        evidenceDue.push({ violationId: e.violation.id, body: JSON.stringify(e) });
    }
    const batch: StateBatch = {
      states,
      outbox: [
        ...violations.map((e) => ({ kind: 'violation' as const, body: JSON.stringify(e) })),
        ...trips.map((e) => ({ kind: 'trip' as const, body: JSON.stringify(e) })),
      ],
      acked: input.acked,
      evidenceDue,
      evidenceDone: input.evidenceDone,
      aliveAt: input.aliveAt,
      outages: input.changedOutages,
      gaps,
      prune: { vehicles: this.late.pruneBatch(), cutoff: input.cutoff },
    };
    // counted only once the transaction is through (see the service's persist)
    return { batch, late, violations, trips, gaps: gaps.length };
  }

  /** The commit holds them: apply the re-judged states and let the history, late fixes, gaps go. */
  committed(done: CommitWork): void {
    for (const [vehicle, state] of done.late.states) this.states.set(vehicle, state);
    this.late.committed(done.late);
    this.pendingGaps = [];
    this.dirty.clear();
  }

  /**
   * The commit failed: the states stay dirty, the history and the late fixes wait for the next try;
   * the events of in-order fixes go on from memory (returned, less those opened and withdrawn at once).
   */
  notCommitted(): { violations: ViolationEvent[]; trips: TripEvent[] } {
    this.late.failed();
    return withoutRetracted(this.freshViolations, this.freshTrips);
  }

  /** the fresh events are in the outbox now */
  handedOver(): void {
    this.freshViolations = [];
    this.freshTrips = [];
  }
}
