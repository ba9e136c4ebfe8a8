import { allPages } from './api.ts';
import { LiveStream, type StreamState } from './stream.ts';

/**
 * The live store every view reads (as traccar-web's one store behind its map, list and reports): the
 * latest position of every unit and the violations seen, kept current by the two live streams, seeded
 * from GET /positions and GET /violations. Views subscribe to changes; the map draws in batches
 * (map/units-layer.ts), lists re-render when they please.
 */

export type UnitKind = 'muck_truck' | 'sanitation' | 'body_camera';
export type UnitState = 'moving' | 'stopped' | 'offline' | 'violation';

/** A position as the API serves it (GET /positions, live `position` events). */
export interface Position {
  vehicle: string;
  device: string;
  kind: UnitKind;
  firm: string;
  lat: number;
  lon: number;
  ts: string;
  received: string;
  valid: boolean;
  plate?: string;
  speed?: number;
  heading?: number;
  ign?: boolean;
  load?: 'empty' | 'half' | 'full';
  weight?: number;
  cover?: 'open' | 'closed';
  lift?: 'up' | 'down';
  task?: string;
  brush?: boolean;
  binLifts?: number;
  recording?: boolean;
  battery?: number;
  officer?: string;
  sos?: boolean;
  docked?: boolean;
  [field: string]: unknown;
}

export interface Violation {
  id: string;
  code: string;
  vehicle: string;
  firm: string;
  permit?: string;
  startTs: number;
  endTs?: number;
  detectedTs?: number;
  startAt: string;
  endAt?: string;
  durationMs?: number;
  level: number;
  startPos: [number, number];
  lastPos: [number, number];
  /** the engine's lifecycle; `withdrawn`: late fixes judged in time order showed it did not happen as raised */
  phase: 'opened' | 'updated' | 'closed' | 'withdrawn';
  status: 'open' | 'acknowledged' | 'disputed' | 'confirmed' | 'closed';
  refs: Array<{ kind: string; id: string; version: number }>;
  thresholds: Record<string, unknown>;
  details: Record<string, unknown>;
  ruleVersion: number;
}

export interface Unit {
  id: string;
  /** a small number per unit for the map's feature ids (stable for the page's life) */
  seq: number;
  pos: Position;
  tsMs: number;
  state: UnitState;
}

/** Silent this long: drawn as offline (the platform's own OFFLINE rule is stricter, this is a colour). */
export const OFFLINE_AFTER_MS = 10 * 60_000;
/** Slower than this: stopped (the domain's threshold for a stopped truck). */
export const MOVING_KMH = 3;

type UnitsListener = (changed: ReadonlySet<string>, receivedAt: readonly number[]) => void;
type ViolationListener = (v: Violation, phase: Violation['phase'], fresh: boolean) => void;

export class LiveStore {
  readonly units = new Map<string, Unit>();
  readonly violations = new Map<string, Violation>();
  /** ongoing violations (engine phase not closed) by unit */
  readonly ongoing = new Map<string, Set<string>>();
  readonly streams: { positions?: LiveStream; violations?: LiveStream } = {};
  /** events received per stream (the benchmark and the tests read it) */
  readonly received = { positions: 0, violations: 0 };
  private nextSeq = 1;
  private readonly unitListeners = new Set<UnitsListener>();
  private readonly violationListeners = new Set<ViolationListener>();
  private readonly stateListeners = new Set<(state: StreamState) => void>();
  private readonly ageTimer: ReturnType<typeof setInterval>;

  constructor(private readonly now: () => number = Date.now) {
    // Offline is a matter of time passing, not of events: re-judged every 15 s.
    this.ageTimer = setInterval(() => this.reage(), 15_000);
  }

  onUnits(listener: UnitsListener): () => void {
    this.unitListeners.add(listener);
    return () => this.unitListeners.delete(listener);
  }

  onViolation(listener: ViolationListener): () => void {
    this.violationListeners.add(listener);
    return () => this.violationListeners.delete(listener);
  }

