import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { type Calendar, createEngine, type Engine, type VehicleState } from '../geofence/engine.ts';
import { buildEvidence } from '../geofence/evidence.ts';
import type { RegistrySnapshot } from '../geofence/model.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import { initialTrips, stepTrips, type TripEvent, type TripState, tripInput } from '../geofence/trips.ts';
import type { ViolationEvent, World } from '../geofence/types.ts';
import type { Fix } from '../ingest/fix.ts';
import type { EventStore } from '../store/events-port.ts';
import type { FixStore } from '../store/port.ts';

/**
 * The imperative shell around the pure engine (geofence/engine.ts): keeps the compiled world (recompiled
 * on every registry change), the per-vehicle engine and trip states, and fans the engine's output out:
 *  - every violation event as JSON on MQTT `alerts/{firm}/{vehicle}` (QoS 1),
 *  - on the in-process live bus (`bus`, events 'violation' and 'trip'),
 *  - into the EventStore, batched, retried until stored (never dropped),
 *  - for every closed violation, the evidence package, once the fix store holds the track.
 */

export interface ComplianceSource {
  snapshot(): RegistrySnapshot;
  onChange(listener: () => void): () => void;
}

export interface ComplianceServiceOptions {
  registry: ComplianceSource;
  events: EventStore;
  /** the fix store (evidence tracks) */
  fixes: Pick<FixStore, 'track'>;
  /** QoS 1 publish of alerts; rejections are logged */
  publish: (topic: string, payload: string) => Promise<void>;
  /** records not yet in the fix store (spool depth); evidence waits until it is 0 (or gives up waiting) */
  pendingFixes?: () => number;
  logger: Logger;
  calendar?: Calendar;
  now?: () => number;
  flushIntervalMs?: number;
  tickIntervalMs?: number;
  /** records per EventStore write */
  batchSize?: number;
  /** evidence attempts before giving up (each waits a little longer) */
  evidenceAttempts?: number;
}

export interface ComplianceStatus {
  queuedViolations: number;
  queuedTrips: number;
  pendingEvidence: number;
  storeOk: boolean;
  lastError?: string;
  vehicles: number;
  skippedLate: number;
}

