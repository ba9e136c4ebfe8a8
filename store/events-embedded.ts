/**
 * EventStore in one SQLite file, `${dir}/events.db` (semantics: store/events-port.ts). One module per
 * record kind (events-embedded/violations.ts, trips.ts, evidence.ts), the tables and their migrations in
 * events-embedded/schema.ts; every write of a batch is one transaction.
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { EvidencePackage } from '../geofence/evidence.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import { type EvidenceRows, prepareEvidence } from './events-embedded/evidence.ts';
import { migrate, SCHEMA, SCHEMA_VERSION } from './events-embedded/schema.ts';
import { prepareTrips, type TripRows } from './events-embedded/trips.ts';
import { prepareViolations, type ViolationRows } from './events-embedded/violations.ts';
import type {
  EventStore,
  Page,
  TripQuery,
  TripRecord,
  ViolationPhaseRecord,
  ViolationQuery,
  ViolationRecord,
} from './events-port.ts';
import type { StoreHealth } from './port.ts';
import { openSqlite, sqliteHealth } from './sqlite-file.ts';
import type { ViolationStatusChange, ViolationStatusRequest } from './violation-status.ts';

export interface EmbeddedEventStoreOptions {
  /** data directory; the database is `${dir}/events.db` (the directory is created if needed) */
  dir: string;
}

interface Tables {
  violations: ViolationRows;
  trips: TripRows;
  evidence: EvidenceRows;
}

export class EmbeddedEventStore implements EventStore {
  readonly name = 'embedded';
  readonly file: string;
  private db: Database.Database | undefined;
  private tables: Tables | undefined;

  constructor(readonly options: EmbeddedEventStoreOptions) {
    this.file = join(options.dir, 'events.db');
  }

  async open(): Promise<void> {
    if (this.db) return;
    const { db, value } = openSqlite(this.file, { schemaVersion: SCHEMA_VERSION }, (db) => {
      migrate(db);
      db.exec(SCHEMA);
      return { violations: prepareViolations(db), trips: prepareTrips(db), evidence: prepareEvidence(db) };
    });
    this.tables = value;
    this.db = db;
  }

  private tablesOrThrow(): Tables {
    if (!this.db || !this.tables) throw new Error('EmbeddedEventStore is not open (call open() first)');
    return this.tables;
  }

  async recordViolation(event: ViolationEvent): Promise<void> {
    await this.recordViolations([event]);
  }

  async recordViolations(events: readonly ViolationEvent[]): Promise<void> {
    const { violations } = this.tablesOrThrow();
    if (events.length > 0) violations.record(events);
  }

  async violations(query: ViolationQuery = {}): Promise<Page<ViolationRecord>> {
    return this.tablesOrThrow().violations.list(query);
  }

  async violation(id: string): Promise<ViolationRecord | undefined> {
    return this.tablesOrThrow().violations.get(id);
  }

  async setViolationStatus(request: ViolationStatusRequest): Promise<ViolationRecord> {
    return this.tablesOrThrow().violations.setStatus(request);
  }

  async violationStatusHistory(id: string): Promise<ViolationStatusChange[]> {
    return this.tablesOrThrow().violations.statusHistory(id);
  }

  async violationPhases(id: string): Promise<ViolationPhaseRecord[]> {
    return this.tablesOrThrow().violations.phases(id);
  }

  async recordTrip(event: TripEvent): Promise<void> {
    await this.recordTrips([event]);
  }

  async recordTrips(events: readonly TripEvent[]): Promise<void> {
    const { trips } = this.tablesOrThrow();
    if (events.length > 0) trips.record(events);
  }

  async trips(query: TripQuery = {}): Promise<Page<TripRecord>> {
    return this.tablesOrThrow().trips.list(query);
  }

  async trip(id: string): Promise<TripRecord | undefined> {
    return this.tablesOrThrow().trips.get(id);
  }

  /** Refuses a package whose sha256 does not verify; the last package put for a violation wins. */
  async putEvidence(pkg: EvidencePackage): Promise<void> {
    this.tablesOrThrow().evidence.put(pkg);
  }

  async evidence(violationId: string): Promise<EvidencePackage | undefined> {
    return this.tablesOrThrow().evidence.get(violationId);
  }

  async health(): Promise<StoreHealth> {
    return sqliteHealth(this.db, 'embedded event store is not open');
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.tables = undefined;
    db?.close();
  }
}