  onStreamState(listener: (state: StreamState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** The worse of the two streams' states: what the page says about its connection. */
  streamState(): StreamState {
    const states = [this.streams.positions?.state, this.streams.violations?.state];
    for (const s of ['reconnecting', 'connecting', 'live'] as const) if (states.includes(s)) return s;
    return 'stopped';
  }

  /** Opens the streams first, then loads the current state: nothing published meanwhile is missed. */
  async start(streams: ReadonlyArray<'positions' | 'violations'>): Promise<void> {
    const stateChanged = () => {
      const s = this.streamState();
      for (const l of this.stateListeners) l(s);
    };
    if (streams.includes('positions')) {
      this.streams.positions = new LiveStream('positions', {
        event: (data, at) => this.applyPositions([data as Position], at),
        reset: () => void this.loadPositions(),
        state: stateChanged,
      });
      this.streams.positions.start();
    }
    if (streams.includes('violations')) {
      this.streams.violations = new LiveStream('violations', {
        event: (data, at) => {
          const e = data as { phase: Violation['phase']; violation: Omit<Violation, 'phase' | 'status'> };
          this.received.violations++;
          void at;
          this.applyViolation(
            { ...e.violation, phase: e.phase, status: this.violations.get(e.violation.id)?.status ?? 'open' },
            true,
          );
        },
        reset: () => void this.loadViolations(),
        state: stateChanged,
      });
      this.streams.violations.start();
    }
    await Promise.all([
      streams.includes('positions') ? this.loadPositions() : undefined,
      streams.includes('violations') ? this.loadViolations() : undefined,
    ]);
  }

  stop(): void {
    clearInterval(this.ageTimer);
    this.streams.positions?.stop();
    this.streams.violations?.stop();
  }

  async loadPositions(): Promise<void> {
    const items = await allPages<Position>('/positions', { limit: 10_000 }, 1_000_000);
    this.applyPositions(items, performance.now(), false);
  }

  async loadViolations(): Promise<void> {
    const items = await allPages<Violation>('/violations', { phase: 'ongoing', limit: 1000 }, 20_000);
    for (const v of items) this.applyViolation(v, false);
  }

  /** Positions in; a unit keeps the newest fix it has seen (a snapshot may be older than a live event). */
  applyPositions(items: readonly Position[], receivedAt: number, live = true): void {
    const changed = new Set<string>();
    const now = this.now();
    for (const p of items) {
      if (live) this.received.positions++;
      const tsMs = Date.parse(p.ts);
      const unit = this.units.get(p.vehicle);
      if (unit === undefined) {
        const u: Unit = { id: p.vehicle, seq: this.nextSeq++, pos: p, tsMs, state: 'stopped' };
        u.state = this.stateOf(u, now);
        this.units.set(p.vehicle, u);
      } else {
        if (tsMs < unit.tsMs) continue;
        unit.pos = p;
        unit.tsMs = tsMs;
        unit.state = this.stateOf(unit, now);
      }
      changed.add(p.vehicle);
    }
    if (changed.size === 0) return;
    const stamps = live ? new Array<number>(items.length).fill(receivedAt) : [];
    for (const l of this.unitListeners) l(changed, stamps);
  }

  applyViolation(v: Violation, fresh: boolean): void {
    const known = this.violations.get(v.id);
    const merged = known ? { ...known, ...v } : v;
    // A withdrawn violation is no longer held against anyone: it leaves the store (the API's lists leave it
    // out too); the listeners still hear of it so that views drop it.
    if (v.phase === 'withdrawn') this.violations.delete(v.id);
    else this.violations.set(v.id, merged);
    const set = this.ongoing.get(v.vehicle) ?? new Set<string>();
    if (v.phase === 'closed' || v.phase === 'withdrawn') set.delete(v.id);
    else set.add(v.id);
    if (set.size > 0) this.ongoing.set(v.vehicle, set);
    else this.ongoing.delete(v.vehicle);
    const unit = this.units.get(v.vehicle);
    if (unit) {
      const state = this.stateOf(unit, this.now());
      if (state !== unit.state) {
        unit.state = state;
        for (const l of this.unitListeners) l(new Set([unit.id]), []);
      }
    }
    for (const l of this.violationListeners) l(merged, v.phase, fresh);
  }

  /** A status change made through the API (the live stream carries the engine's phases only). */
  setStatus(id: string, status: Violation['status']): void {
    const v = this.violations.get(id);
    if (v) this.violations.set(id, { ...v, status });
  }

  stateOf(unit: Unit, now: number): UnitState {
    if (this.ongoing.has(unit.id)) return 'violation';
    if (now - unit.tsMs > OFFLINE_AFTER_MS) return 'offline';
    return (unit.pos.speed ?? 0) >= MOVING_KMH ? 'moving' : 'stopped';
  }

  private reage(): void {
    const now = this.now();
    const changed = new Set<string>();
    for (const u of this.units.values()) {
      const s = this.stateOf(u, now);
      if (s !== u.state) {
        u.state = s;
        changed.add(u.id);
      }
    }
    if (changed.size > 0) for (const l of this.unitListeners) l(changed, []);
  }
}
