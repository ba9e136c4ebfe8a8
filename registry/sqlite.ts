import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '../store/sqlite-file.ts';
import * as devices from './sqlite/devices.ts';
import * as fleet from './sqlite/fleet.ts';
import { canonicalPhone, Jt808Terminals } from './sqlite/jt808-terminals.ts';
import { RegistryOutbox } from './sqlite/outbox.ts';
import * as replication from './sqlite/replication.ts';
import { SecretChecks } from './sqlite/secret-checks.ts';
import {
  loadTables,
  type RegistryState,
  type ReplicatedRecord,
  type ReplicatedTable,
} from './sqlite/state.ts';
import { prepareStatements, SCHEMA, SCHEMA_VERSION } from './sqlite/tables.ts';
import type { Device, Firm, Jt808Binding, NewDevice, Officer, Registry, Vehicle } from './types.ts';

export { checkJt808Binding, DEFAULT_REPORT_INTERVAL_S } from './sqlite/devices.ts';
export { RegistryConflictError } from './sqlite/errors.ts';
export { canonicalPhone } from './sqlite/jt808-terminals.ts';
export type { OutboxRow, RegistryOutbox } from './sqlite/outbox.ts';
export { REPLICATED_TABLES, type ReplicatedRecord, type ReplicatedTable } from './sqlite/state.ts';

export interface SqliteRegistryOptions {
  /** directory of `registry.db` (created when missing) */
  dir: string;
}

/**
 * The registry on SQLite (better-sqlite3), one file `${dir}/registry.db`, WAL with `synchronous=FULL`
 * so an acknowledged write survives a power cut.
 *
 * Every table is small (tens of thousands of rows at most), so all of it is loaded into maps at open
 * and the maps are updated after each successful write: lookups (`device(id)` runs per message) never
 * touch the database. Objects handed out are frozen; replace them through the write methods.
 *
 * The work is done per entity family in registry/sqlite/: the tables and statements (tables.ts), firms,
 * vehicles and officers (fleet.ts), devices, service accounts and device models (devices.ts), JT/T 808
 * bindings and registrations (jt808-terminals.ts), the remembered secret checks (secret-checks.ts: scrypt
 * costs ~40 ms a check, which a whole fleet reconnecting after an outage would pay per device), and the
 * records a cluster carries between nodes (replication.ts). This class holds them together.
 */