/** Topic of a violation alert. */
export function alertTopic(firm: string, vehicle: string): string {
  const safe = (s: string) => s.replace(/[+#/]/g, '_') || '_';
  return `alerts/${safe(firm)}/${safe(vehicle)}`;
}

export class ComplianceService {
  /** live bus: 'violation' (ViolationEvent), 'trip' (TripEvent) */
  readonly bus = new EventEmitter();
  private readonly engine: Engine;
  private readonly calendar: Calendar;
  private readonly now: () => number;
  private world: World;
  private readonly states = new Map<string, VehicleState>();
  private readonly trips = new Map<string, TripState>();
  private violationQueue: ViolationEvent[] = [];
  private tripQueue: TripEvent[] = [];
  private readonly evidenceJobs = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private storeOk = true;
  private lastError: string | undefined;
  private failures = 0;
  private lastRecompileForUnknown = 0;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: ComplianceServiceOptions) {
    this.calendar = opts.calendar ?? chinaCalendar;
    this.engine = createEngine(ALL_RULES, this.calendar);
    this.now = opts.now ?? Date.now;
    this.world = compileWorld(opts.registry.snapshot());
    this.unsubscribe = opts.registry.onChange(() => this.recompile());
    this.bus.setMaxListeners(0);
  }

  start(): void {
    const flushMs = this.opts.flushIntervalMs ?? 200;
    const tickMs = this.opts.tickIntervalMs ?? 5000;
    this.flushTimer = setInterval(() => void this.flush(), flushMs);
    this.flushTimer.unref();
    this.tickTimer = setInterval(() => this.tick(), tickMs);
    this.tickTimer.unref();
  }

  /** the world violations are currently judged against */
  currentWorld(): World {
    return this.world;
  }

  recompile(): void {
    try {
      this.world = compileWorld(this.opts.registry.snapshot());
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'compliance: could not compile the registry');
    }
  }

  /** Accepted fixes, in order, after they are durable (IngestCore.onFixes). */
  onFixes(fixes: readonly Fix[]): void {
    if (this.stopped) return;
    for (const fix of fixes) {
      try {
        this.stepFix(fix);
      } catch (err) {
        this.opts.logger.error(
          { err: (err as Error).message, vehicle: fix.vehicle, ts: fix.ts },
          'compliance: engine step failed',
        );
      }
    }
  }

  private stepFix(fix: Fix): void {
    // A vehicle registered after the last compile: the world learns of it with a (rate-limited) recompile.
    if (this.world.vehicle(fix.vehicle) === undefined) {
      const now = this.now();
      if (now - this.lastRecompileForUnknown >= 1000) {
        this.lastRecompileForUnknown = now;
        this.recompile();
      }
    }
    const world = this.world;
    const state = this.states.get(fix.vehicle) ?? this.engine.initial(fix.vehicle);
    const result = this.engine.step(state, fix, world);
    this.states.set(fix.vehicle, result.state);
    if (fix.kind === 'muck_truck') {
      const tstate = this.trips.get(fix.vehicle) ?? initialTrips();
      const tr = stepTrips(tstate, tripInput(fix, world, this.calendar), result.events);
      this.trips.set(fix.vehicle, tr.state);
      for (const e of tr.events) this.emitTrip(e);
    }
    for (const e of result.events) this.emitViolation(e, world);
  }

  /** silence detection for every known vehicle */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    const world = this.world;
    for (const [vehicle, state] of this.states) {
      try {
        const result = this.engine.tick(state, now, world);
        if (result.state !== state) this.states.set(vehicle, result.state);
        for (const e of result.events) this.emitViolation(e, world);
      } catch (err) {
        this.opts.logger.error({ err: (err as Error).message, vehicle }, 'compliance: engine tick failed');
      }
    }
  }

  private emitViolation(event: ViolationEvent, world: World): void {
    const v = event.violation;
    this.opts
      .publish(alertTopic(v.firm, v.vehicle), JSON.stringify(event))
      .catch((err: Error) =>
        this.opts.logger.warn({ err: err.message, violation: v.id }, 'compliance: alert publish failed'),
      );
    try {
      this.bus.emit('violation', event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
    this.violationQueue.push(event);
    if (event.phase === 'closed') this.scheduleEvidence(event, world);
  }

  private emitTrip(event: TripEvent): void {
    try {
      this.bus.emit('trip', event);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'compliance: live bus listener failed');
    }
    this.tripQueue.push(event);
  }

  /** Writes the queued events to the EventStore; on failure they stay queued (in order) for the next try. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.violationQueue.length === 0 && this.tripQueue.length === 0) return Promise.resolve();
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const size = this.opts.batchSize ?? 500;
    try {
      while (this.violationQueue.length > 0) {
        const batch = this.violationQueue.slice(0, size);
        await this.opts.events.recordViolations(batch);
        this.violationQueue.splice(0, batch.length);
      }
      while (this.tripQueue.length > 0) {
        const batch = this.tripQueue.slice(0, size);
        await this.opts.events.recordTrips(batch);
        this.tripQueue.splice(0, batch.length);
      }
      if (!this.storeOk) this.opts.logger.info('compliance: event store writes recovered');
      this.storeOk = true;
      this.lastError = undefined;
      this.failures = 0;
    } catch (err) {
      this.storeOk = false;
      this.lastError = (err as Error).message;
      this.failures++;
      // bounded logging: the first failures, then every 50th
      if (this.failures <= 3 || this.failures % 50 === 0)
        this.opts.logger.warn(
          {
            err: this.lastError,
            failures: this.failures,
            queuedViolations: this.violationQueue.length,
            queuedTrips: this.tripQueue.length,
          },
          'compliance: event store write failed; events stay queued',
        );
    }
  }

  private scheduleEvidence(event: ViolationEvent, world: World): void {
    const job = this.buildAndPutEvidence(event, world).finally(() => this.evidenceJobs.delete(job));
    this.evidenceJobs.add(job);
  }

  private async buildAndPutEvidence(event: ViolationEvent, world: World): Promise<void> {
    const v = event.violation;
    const attempts = this.opts.evidenceAttempts ?? 20;
    const from = v.startTs - 2 * 60_000;
    const to = (v.endTs ?? v.startTs) + 2 * 60_000;
    let lastErr: string | undefined;
    for (let i = 0; i < attempts; i++) {
      const waitMs = Math.min(100 * 2 ** i, 5000);
      // The fix that closed the violation is durable in the spool; wait for the pump to store it. Under
      // steady load the spool is rarely empty: after a few tries the track check below decides alone.
      if ((this.opts.pendingFixes?.() ?? 0) > 0 && i < Math.min(5, attempts - 1)) {
        await sleep(waitMs);
        continue;
      }
      try {
        const track = await this.opts.fixes.track({ vehicle: v.vehicle, from, to });
        const endTs = v.endTs ?? v.startTs;
        if (!track.some((f) => f.ts >= endTs) && i < attempts - 1) {
          await sleep(waitMs);
          continue;
        }
        const pkg = buildEvidence(v, track, world);
        for (let j = 0; ; j++) {
          try {
            await this.opts.events.putEvidence(pkg);
            return;
          } catch (err) {
            if (j >= 10 || this.stopped) throw err;
            await sleep(Math.min(200 * 2 ** j, 5000));
          }
        }
      } catch (err) {
        lastErr = (err as Error).message;
        if (this.stopped) break;
        await sleep(waitMs);
      }
    }
    this.opts.logger.warn(
      { violation: v.id, err: lastErr },
      'compliance: could not build the evidence package',
    );
  }

  status(): ComplianceStatus {
    let skippedLate = 0;
    for (const s of this.states.values()) skippedLate += s.skippedLate;
    return {
      queuedViolations: this.violationQueue.length,
      queuedTrips: this.tripQueue.length,
      pendingEvidence: this.evidenceJobs.size,
      storeOk: this.storeOk,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      vehicles: this.states.size,
      skippedLate,
    };
  }

  /** Stops the timers, waits (bounded) for evidence jobs, and flushes the queues (bounded). */
  async stop(budgetMs = 5000): Promise<void> {
    if (this.stopped) return;
    const deadline = Date.now() + budgetMs;
    this.unsubscribe();
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    await Promise.race([Promise.allSettled([...this.evidenceJobs]), sleep(Math.max(0, budgetMs / 2))]);
    this.stopped = true;
    while (this.violationQueue.length + this.tripQueue.length > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.violationQueue.length + this.tripQueue.length > 0) await sleep(100);
    }
    const left = this.violationQueue.length + this.tripQueue.length;
    if (left > 0) this.opts.logger.warn({ left }, 'compliance: events not stored at shutdown');
    this.bus.removeAllListeners();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
