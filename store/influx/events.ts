/**
 * EventStore on InfluxDB (semantics: store/events-port.ts). Same database/bucket and connection options
 * as the fix store (InfluxOptions). One module per record kind, each with its measurements' schema:
 *
 *   events/violations.ts  `violation` (latest state), `violation_status` (audited status changes),
 *                         `violation_phase` (the phase history)
 *   events/trips.ts       `trip`
 *   events/evidence.ts    `evidence` (packages cut into parts)
 *   events/points.ts      what they share: writes (line protocol, precision=ns, 1.x `/write` or 2.x
 *                         `/api/v2/write`), InfluxQL reads over `/query`, lookups by id, pages
 *
 * Tags are low-cardinality only; ids, which are unique per event, are always fields.
 *
 * Idempotency needs one read per batch (the history or the current record of the batch's ids), so a
 * replayed event is recognised and a lower phase never overwrites a higher one. This assumes ONE writing
 * process per database (the platform: its pipeline and its API share this instance), as the fix store
 * assumes one spool.
 *
 * Known limits: like the fix store, a vehicle that changes firm in the middle of a trip or a violation
 * can leave two points (one per firm series); reads by id and unfiltered lists keep the higher-ranked one,
 * a list filtered by the old firm can still show the older state. Points written before the enforcement
 * status existed have no `enforcement` field: they read as `open`, but a `status=open` filter finds them
 * only once their next engine event (or status change) has written the field.
 */
import type { EvidencePackage } from '../../geofence/evidence.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import type {
  EventStore,
  Page,
  TripQuery,
  TripRecord,
  ViolationPhaseRecord,
  ViolationQuery,
  ViolationRecord,
} from '../events-port.ts';
import type { StoreHealth } from '../port.ts';
import type { ViolationStatusChange, ViolationStatusRequest } from '../violation-status.ts';
import { type InfluxOptions, InfluxStore } from './adapter.ts';
import { EvidencePoints } from './events/evidence.ts';
import { EventPoints } from './events/points.ts';
import { TripPoints } from './events/trips.ts';
import { ViolationPoints } from './events/violations.ts';
import { InfluxError } from './http.ts';

export { EVIDENCE_MEASUREMENT, EVIDENCE_PART_UNITS, splitText } from './events/evidence.ts';
export { parseTripId, parseViolationId } from './events/points.ts';
export { TRIP_MEASUREMENT } from './events/trips.ts';
export {
  VIOLATION_MEASUREMENT,
  VIOLATION_PHASE_MEASUREMENT,
  VIOLATION_STATUS_MEASUREMENT,
} from './events/violations.ts';

export class InfluxEventStore implements EventStore {
  readonly name: 'influxdb-v1' | 'influxdb-v2';
  private readonly base: InfluxStore;
  private readonly violationPoints: ViolationPoints;
  private readonly tripPoints: TripPoints;
  private readonly evidencePoints: EvidencePoints;
  private closed = false;

  constructor(options: InfluxOptions) {
    // validates the url; open() and health() are the same, and so is the socket pool (its cap)
    this.base = new InfluxStore(options);
    this.name = this.base.name;
    const points = new EventPoints(options, this.base.connection);
    this.violationPoints = new ViolationPoints(points);
    this.tripPoints = new TripPoints(points);
    this.evidencePoints = new EvidencePoints(points);
  }

  /** 1.x: CREATE DATABASE (no-op when it exists). Reopens a closed store. */
  async open(): Promise<void> {
    await this.base.open();
    this.closed = false;
  }

  private assertOpen(): void {
    if (this.closed) throw new InfluxError(`${this.name} event store is closed`);
  }

  async recordViolation(event: ViolationEvent): Promise<void> {
    await this.recordViolations([event]);
  }

  async recordViolations(events: readonly ViolationEvent[]): Promise<void> {
    this.assertOpen();
    await this.violationPoints.record(events);
  }

  async violations(query: ViolationQuery = {}): Promise<Page<ViolationRecord>> {
    this.assertOpen();
    return this.violationPoints.list(query);
  }

  async violation(id: string): Promise<ViolationRecord | undefined> {
    this.assertOpen();
    return this.violationPoints.get(id);
  }

  async setViolationStatus(request: ViolationStatusRequest): Promise<ViolationRecord> {
    this.assertOpen();
    return this.violationPoints.setStatus(request);
  }

  async violationStatusHistory(id: string): Promise<ViolationStatusChange[]> {
    this.assertOpen();
    return this.violationPoints.statusHistory(id);
  }

  async violationPhases(id: string): Promise<ViolationPhaseRecord[]> {
    this.assertOpen();
    return this.violationPoints.phases(id);
  }

  async recordTrip(event: TripEvent): Promise<void> {
    await this.recordTrips([event]);
  }

  async recordTrips(events: readonly TripEvent[]): Promise<void> {
    this.assertOpen();
    await this.tripPoints.record(events);
  }

  async trips(query: TripQuery = {}): Promise<Page<TripRecord>> {
    this.assertOpen();
    return this.tripPoints.list(query);
  }

  async trip(id: string): Promise<TripRecord | undefined> {
    this.assertOpen();
    return this.tripPoints.get(id);
  }

  async putEvidence(pkg: EvidencePackage): Promise<void> {
    this.assertOpen();
    await this.evidencePoints.put(pkg);
  }

  async evidence(violationId: string): Promise<EvidencePackage | undefined> {
    this.assertOpen();
    return this.evidencePoints.get(violationId);
  }

  async health(): Promise<StoreHealth> {
    if (this.closed) return { ok: false, detail: 'store closed' };
    return this.base.health();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.base.close();
  }
}