export class SqliteRegistry implements Registry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly s: RegistryState;
  private readonly secrets = new SecretChecks();
  private readonly terminals: Jt808Terminals;
  private generation = 0;
  private readonly recordListeners = new Set<(table: ReplicatedTable, id: string) => void>();
  private box: RegistryOutbox | undefined;
  /** the records applied in the batch under way (applyBatch), to read back if it fails */
  private batchTouched: [ReplicatedTable, string][] | undefined;

  constructor(opts: SqliteRegistryOptions) {
    this.path = join(opts.dir, 'registry.db');
    const { db, value: stmt } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.exec(SCHEMA);
      return prepareStatements(db);
    });
    this.db = db;
    this.terminals = new Jt808Terminals(db, stmt, (id) => this.changed('device', id));
    this.s = {
      db,
      stmt,
      firms: new Map(),
      vehicles: new Map(),
      officers: new Map(),
      devices: new Map(),
      services: new Map(),
      models: new Map(),
      terminals: this.terminals,
      secrets: this.secrets,
      nextGeneration: () => ++this.generation,
      changed: (table, id) => this.changed(table, id),
    };
    try {
      loadTables(this.s);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  // ---- writes: database first, then the in-memory maps (a failed write leaves both unchanged) ----

  upsertFirm(firm: Firm): void {
    fleet.upsertFirm(this.s, firm);
  }

  upsertVehicle(vehicle: Vehicle): void {
    fleet.upsertVehicle(this.s, vehicle);
  }

  /**
   * Bulk upsert of vehicles (a migration, or a benchmark fleet): the same checks as upsertVehicle, all
   * made before anything is written, then one transaction (all or nothing, one fsync instead of one per
   * vehicle). Returns the number of vehicles written.
   */
  importVehicles(vehicles: readonly Vehicle[]): number {
    return fleet.importVehicles(this.s, vehicles);
  }

  upsertOfficer(officer: Officer): void {
    fleet.upsertOfficer(this.s, officer);
  }

  putDevice(input: NewDevice): Promise<Device> {
    return devices.putDevice(this.s, input);
  }

  /**
   * Bulk import of devices whose secrets are already hashed (a migration from another system, or a
   * benchmark fleet sharing one hash): same checks as putDevice, no scrypt, one transaction (all or
   * nothing), enabled. `secretHash` must be in the stored `scrypt$N$r$p$salt$hash` form (hashSecret).
   * Returns the number of devices written.
   */
  importDevices(list: ReadonlyArray<Omit<NewDevice, 'secret'> & { secretHash: string }>): number {
    return devices.importDevices(this.s, list);
  }

  setDeviceEnabled(id: string, enabled: boolean): void {
    devices.setDeviceEnabled(this.s, id, enabled);
  }

  /**
   * Replaces a device's secret and keeps everything else (putDevice would also re-enable it). The old
   * secret stops verifying at once: the remembered verification is dropped with the generation bump.
   */
  setDeviceSecret(id: string, secret: string): Promise<void> {
    return devices.setDeviceSecret(this.s, id, secret);
  }

  /** Changes the officer (null: none) and the report interval of a device; its secret stays. */
  updateDevice(id: string, patch: { officer?: string | null; reportIntervalS?: number }): Device {
    return devices.updateDevice(this.s, id, patch);
  }

  /** Removes a device; true when it existed. Its MQTT sessions are the broker's to end. */
  deleteDevice(id: string): boolean {
    return devices.deleteDevice(this.s, id);
  }

  /** Removes a vehicle; refused (RegistryConflictError) while a device is mounted on it. */
  deleteVehicle(id: string): boolean {
    return fleet.deleteVehicle(this.s, id);
  }

  /** Removes an officer; true when it existed. Body cameras issued to the officer keep the id as history. */
  deleteOfficer(id: string): boolean {
    return fleet.deleteOfficer(this.s, id);
  }

  /** ids of the devices filed under a unit (the vehicle's terminals) */
  devicesOfUnit(unit: string): string[] {
    return fleet.devicesOfUnit(this.s, unit);
  }

  putServiceCredential(username: string, secret: string): Promise<void> {
    return devices.putServiceCredential(this.s, username, secret);
  }

  // ---- JT/T 808 bindings and device models (gateway/jt808/) ----

  /** Binds a device to a JT/T 808 terminal, or unbinds it (null). A phone binds one device at most. */
  setJt808Binding(id: string, binding: Jt808Binding | null): Device {
    return devices.setJt808Binding(this.s, id, binding);
  }

  /**
   * When the device's JT/T 808 registration closed (epoch ms): its terminal authenticated with the code
   * in force then. Undefined: a 0x0100 registration is accepted (never authenticated, or the secret, the
   * terminal or the device changed since).
   */
  jt808RegistrationClosedAt(id: string): number | undefined {
    return this.terminals.closed.get(id);
  }

  /**
   * Closes the device's JT/T 808 registration (its terminal authenticated); the first time counts. A
   * 0x0100 is refused from this call on; the closing is durable when the promise resolves (the terminal
   * is answered then). The closings asked for in one turn of the event loop are written in one
   * transaction at the next: a fleet authenticating after a restart made one fsync per terminal on the
   * main thread before. A failed write leaves them open (as the file has them) and rejects.
   */
  closeJt808Registration(id: string, at: number): Promise<void> {
    if (!this.s.devices.has(id)) return Promise.resolve();
    return this.terminals.close(id, at);
  }

  /** The device bound to a terminal phone number (any number of leading zeros). */
  deviceByJt808Phone(phone: string): Device | undefined {
    const id = this.terminals.deviceOfPhone(canonicalPhone(phone));
    return id === undefined ? undefined : this.s.devices.get(id)?.device;
  }

  /** Stores a device model (its vendor mapping, already checked by the caller's schema). */
  putDeviceModel(id: string, mapping: object): void {
    devices.putDeviceModel(this.s, id, mapping);
  }

  deleteDeviceModel(id: string): boolean {
    return devices.deleteDeviceModel(this.s, id);
  }

  /** a device model's mapping as stored (frozen), undefined when there is none */
  deviceModel(id: string): unknown {
    return this.s.models.get(id);
  }

  deviceModelIds(): string[] {
    return [...this.s.models.keys()];
  }

  // ---- the records a cluster carries between nodes (cluster/registry-sync.ts) ----

  /** Called after every write made here (not after applyRecord), with the table and id it changed. */
  onRecordChange(listener: (table: ReplicatedTable, id: string) => void): () => void {
    this.recordListeners.add(listener);
    return () => {
      this.recordListeners.delete(listener);
    };
  }

  private changed(table: ReplicatedTable, id: string): void {
    for (const listener of [...this.recordListeners]) listener(table, id);
  }

  /** the ids of a table (every record the node holds) */
  recordIds(table: ReplicatedTable): string[] {
    return replication.recordIds(this.s, table);
  }

  /** The whole record as stored (null: none), in the form applyRecord takes. */
  exportRecord(table: ReplicatedTable, id: string): ReplicatedRecord | null {
    return replication.exportRecord(this.s, table, id);
  }

  /**
   * Writes a record carried from another node (as exportRecord gave it there; null deletes), without the
   * checks of the write methods (the node that wrote it made them) and without telling onRecordChange.
   * A device whose secret or enabled flag changed forgets its remembered verifications, as a local
   * write would. Returns false when the record equals the one held (nothing written).
   */
  applyRecord(table: ReplicatedTable, id: string, record: ReplicatedRecord | null): boolean {
    this.batchTouched?.push([table, id]);
    const apply = () => replication.applyRecord(this.s, table, id, record);
    return this.box === undefined ? apply() : this.box.without(apply);
  }

  /**
   * Runs `fn` (applyRecord calls, the outbox's `done`) as one transaction of the file: one fsync for a
   * batch of the registry stream's events (cluster/registry-sync.ts) instead of one per event, as
   * importVehicles does for a fleet. Each record applied inside stays all or nothing on its own. When
   * the transaction fails as a whole, the file keeps none of it and the records it applied are read
   * back into the maps from the file; the error is thrown. A batch inside a batch is part of it.
   */
  applyBatch<T>(fn: () => T): T {
    if (this.batchTouched !== undefined) return fn();
    const touched: [ReplicatedTable, string][] = [];
    this.batchTouched = touched;
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      for (const [table, id] of touched) replication.reloadRecord(this.s, table, id);
      throw err;
    } finally {
      this.batchTouched = undefined;
    }
  }

  /**
   * The outbox of the changes made here, for a cluster node (registry/sqlite/outbox.ts): from the first
   * call on, every write made here leaves a row in it, in the write's transaction. `base`: the registry
   * stream's sequence applied now (-1: not known yet); a later call returns the same outbox with its.
   */
  outbox(base: () => number = () => -1): RegistryOutbox {
    this.box ??= new RegistryOutbox(this.db, base);
    this.box.base = base;
    return this.box;
  }

  // ---- re-reads, for a process that shares the file with the one writing it ----

  /**
   * Re-reads one device from the database into the maps and returns it (undefined: there is none).
   * An MQTT edge process (broker/cluster/) opens the registry file the platform process writes: its
   * maps do not see those writes, so it re-reads a device it does not know (created since) and one the
   * platform says changed (secret rotated, disabled, deleted). A changed secret or enabled flag
   * forgets the remembered verification, as a write here would.
   */
  refreshDevice(id: string): Device | undefined {
    return devices.refreshDevice(this.s, id);
  }

  /** refreshDevice for a service account: true when it exists */
  refreshService(username: string): boolean {
    return devices.refreshService(this.s, username);
  }

  /** scrypt verifications run since open (a cache hit runs none) */
  get secretChecksRun(): number {
    return this.secrets.scryptRuns;
  }

  // ---- lookups: memory only ----

  device(id: string): Device | undefined {
    return this.s.devices.get(id)?.device;
  }
  vehicle(id: string): Vehicle | undefined {
    return this.s.vehicles.get(id);
  }
  firm(id: string): Firm | undefined {
    return this.s.firms.get(id);
  }
  officer(id: string): Officer | undefined {
    return this.s.officers.get(id);
  }
  devices(): Device[] {
    return [...this.s.devices.values()].map((e) => e.device);
  }
  vehicles(): Vehicle[] {
    return [...this.s.vehicles.values()];
  }
  firms(): Firm[] {
    return [...this.s.firms.values()];
  }
  officers(): Officer[] {
    return [...this.s.officers.values()];
  }
  isService(username: string): boolean {
    return this.s.services.has(username);
  }

  // ---- secret checks (registry/sqlite/secret-checks.ts) ----

  /**
   * What verifyDevice would answer without running scrypt: true or false when this secret was checked
   * for this device since its last change, undefined otherwise. The broker lets a device whose secret
   * is remembered in even while its id is throttled (a flood against a device id cannot lock it out).
   */
  rememberedDeviceVerdict(id: string, secret: string): boolean | undefined {
    return this.secrets.rememberedDeviceVerdict(id, this.s.devices.get(id), secret);
  }

  verifyDevice(id: string, secret: string): Promise<boolean> {
    return this.secrets.verifyDevice(id, secret, (d) => this.s.devices.get(d));
  }

  verifyService(username: string, secret: string): Promise<boolean> {
    return this.secrets.verifyService(username, secret, (u) => this.s.services.get(u));
  }

  /** Number of successful verifications currently remembered (for tests and diagnostics). */
  verificationCacheSize(): number {
    return this.secrets.size();
  }

  close(): void {
    // closings asked for in this turn are written before the file closes
    if (this.db.open) this.terminals.writeClosings();
    this.secrets.clear();
    if (this.db.open) this.db.close();
  }
}
