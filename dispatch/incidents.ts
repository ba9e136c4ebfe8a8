import type { Fix } from '../core/fix.ts';
import { metresPerDegree } from '../geofence/geo/ruler.ts';
import type { Incident } from '../geofence/plans.ts';
import { type ComplianceRegistry, ConflictError, NotFoundError } from '../registry/compliance.ts';
import { ValidationError } from '../registry/geometry.ts';

/**
 * The dispatch desk (issue 15, item 5): incidents created at a point, assigned to a unit, the unit's
 * arrival (its first fix within the incident's radius) and the closing, each a new version of the
 * incident in the compliance registry, so the record of an incident is its version history (who, when)
 * and the engine sees the assignment in its world (NOT_RECORDING judges an assigned body camera on the
 * incident's policy; dispatch/live-units.ts counts an assigned unit as not available).
 *
 * Arrival is watched here, on the accepted fixes: only the units assigned to an open incident not yet
 * reached are looked at (a map lookup per fix), and the arrival instant is the fix's own.
 */

export interface NewIncident {
  lat: number;
  lon: number;
  title: string;
  radiusM?: number;
}

export const DEFAULT_INCIDENT_RADIUS_M = 50;

type Registry = Pick<ComplianceRegistry, 'get' | 'put' | 'list'>;

export class IncidentDesk {
  /** unit -> the open incident it is assigned to and has not reached yet */
  private readonly awaited = new Map<string, string>();
  /** unit -> the open incident it is assigned to */
  private readonly assigned = new Map<string, string>();

  constructor(
    private readonly deps: {
      registry: Registry;
      /** the judgement clock (the fixes' time base) */
      now: () => number;
      /** whether a unit can be assigned: it has reported a position */
      known: (unit: string) => boolean;
      /** an arrival that could not be recorded (the registry refused the write) */
      onError?: (err: unknown) => void;
    },
  ) {
    for (const i of deps.registry.list('incident')) this.track(i);
  }

  private track(i: Incident): void {
    if (i.unit === undefined) return;
    if (i.closedAt !== undefined) {
      if (this.assigned.get(i.unit) === i.id) this.assigned.delete(i.unit);
      if (this.awaited.get(i.unit) === i.id) this.awaited.delete(i.unit);
      return;
    }
    this.assigned.set(i.unit, i.id);
    if (i.arrivedAt === undefined) this.awaited.set(i.unit, i.id);
    else this.awaited.delete(i.unit);
  }

  private write(i: Omit<Incident, 'version'>, actor: string, ifVersion?: number): Incident {
    const opts = ifVersion === undefined ? { actor } : { actor, ifVersion };
    const stored = this.deps.registry.put('incident', i, opts);
    this.track(stored);
    return stored;
  }

  private current(id: string): Incident {
    const i = this.deps.registry.get('incident', id);
    if (i === undefined) throw new NotFoundError('incident', id);
    return i;
  }

  /** The open incident a unit is assigned to, if any. */
  assignmentOf(unit: string): string | undefined {
    return this.assigned.get(unit);
  }

  create(input: NewIncident, actor: string): Incident {
    return this.write(
      {
        id: `incident-${crypto.randomUUID()}`,
        title: input.title,
        position: [input.lon, input.lat],
        radiusM: input.radiusM ?? DEFAULT_INCIDENT_RADIUS_M,
        openedAt: this.deps.now(),
      },
      actor,
      0,
    );
  }

  /**
   * Assigns the unit (a new version). A reassignment replaces the unit and its arrival; refused (409) when
   * the incident is closed or the unit is on another open incident; 400 when the unit never reported.
   */
  assign(id: string, unit: string, actor: string, ifVersion?: number): Incident {
    const i = this.current(id);
    if (i.closedAt !== undefined) throw new ConflictError(`incident '${id}' is closed`, 'transition');
    const busy = this.assigned.get(unit);
    if (busy !== undefined && busy !== id) {
      throw new ConflictError(`unit '${unit}' is assigned to the open incident '${busy}'`, 'transition');
    }
    if (!this.deps.known(unit)) {
      throw new ValidationError([{ path: 'unit', message: `unit '${unit}' has not reported a position` }]);
    }
    const { version, arrivedAt: _a, ...rest } = i;
    if (i.unit !== undefined && i.unit !== unit) {
      this.assigned.delete(i.unit);
      this.awaited.delete(i.unit);
    }
    return this.write({ ...rest, unit, assignedAt: this.deps.now() }, actor, ifVersion ?? version);
  }

  close(id: string, actor: string, ifVersion?: number): Incident {
    const i = this.current(id);
    if (i.closedAt !== undefined) throw new ConflictError(`incident '${id}' is closed`, 'transition');
    const { version, ...rest } = i;
    return this.write({ ...rest, closedAt: this.deps.now() }, actor, ifVersion ?? version);
  }

  /** Records the arrival of assigned units: their first fix, at or after the assignment, within the radius. */
  onFixes(fixes: readonly Fix[]): void {
    if (this.awaited.size === 0) return;
    for (const f of fixes) {
      if (!f.valid) continue;
      const id = this.awaited.get(f.vehicle);
      if (id === undefined) continue;
      const i = this.deps.registry.get('incident', id);
      if (i === undefined || i.closedAt !== undefined || i.arrivedAt !== undefined) {
        this.awaited.delete(f.vehicle);
        continue;
      }
      if (f.ts < i.assignedAt!) continue;
      const { kx, ky } = metresPerDegree(f.lat);
      const d = Math.hypot((f.lon - i.position[0]) * kx, (f.lat - i.position[1]) * ky);
      if (d > i.radiusM) continue;
      const { version, ...rest } = i;
      try {
        this.write({ ...rest, arrivedAt: f.ts }, 'system', version);
      } catch (err) {
        this.deps.onError?.(err);
      }
    }
  }
}
