import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { UNIT_KINDS, type UnitKind } from '../core/fix.ts';
import { openSqlite } from '../store/sqlite-file.ts';
import { checkNewId } from './ids.ts';
import { hashSecret, verifySecret } from './secrets.ts';
import type {
  Device,
  Firm,
  Jt808Binding,
  NewDevice,
  Officer,
  Registry,
  Vehicle,
  VehicleKind,
} from './types.ts';

export interface SqliteRegistryOptions {
  /** directory of `registry.db` (created when missing) */
  dir: string;
}

/** Default nominal report interval of a device, seconds. */
export const DEFAULT_REPORT_INTERVAL_S = 30;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS firms (
  id   TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS vehicles (
  id           TEXT PRIMARY KEY NOT NULL,
  plate        TEXT NOT NULL,
  kind         TEXT NOT NULL,
  firm         TEXT NOT NULL,
  rated_load_t REAL
) STRICT;
CREATE TABLE IF NOT EXISTS officers (
  id   TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  firm TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS devices (
  id                TEXT PRIMARY KEY NOT NULL,
  kind              TEXT NOT NULL,
  unit              TEXT NOT NULL,
  firm              TEXT NOT NULL,
  officer           TEXT,
  report_interval_s INTEGER NOT NULL,
  enabled           INTEGER NOT NULL,
  secret_hash       TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS service_credentials (
  username    TEXT PRIMARY KEY NOT NULL,
  secret_hash TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS jt808_terminals (
  device      TEXT PRIMARY KEY NOT NULL,
  phone       TEXT NOT NULL UNIQUE,
  terminal_id TEXT,
  model       TEXT
) STRICT;
-- A JT/T 808 terminal whose authentication code has been used: a new 0x0100 registration is refused
-- (gateway/jt808/session.ts) until the device's secret changes again.
CREATE TABLE IF NOT EXISTS jt808_registrations (
  device    TEXT PRIMARY KEY NOT NULL,
  closed_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS device_models (
  id      TEXT PRIMARY KEY NOT NULL,
  mapping TEXT NOT NULL
) STRICT;
`;

/** A phone number as the registry keeps it: digits without leading zeros ("0" stays "0"). */
export function canonicalPhone(phone: string): string {
  // phone.replace(/^0+/, ''), without a regular expression: the gateway asks this for every report
  let zeros = 0;
  while (zeros < phone.length && phone.charCodeAt(zeros) === 48) zeros++;
  if (zeros === phone.length) return '0';
  return zeros === 0 ? phone : phone.slice(zeros);
}

/** Checks a JT/T 808 binding; returns it canonical (phone without leading zeros). */
export function checkJt808Binding(b: Jt808Binding): Jt808Binding {
  if (typeof b.phone !== 'string' || !/^\d{1,20}$/.test(b.phone)) {
    throw new Error('jt808.phone must be 1-20 digits (the terminal phone number, 终端手机号)');
  }
  const out: Jt808Binding = { phone: canonicalPhone(b.phone) };
  if (b.terminalId !== undefined) {
    if (typeof b.terminalId !== 'string' || !/^[\x21-\x7e]{1,30}$/.test(b.terminalId)) {
      throw new Error('jt808.terminalId must be 1-30 printable ASCII characters');
    }
    out.terminalId = b.terminalId;
  }
  if (b.model !== undefined) out.model = nonEmpty(b.model, 'jt808.model');
  return out;
}

interface Jt808Row {
  device: string;
  phone: string;
  terminal_id: string | null;
  model: string | null;
}

function bindingOfRow(row: Jt808Row): Jt808Binding {
  const b: Jt808Binding = { phone: row.phone };
  if (row.terminal_id !== null) b.terminalId = row.terminal_id;
  if (row.model !== null) b.model = row.model;
  return b;
}

function bindingRow(device: string, b: Jt808Binding): Jt808Row {
  return { device, phone: b.phone, terminal_id: b.terminalId ?? null, model: b.model ?? null };
}

interface DeviceRow {
  id: string;
  kind: string;
  unit: string;
  firm: string;
  officer: string | null;
  report_interval_s: number;
  enabled: number;
  secret_hash: string;
}

interface DeviceEntry {
  device: Readonly<Device>;
  hash: string;
  /** bumped on every change of secret or enabled; a verification started under an older generation is not cached */
  generation: number;
}

/**
 * The tables a cluster carries between nodes (cluster/registry-sync.ts): each change is the whole record
 * after it (or null: deleted), so applying the changes in one order on every node gives every node the
 * same rows. Service credentials are each process's own, and a JT/T 808 registration's closing is the
 * gateway's own state: neither is carried.
 */
export const REPLICATED_TABLES = ['firm', 'vehicle', 'officer', 'device', 'device_model'] as const;
export type ReplicatedTable = (typeof REPLICATED_TABLES)[number];
/** a record as carried: a device holds its secret's scrypt hash (never the secret) and its JT/T 808 binding */
export type ReplicatedRecord = Record<string, unknown>;

/** A change the registry refuses because of other entries (a vehicle that still carries devices). */
export class RegistryConflictError extends Error {
  override name = 'RegistryConflictError';
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty string`);
  return value;
}

function freezeDevice(row: DeviceRow, jt808?: Jt808Binding): Readonly<Device> {
  const device: Device = {
    id: row.id,
    kind: row.kind as UnitKind,
    unit: row.unit,
    firm: row.firm,
    reportIntervalS: row.report_interval_s,
    enabled: row.enabled === 1,
  };
  if (row.officer !== null) device.officer = row.officer;
  if (jt808 !== undefined) device.jt808 = Object.freeze({ ...jt808 });
  return Object.freeze(device);
}

/**
 * The registry on SQLite (better-sqlite3), one file `${dir}/registry.db`, WAL with `synchronous=FULL`
 * so an acknowledged write survives a power cut.
 *
 * Every table is small (tens of thousands of rows at most), so all of it is loaded into maps at open
 * and the maps are updated after each successful write: lookups (`device(id)` runs per message) never
 * touch the database. Objects handed out are frozen; replace them through the write methods.
 *
 * Secret checks: scrypt (see secrets.ts) costs ~40 ms, which a whole fleet reconnecting after an outage
 * would pay per device. Successful checks are therefore remembered as HMAC-SHA256(processKey, secret)
 * per id (the key is random per instance and never leaves memory, so the cache holds nothing that
 * could be replayed or brute-forced offline), and forgotten when the device's secret or enabled flag
 * changes.
 */
/** most verifications remembered by hash (one per device of a large fleet) */
const HASH_CACHE_MAX = 250_000;
/** wrong secrets remembered per device, and devices with any remembered at most */
const REFUSED_PER_DEVICE = 2;
const REFUSED_CACHE_MAX = 100_000;

export class SqliteRegistry implements Registry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly firmMap = new Map<string, Readonly<Firm>>();
  private readonly vehicleMap = new Map<string, Readonly<Vehicle>>();
  private readonly officerMap = new Map<string, Readonly<Officer>>();
  private readonly deviceMap = new Map<string, DeviceEntry>();
  private readonly serviceMap = new Map<string, { hash: string; generation: number }>();
  /** JT/T 808 bindings: device → binding, canonical phone → device */
  private readonly jt808Map = new Map<string, Jt808Binding>();
  /** devices whose JT/T 808 registration is closed: when (epoch ms) their code was first used */
  private readonly jt808ClosedMap = new Map<string, number>();
  /** closings of jt808ClosedMap not yet in the file: written together at the next turn (one fsync) */
  private readonly closingsPending = new Map<string, number>();
  private closingsBatch:
    | { written: Promise<void>; resolve: () => void; reject: (err: Error) => void }
    | undefined;
  private readonly phoneMap = new Map<string, string>();
  /** device models (vendor mappings) as stored: id → JSON text */
  private readonly modelMap = new Map<string, unknown>();
  /** id → HMAC of the last secret that verified */
  private readonly deviceVerified = new Map<string, Buffer>();
  /**
   * id → HMACs of the last wrong secrets presented: a terminal that retries a stale password every few
   * seconds (or a flood repeating one guess) costs one scrypt, not one per attempt. Forgotten with the
   * successes when the device changes; bounded like hashVerified.
   */
  private readonly deviceRefused = new Map<string, Buffer[]>();
  private readonly serviceVerified = new Map<string, Buffer>();
  private readonly cacheKey = randomBytes(32);
  /**
   * Successful checks by stored hash (salt and parameters included): a secret that matched a hash once
   * matches it again, whichever device carries it. A load-test fleet provisioned with one shared
   * secret (simulators/load-provision.ts) then costs one scrypt, not one per device. Bounded: cleared
   * when it reaches HASH_CACHE_MAX (a fleet's worth), which only costs scrypt runs again.
   */
  private readonly hashVerified = new Map<string, Buffer>();
  /** scrypt verifications run (diagnostics, tests) */
  private scryptRuns = 0;
  private generation = 0;
  private readonly recordListeners = new Set<(table: ReplicatedTable, id: string) => void>();

  private readonly stmt: {
    upsertFirm: Database.Statement;
    upsertVehicle: Database.Statement;
    upsertOfficer: Database.Statement;
    upsertDevice: Database.Statement;
    setEnabled: Database.Statement;
    upsertService: Database.Statement;
    setSecret: Database.Statement;
    setDeviceFields: Database.Statement;
    deleteDevice: Database.Statement;
    deleteVehicle: Database.Statement;
    deleteOfficer: Database.Statement;
    selectDevice: Database.Statement;
    selectService: Database.Statement;
    upsertJt808: Database.Statement;
    deleteJt808: Database.Statement;
    selectJt808: Database.Statement;
    closeJt808Registration: Database.Statement;
    openJt808Registration: Database.Statement;
    upsertModel: Database.Statement;
    deleteModel: Database.Statement;
  };

  constructor(opts: SqliteRegistryOptions) {
    this.path = join(opts.dir, 'registry.db');
    const { db, value } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      db.exec(SCHEMA);
      return {
        upsertFirm: db.prepare(
          'INSERT INTO firms (id, name) VALUES (@id, @name) ON CONFLICT(id) DO UPDATE SET name = excluded.name',
        ),
        upsertVehicle: db.prepare(
          `INSERT INTO vehicles (id, plate, kind, firm, rated_load_t) VALUES (@id, @plate, @kind, @firm, @ratedLoadT)
         ON CONFLICT(id) DO UPDATE SET plate = excluded.plate, kind = excluded.kind, firm = excluded.firm,
           rated_load_t = excluded.rated_load_t`,
        ),
        upsertOfficer: db.prepare(
          `INSERT INTO officers (id, name, firm) VALUES (@id, @name, @firm)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, firm = excluded.firm`,
        ),
        upsertDevice: db.prepare(
          `INSERT INTO devices (id, kind, unit, firm, officer, report_interval_s, enabled, secret_hash)
         VALUES (@id, @kind, @unit, @firm, @officer, @report_interval_s, @enabled, @secret_hash)
         ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, unit = excluded.unit, firm = excluded.firm,
           officer = excluded.officer, report_interval_s = excluded.report_interval_s,
           enabled = excluded.enabled, secret_hash = excluded.secret_hash`,
        ),
        setEnabled: db.prepare('UPDATE devices SET enabled = ? WHERE id = ?'),
        upsertService: db.prepare(
          `INSERT INTO service_credentials (username, secret_hash) VALUES (?, ?)
         ON CONFLICT(username) DO UPDATE SET secret_hash = excluded.secret_hash`,
        ),
        setSecret: db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?'),
        setDeviceFields: db.prepare(
          'UPDATE devices SET officer = @officer, report_interval_s = @report_interval_s WHERE id = @id',
        ),
        deleteDevice: db.prepare('DELETE FROM devices WHERE id = ?'),
        deleteVehicle: db.prepare('DELETE FROM vehicles WHERE id = ?'),
        deleteOfficer: db.prepare('DELETE FROM officers WHERE id = ?'),
        selectDevice: db.prepare('SELECT * FROM devices WHERE id = ?'),
        selectService: db.prepare('SELECT secret_hash FROM service_credentials WHERE username = ?'),
        upsertJt808: db.prepare(
          `INSERT INTO jt808_terminals (device, phone, terminal_id, model) VALUES (@device, @phone, @terminal_id, @model)
         ON CONFLICT(device) DO UPDATE SET phone = excluded.phone, terminal_id = excluded.terminal_id, model = excluded.model`,
        ),
        deleteJt808: db.prepare('DELETE FROM jt808_terminals WHERE device = ?'),
        selectJt808: db.prepare('SELECT * FROM jt808_terminals WHERE device = ?'),
        closeJt808Registration: db.prepare(
          'INSERT OR IGNORE INTO jt808_registrations (device, closed_at) VALUES (?, ?)',
        ),
        openJt808Registration: db.prepare('DELETE FROM jt808_registrations WHERE device = ?'),
        upsertModel: db.prepare(
          'INSERT INTO device_models (id, mapping) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET mapping = excluded.mapping',
        ),
        deleteModel: db.prepare('DELETE FROM device_models WHERE id = ?'),
      };
    });
    this.db = db;
    this.stmt = value;
    try {
      this.load();
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private load(): void {
    for (const row of this.db.prepare('SELECT id, name FROM firms').all() as Firm[]) {
      this.firmMap.set(row.id, Object.freeze({ id: row.id, name: row.name }));
    }
    const vehicles = this.db.prepare('SELECT id, plate, kind, firm, rated_load_t FROM vehicles').all() as {
      id: string;
      plate: string;
      kind: string;
      firm: string;
      rated_load_t: number | null;
    }[];
    for (const row of vehicles) {
      const vehicle: Vehicle = {
        id: row.id,
        plate: row.plate,
        kind: row.kind as VehicleKind,
        firm: row.firm,
      };
      if (row.rated_load_t !== null) vehicle.ratedLoadT = row.rated_load_t;
      this.vehicleMap.set(row.id, Object.freeze(vehicle));
    }
    for (const row of this.db.prepare('SELECT id, name, firm FROM officers').all() as Officer[]) {
      this.officerMap.set(row.id, Object.freeze({ id: row.id, name: row.name, firm: row.firm }));
    }
    for (const row of this.db.prepare('SELECT * FROM jt808_terminals').all() as Jt808Row[]) {
      this.rememberBinding(row.device, bindingOfRow(row));
    }
    for (const row of this.db.prepare('SELECT device, closed_at FROM jt808_registrations').all() as {
      device: string;
      closed_at: number;
    }[]) {
      this.jt808ClosedMap.set(row.device, row.closed_at);
    }
    for (const row of this.db.prepare('SELECT id, mapping FROM device_models').all() as {
      id: string;
      mapping: string;
    }[]) {
      this.modelMap.set(row.id, Object.freeze(JSON.parse(row.mapping)));
    }
    for (const row of this.db.prepare('SELECT * FROM devices').all() as DeviceRow[]) {
      this.deviceMap.set(row.id, {
        device: freezeDevice(row, this.jt808Map.get(row.id)),
        hash: row.secret_hash,
        generation: 0,
      });
    }
    const services = this.db.prepare('SELECT username, secret_hash FROM service_credentials').all() as {
      username: string;
      secret_hash: string;
    }[];
    for (const row of services) this.serviceMap.set(row.username, { hash: row.secret_hash, generation: 0 });
  }

  // ---- writes: database first, then the in-memory maps (a failed write leaves both unchanged) ----

  upsertFirm(firm: Firm): void {
    const id = checkNewId('firm', firm.id, (id) => this.firmMap.has(id));
    const row = { id, name: nonEmpty(firm.name, 'firm name') };
    this.stmt.upsertFirm.run(row);
    this.firmMap.set(row.id, Object.freeze(row));
    this.changed('firm', row.id);
  }

  upsertVehicle(vehicle: Vehicle): void {
    const row = checkedVehicleRow(vehicle, (id) => this.vehicleMap.has(id));
    this.stmt.upsertVehicle.run(row);
    this.vehicleMap.set(vehicle.id, frozenVehicle(vehicle));
    this.changed('vehicle', vehicle.id);
  }

  /**
   * Bulk upsert of vehicles (a migration, or a benchmark fleet): the same checks as upsertVehicle, all
   * made before anything is written, then one transaction (all or nothing, one fsync instead of one per
   * vehicle). Returns the number of vehicles written.
   */
  importVehicles(vehicles: readonly Vehicle[]): number {
    const rows = vehicles.map((v) => checkedVehicleRow(v, (id) => this.vehicleMap.has(id)));
    this.db.transaction((all: typeof rows) => {
      for (const row of all) this.stmt.upsertVehicle.run(row);
    })(rows);
    for (const v of vehicles) this.vehicleMap.set(v.id, frozenVehicle(v));
    for (const v of vehicles) this.changed('vehicle', v.id);
    return rows.length;
  }

  upsertOfficer(officer: Officer): void {
    const row = {
      id: checkNewId('officer', officer.id, (id) => this.officerMap.has(id)),
      name: nonEmpty(officer.name, 'officer name'),
      firm: nonEmpty(officer.firm, 'officer firm'),
    };
    this.stmt.upsertOfficer.run(row);
    this.officerMap.set(row.id, Object.freeze(row));
    this.changed('officer', row.id);
  }

  async putDevice(input: NewDevice): Promise<Device> {
    checkNewId('device', input.id, (id) => this.deviceMap.has(id));
    if (!(UNIT_KINDS as readonly string[]).includes(input.kind)) {
      throw new Error(`unknown device kind ${String(input.kind)}`);
    }
    nonEmpty(input.firm, 'device firm');
    let unit: string;
    if (input.kind === 'body_camera') {
      if (input.vehicle !== undefined) throw new Error('a body camera is not mounted on a vehicle');
      unit = input.id;
    } else {
      unit = nonEmpty(input.vehicle, `vehicle of ${input.kind} device`);
      const vehicle = this.vehicleMap.get(unit);
      if (vehicle !== undefined && vehicle.kind !== input.kind) {
        throw new Error(`device kind ${input.kind} does not match vehicle ${unit} (${vehicle.kind})`);
      }
    }
    if (input.officer !== undefined) nonEmpty(input.officer, 'officer');
    const reportIntervalS = input.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
    if (!Number.isInteger(reportIntervalS) || reportIntervalS < 1) {
      throw new Error('reportIntervalS must be a positive integer');
    }
    const binding = input.jt808 === undefined ? undefined : checkJt808Binding(input.jt808);
    if (binding !== undefined) this.checkPhoneFree(input.id, binding.phone);
    const hash = await hashSecret(input.secret);
    const row: DeviceRow = {
      id: input.id,
      kind: input.kind,
      unit,
      firm: input.firm,
      officer: input.officer ?? null,
      report_interval_s: reportIntervalS,
      enabled: 1,
      secret_hash: hash,
    };
    // re-checked after scrypt: another device may have taken the phone meanwhile
    if (binding !== undefined) this.checkPhoneFree(input.id, binding.phone);
    this.db.transaction(() => {
      this.stmt.upsertDevice.run(row);
      if (binding !== undefined) this.stmt.upsertJt808.run(bindingRow(row.id, binding));
      else this.stmt.deleteJt808.run(row.id);
      // a new secret: the terminal's old authentication code is void, it may register again
      this.stmt.openJt808Registration.run(row.id);
    })();
    this.reopenJt808Registration(row.id);
    this.rememberBinding(row.id, binding);
    const device = freezeDevice(row, binding);
    this.deviceMap.set(row.id, { device, hash, generation: ++this.generation });
    this.forgetVerdicts(row.id);
    this.changed('device', row.id);
    return { ...device };
  }

  /**
   * Bulk import of devices whose secrets are already hashed (a migration from another system, or a
   * benchmark fleet sharing one hash): same checks as putDevice, no scrypt, one transaction (all or
   * nothing), enabled. `secretHash` must be in the stored `scrypt$N$r$p$salt$hash` form (hashSecret).
   * Returns the number of devices written.
   */
  importDevices(devices: ReadonlyArray<Omit<NewDevice, 'secret'> & { secretHash: string }>): number {
    const rows: DeviceRow[] = devices.map((input) => {
      checkNewId('device', input.id, (id) => this.deviceMap.has(id));
      if (!(UNIT_KINDS as readonly string[]).includes(input.kind)) {
        throw new Error(`unknown device kind ${String(input.kind)} (device ${input.id})`);
      }
      nonEmpty(input.firm, `firm of device ${input.id}`);
      let unit: string;
      if (input.kind === 'body_camera') {
        if (input.vehicle !== undefined)
          throw new Error(`body camera ${input.id} is not mounted on a vehicle`);
        unit = input.id;
      } else {
        unit = nonEmpty(input.vehicle, `vehicle of ${input.kind} device ${input.id}`);
        const vehicle = this.vehicleMap.get(unit);
        if (vehicle !== undefined && vehicle.kind !== input.kind) {
          throw new Error(`device kind ${input.kind} does not match vehicle ${unit} (${vehicle.kind})`);
        }
      }
      if (input.officer !== undefined) nonEmpty(input.officer, `officer of device ${input.id}`);
      const reportIntervalS = input.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
      if (!Number.isInteger(reportIntervalS) || reportIntervalS < 1) {
        throw new Error(`reportIntervalS of device ${input.id} must be a positive integer`);
      }
      if (
        typeof input.secretHash !== 'string' ||
        !/^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/.test(input.secretHash)
      ) {
        throw new Error(`secretHash of device ${input.id} is not a scrypt$N$r$p$salt$hash string`);
      }
      return {
        id: input.id,
        kind: input.kind,
        unit,
        firm: input.firm,
        officer: input.officer ?? null,
        report_interval_s: reportIntervalS,
        enabled: 1,
        secret_hash: input.secretHash,
      };
    });
    const bindings = new Map<string, Jt808Binding>();
    for (const input of devices) {
      if (input.jt808 === undefined) continue;
      const b = checkJt808Binding(input.jt808);
      const other = bindings.get(b.phone) ?? this.phoneMap.get(b.phone);
      if (other !== undefined && other !== input.id) {
        throw new RegistryConflictError(`jt808 phone ${b.phone} is bound to device ${other}`);
      }
      bindings.set(input.id, b);
      bindings.set(b.phone, b);
    }
    this.db.transaction((all: DeviceRow[]) => {
      for (const row of all) {
        this.stmt.upsertDevice.run(row);
        const b = bindings.get(row.id);
        if (b !== undefined) this.stmt.upsertJt808.run(bindingRow(row.id, b));
      }
    })(rows);
    for (const row of rows) {
      const b = bindings.get(row.id);
      if (b !== undefined) this.rememberBinding(row.id, b);
      this.deviceMap.set(row.id, {
        device: freezeDevice(row, this.jt808Map.get(row.id)),
        hash: row.secret_hash,
        generation: ++this.generation,
      });
      this.forgetVerdicts(row.id);
      this.changed('device', row.id);
    }
    return rows.length;
  }

  setDeviceEnabled(id: string, enabled: boolean): void {
    const entry = this.deviceMap.get(id);
    if (entry === undefined) throw new Error(`unknown device ${id}`);
    this.stmt.setEnabled.run(enabled ? 1 : 0, id);
    this.deviceMap.set(id, {
      device: Object.freeze({ ...entry.device, enabled }),
      hash: entry.hash,
      generation: ++this.generation,
    });
    this.forgetVerdicts(id);
    this.changed('device', id);
  }

  /**
   * Replaces a device's secret and keeps everything else (putDevice would also re-enable it). The old
   * secret stops verifying at once: the remembered verification is dropped with the generation bump.
   */
  async setDeviceSecret(id: string, secret: string): Promise<void> {
    if (!this.deviceMap.has(id)) throw new Error(`unknown device ${id}`);
    const hash = await hashSecret(secret);
    // Re-read after scrypt: the device may have been deleted or changed meanwhile.
    const entry = this.deviceMap.get(id);
    if (entry === undefined) throw new Error(`unknown device ${id}`);
    this.db.transaction(() => {
      this.stmt.setSecret.run(hash, id);
      // the terminal's old authentication code is void with the secret: it may register again
      this.stmt.openJt808Registration.run(id);
    })();
    this.reopenJt808Registration(id);
    this.deviceMap.set(id, { device: entry.device, hash, generation: ++this.generation });
    this.forgetVerdicts(id);
    this.changed('device', id);
  }

  /** Changes the officer (null: none) and the report interval of a device; its secret stays. */
  updateDevice(id: string, patch: { officer?: string | null; reportIntervalS?: number }): Device {
    const entry = this.deviceMap.get(id);
    if (entry === undefined) throw new Error(`unknown device ${id}`);
    const officer = patch.officer === undefined ? (entry.device.officer ?? null) : patch.officer;
    if (officer !== null) nonEmpty(officer, 'officer');
    const reportIntervalS = patch.reportIntervalS ?? entry.device.reportIntervalS;
    if (!Number.isInteger(reportIntervalS) || reportIntervalS < 1) {
      throw new Error('reportIntervalS must be a positive integer');
    }
    this.stmt.setDeviceFields.run({ id, officer, report_interval_s: reportIntervalS });
    const { officer: _old, ...rest } = entry.device;
    const device: Device = { ...rest, reportIntervalS };
    if (officer !== null) device.officer = officer;
    this.deviceMap.set(id, { device: Object.freeze(device), hash: entry.hash, generation: entry.generation });
    this.changed('device', id);
    return device;
  }

  /** Removes a device; true when it existed. Its MQTT sessions are the broker's to end. */
  deleteDevice(id: string): boolean {
    if (!this.deviceMap.has(id)) return false;
    this.db.transaction(() => {
      this.stmt.deleteDevice.run(id);
      this.stmt.deleteJt808.run(id);
      this.stmt.openJt808Registration.run(id);
    })();
    this.reopenJt808Registration(id);
    this.rememberBinding(id, undefined);
    this.deviceMap.delete(id);
    this.forgetVerdicts(id);
    this.generation++;
    this.changed('device', id);
    return true;
  }

  /** Removes a vehicle; refused (RegistryConflictError) while a device is mounted on it. */
  deleteVehicle(id: string): boolean {
    if (!this.vehicleMap.has(id)) return false;
    const mounted = this.devicesOfUnit(id);
    if (mounted.length > 0) {
      throw new RegistryConflictError(`vehicle ${id} still carries device(s) ${mounted.join(', ')}`);
    }
    this.stmt.deleteVehicle.run(id);
    this.vehicleMap.delete(id);
    this.changed('vehicle', id);
    return true;
  }

  /** Removes an officer; true when it existed. Body cameras issued to the officer keep the id as history. */
  deleteOfficer(id: string): boolean {
    if (!this.officerMap.has(id)) return false;
    this.stmt.deleteOfficer.run(id);
    this.officerMap.delete(id);
    this.changed('officer', id);
    return true;
  }

  // ---- JT/T 808 bindings and device models (gateway/jt808/) ----

  /** Binds a device to a JT/T 808 terminal, or unbinds it (null). A phone binds one device at most. */
  setJt808Binding(id: string, binding: Jt808Binding | null): Device {
    const entry = this.deviceMap.get(id);
    if (entry === undefined) throw new Error(`unknown device ${id}`);
    const b = binding === null ? undefined : checkJt808Binding(binding);
    const old = this.jt808Map.get(id);
    // another terminal (phone or terminal id): it has not registered yet
    const sameTerminal =
      b !== undefined && old !== undefined && old.phone === b.phone && old.terminalId === b.terminalId;
    if (b !== undefined) this.checkPhoneFree(id, b.phone);
    this.db.transaction(() => {
      if (b !== undefined) this.stmt.upsertJt808.run(bindingRow(id, b));
      else this.stmt.deleteJt808.run(id);
      if (!sameTerminal) this.stmt.openJt808Registration.run(id);
    })();
    if (!sameTerminal) this.reopenJt808Registration(id);
    this.rememberBinding(id, b);
    const { jt808: _old, ...rest } = entry.device;
    const device: Device = { ...rest };
    if (b !== undefined) device.jt808 = Object.freeze({ ...b });
    this.deviceMap.set(id, { device: Object.freeze(device), hash: entry.hash, generation: entry.generation });
    this.changed('device', id);
    return device;
  }

  /**
   * When the device's JT/T 808 registration closed (epoch ms): its terminal authenticated with the code
   * in force then. Undefined: a 0x0100 registration is accepted (never authenticated, or the secret, the
   * terminal or the device changed since).
   */
  jt808RegistrationClosedAt(id: string): number | undefined {
    return this.jt808ClosedMap.get(id);
  }

  /**
   * Closes the device's JT/T 808 registration (its terminal authenticated); the first time counts. A
   * 0x0100 is refused from this call on; the closing is durable when the promise resolves (the terminal
   * is answered then). The closings asked for in one turn of the event loop are written in one
   * transaction at the next: a fleet authenticating after a restart made one fsync per terminal on the
   * main thread before. A failed write leaves them open (as the file has them) and rejects.
   */
  closeJt808Registration(id: string, at: number): Promise<void> {
    if (!this.deviceMap.has(id)) return Promise.resolve();
    if (this.jt808ClosedMap.has(id)) {
      // closed already, or about to be written: durable with that write
      return this.closingsPending.has(id) && this.closingsBatch
        ? this.closingsBatch.written
        : Promise.resolve();
    }
    this.jt808ClosedMap.set(id, at);
    this.closingsPending.set(id, at);
    if (this.closingsBatch === undefined) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const written = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.closingsBatch = { written, resolve, reject };
      setImmediate(() => this.writeClosings());
    }
    return this.closingsBatch.written;
  }

  /** writes the pending closings in one transaction (at the next turn, or at close()) */
  private writeClosings(): void {
    const batch = this.closingsBatch;
    if (batch === undefined) return;
    this.closingsBatch = undefined;
    const rows = [...this.closingsPending];
    this.closingsPending.clear();
    try {
      this.db.transaction(() => {
        for (const [id, at] of rows) this.stmt.closeJt808Registration.run(id, at);
      })();
      batch.resolve();
      // durable: carried to the cluster's other nodes (a terminal that authenticated at one edge cannot
      // register again at another)
      for (const [id] of rows) this.changed('device', id);
    } catch (err) {
      for (const [id, at] of rows) if (this.jt808ClosedMap.get(id) === at) this.jt808ClosedMap.delete(id);
      batch.reject(err as Error);
    }
  }

  /** the device's registration is open again (its secret, terminal or binding changed, or it is gone) */
  private reopenJt808Registration(id: string): void {
    this.jt808ClosedMap.delete(id);
    // a closing not written yet must not be written after the reopening
    this.closingsPending.delete(id);
  }

  /** The device bound to a terminal phone number (any number of leading zeros). */
  deviceByJt808Phone(phone: string): Device | undefined {
    const id = this.phoneMap.get(canonicalPhone(phone));
    return id === undefined ? undefined : this.deviceMap.get(id)?.device;
  }

  /** Stores a device model (its vendor mapping, already checked by the caller's schema). */
  putDeviceModel(id: string, mapping: object): void {
    nonEmpty(id, 'device model id');
    const text = JSON.stringify(mapping);
    this.stmt.upsertModel.run(id, text);
    this.modelMap.set(id, Object.freeze(JSON.parse(text)));
    this.changed('device_model', id);
  }

  deleteDeviceModel(id: string): boolean {
    if (!this.modelMap.has(id)) return false;
    const users = [...this.jt808Map].filter(([, b]) => b.model === id).map(([d]) => d);
    if (users.length > 0) {
      throw new RegistryConflictError(
        `device model ${id} is used by device(s) ${users.slice(0, 10).join(', ')}`,
      );
    }
    this.stmt.deleteModel.run(id);
    this.modelMap.delete(id);
    this.changed('device_model', id);
    return true;
  }

  /** a device model's mapping as stored (frozen), undefined when there is none */
  deviceModel(id: string): unknown {
    return this.modelMap.get(id);
  }

  deviceModelIds(): string[] {
    return [...this.modelMap.keys()];
  }

  private checkPhoneFree(id: string, phone: string): void {
    const other = this.phoneMap.get(phone);
    if (other !== undefined && other !== id) {
      throw new RegistryConflictError(`jt808 phone ${phone} is bound to device ${other}`);
    }
  }

  private rememberBinding(id: string, binding: Jt808Binding | undefined): void {
    const old = this.jt808Map.get(id);
    if (old !== undefined && this.phoneMap.get(old.phone) === id) this.phoneMap.delete(old.phone);
    if (binding === undefined) {
      this.jt808Map.delete(id);
      return;
    }
    this.jt808Map.set(id, binding);
    this.phoneMap.set(binding.phone, id);
  }

  /** ids of the devices filed under a unit (the vehicle's terminals) */
  devicesOfUnit(unit: string): string[] {
    return [...this.deviceMap.values()].filter((e) => e.device.unit === unit).map((e) => e.device.id);
  }

  async putServiceCredential(username: string, secret: string): Promise<void> {
    nonEmpty(username, 'service username');
    const hash = await hashSecret(secret);
    this.stmt.upsertService.run(username, hash);
    this.serviceMap.set(username, { hash, generation: ++this.generation });
    this.serviceVerified.delete(username);
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
    switch (table) {
      case 'firm':
        return [...this.firmMap.keys()];
      case 'vehicle':
        return [...this.vehicleMap.keys()];
      case 'officer':
        return [...this.officerMap.keys()];
      case 'device':
        return [...this.deviceMap.keys()];
      case 'device_model':
        return [...this.modelMap.keys()];
    }
  }

  /** The whole record as stored (null: none), in the form applyRecord takes. */
  exportRecord(table: ReplicatedTable, id: string): ReplicatedRecord | null {
    switch (table) {
      case 'firm': {
        const f = this.firmMap.get(id);
        return f === undefined ? null : { ...f };
      }
      case 'vehicle': {
        const v = this.vehicleMap.get(id);
        return v === undefined ? null : { ...v };
      }
      case 'officer': {
        const o = this.officerMap.get(id);
        return o === undefined ? null : { ...o };
      }
      case 'device': {
        const row = this.stmt.selectDevice.get(id) as DeviceRow | undefined;
        if (row === undefined) return null;
        const jt808 = this.stmt.selectJt808.get(id) as Jt808Row | undefined;
        return {
          ...row,
          jt808: jt808 === undefined ? null : bindingOfRow(jt808),
          // closed on one edge: closed on all (a terminal registering again elsewhere would void its code)
          jt808ClosedAt: this.jt808ClosedMap.get(id) ?? null,
        };
      }
      case 'device_model': {
        const m = this.modelMap.get(id);
        return m === undefined ? null : { mapping: m };
      }
    }
  }

  /**
   * Writes a record carried from another node (as exportRecord gave it there; null deletes), without the
   * checks of the write methods (the node that wrote it made them) and without telling onRecordChange.
   * A device whose secret or enabled flag changed forgets its remembered verifications, as a local
   * write would. Returns false when the record equals the one held (nothing written).
   */
  applyRecord(table: ReplicatedTable, id: string, record: ReplicatedRecord | null): boolean {
    if (JSON.stringify(this.exportRecord(table, id)) === JSON.stringify(record)) {
      // a device is exported from the file: another process sharing the DATA_DIR may have written it
      // there already, and this one's maps are then read from the file
      return table === 'device' && this.reloadDevice(id);
    }
    const r = record ?? {};
    switch (table) {
      case 'firm':
        if (record === null) {
          this.db.prepare('DELETE FROM firms WHERE id = ?').run(id);
          this.firmMap.delete(id);
        } else {
          const row = { id, name: String(r.name) };
          this.stmt.upsertFirm.run(row);
          this.firmMap.set(id, Object.freeze(row));
        }
        return true;
      case 'vehicle':
        if (record === null) {
          this.stmt.deleteVehicle.run(id);
          this.vehicleMap.delete(id);
        } else {
          const vehicle = { ...(r as unknown as Vehicle), id };
          this.stmt.upsertVehicle.run({ ...vehicle, ratedLoadT: vehicle.ratedLoadT ?? null });
          this.vehicleMap.set(id, frozenVehicle(vehicle));
        }
        return true;
      case 'officer':
        if (record === null) {
          this.stmt.deleteOfficer.run(id);
          this.officerMap.delete(id);
        } else {
          const row = { id, name: String(r.name), firm: String(r.firm) };
          this.stmt.upsertOfficer.run(row);
          this.officerMap.set(id, Object.freeze(row));
        }
        return true;
      case 'device_model':
        if (record === null) {
          this.stmt.deleteModel.run(id);
          this.modelMap.delete(id);
        } else {
          const text = JSON.stringify(r.mapping);
          this.stmt.upsertModel.run(id, text);
          this.modelMap.set(id, Object.freeze(JSON.parse(text)));
        }
        return true;
      case 'device': {
        this.db.transaction(() => {
          if (record === null) {
            this.stmt.deleteDevice.run(id);
            this.stmt.deleteJt808.run(id);
            this.stmt.openJt808Registration.run(id);
            return;
          }
          const { jt808, jt808ClosedAt, ...fields } = r as unknown as DeviceRow & {
            jt808: Jt808Binding | null;
            jt808ClosedAt: number | null;
          };
          this.stmt.upsertDevice.run({ ...fields, id });
          if (jt808 === null) this.stmt.deleteJt808.run(id);
          else this.stmt.upsertJt808.run(bindingRow(id, jt808));
          this.stmt.openJt808Registration.run(id);
          if (typeof jt808ClosedAt === 'number') this.stmt.closeJt808Registration.run(id, jt808ClosedAt);
        })();
        const closedAt = (r as { jt808ClosedAt?: number | null }).jt808ClosedAt;
        if (record !== null && typeof closedAt === 'number') this.jt808ClosedMap.set(id, closedAt);
        else this.reopenJt808Registration(id);
        if (record === null) this.rememberBinding(id, undefined);
        // the maps from the file, as for a device written by another process
        this.refreshDevice(id);
        return true;
      }
    }
  }

  /** the device's maps from the file; true when they changed */
  private reloadDevice(id: string): boolean {
    const entry = this.deviceMap.get(id);
    const before = JSON.stringify([entry?.device, entry?.hash, this.jt808ClosedMap.get(id)]);
    const closed = this.db.prepare('SELECT closed_at FROM jt808_registrations WHERE device = ?').get(id) as
      | { closed_at: number }
      | undefined;
    // a closing of this process not written yet stays
    if (closed !== undefined) this.jt808ClosedMap.set(id, closed.closed_at);
    else if (!this.closingsPending.has(id)) this.jt808ClosedMap.delete(id);
    if (this.refreshDevice(id) === undefined) this.rememberBinding(id, undefined);
    const after = this.deviceMap.get(id);
    return before !== JSON.stringify([after?.device, after?.hash, this.jt808ClosedMap.get(id)]);
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
    const row = this.stmt.selectDevice.get(id) as DeviceRow | undefined;
    const old = this.deviceMap.get(id);
    if (row === undefined) {
      if (old !== undefined) {
        this.deviceMap.delete(id);
        this.forgetVerdicts(id);
        this.generation++;
      }
      return undefined;
    }
    const jt808Row = this.stmt.selectJt808.get(id) as Jt808Row | undefined;
    this.rememberBinding(id, jt808Row === undefined ? undefined : bindingOfRow(jt808Row));
    const device = freezeDevice(row, this.jt808Map.get(id));
    const secretOrEnabledChanged =
      old === undefined || old.hash !== row.secret_hash || old.device.enabled !== device.enabled;
    if (secretOrEnabledChanged) this.forgetVerdicts(id);
    this.deviceMap.set(id, {
      device,
      hash: row.secret_hash,
      generation: secretOrEnabledChanged ? ++this.generation : old.generation,
    });
    return device;
  }

  /** refreshDevice for a service account: true when it exists */
  refreshService(username: string): boolean {
    const row = this.stmt.selectService.get(username) as { secret_hash: string } | undefined;
    const old = this.serviceMap.get(username);
    if (row === undefined) {
      if (old !== undefined) {
        this.serviceMap.delete(username);
        this.serviceVerified.delete(username);
      }
      return false;
    }
    if (old?.hash !== row.secret_hash) {
      this.serviceVerified.delete(username);
      this.serviceMap.set(username, { hash: row.secret_hash, generation: ++this.generation });
    }
    return true;
  }

  /** scrypt verifications run since open (a cache hit runs none) */
  get secretChecksRun(): number {
    return this.scryptRuns;
  }

  // ---- lookups: memory only ----

  device(id: string): Device | undefined {
    return this.deviceMap.get(id)?.device;
  }
  vehicle(id: string): Vehicle | undefined {
    return this.vehicleMap.get(id);
  }
  firm(id: string): Firm | undefined {
    return this.firmMap.get(id);
  }
  officer(id: string): Officer | undefined {
    return this.officerMap.get(id);
  }
  devices(): Device[] {
    return [...this.deviceMap.values()].map((e) => e.device);
  }
  vehicles(): Vehicle[] {
    return [...this.vehicleMap.values()];
  }
  firms(): Firm[] {
    return [...this.firmMap.values()];
  }
  officers(): Officer[] {
    return [...this.officerMap.values()];
  }
  isService(username: string): boolean {
    return this.serviceMap.has(username);
  }

  // ---- secret checks ----

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.cacheKey).update(secret, 'utf8').digest();
  }

  private forgetVerdicts(id: string): void {
    this.deviceVerified.delete(id);
    this.deviceRefused.delete(id);
  }

  /** the remembered answer for (device, MAC of secret), or undefined when only scrypt can tell */
  private verdictOf(id: string, entry: DeviceEntry, mac: Buffer): boolean | undefined {
    if (!entry.device.enabled) return false;
    const cached = this.deviceVerified.get(id);
    if (cached !== undefined && timingSafeEqual(cached, mac)) return true;
    const byHash = this.hashVerified.get(entry.hash);
    if (byHash !== undefined && timingSafeEqual(byHash, mac)) {
      this.deviceVerified.set(id, mac);
      return true;
    }
    if (this.deviceRefused.get(id)?.some((m) => timingSafeEqual(m, mac))) return false;
    return undefined;
  }

  /**
   * What verifyDevice would answer without running scrypt: true or false when this secret was checked
   * for this device since its last change, undefined otherwise. The broker lets a device whose secret
   * is remembered in even while its id is throttled (a flood against a device id cannot lock it out).
   */
  rememberedDeviceVerdict(id: string, secret: string): boolean | undefined {
    if (typeof secret !== 'string' || secret.length === 0) return false;
    const entry = this.deviceMap.get(id);
    if (entry === undefined) return false;
    return this.verdictOf(id, entry, this.mac(secret));
  }

  async verifyDevice(id: string, secret: string): Promise<boolean> {
    if (typeof secret !== 'string' || secret.length === 0) return false;
    const mac = this.mac(secret);
    // A change of secret or enabled flag while scrypt runs makes the result stale: check again.
    for (;;) {
      const entry = this.deviceMap.get(id);
      if (entry === undefined) return false;
      const remembered = this.verdictOf(id, entry, mac);
      if (remembered !== undefined) return remembered;
      this.scryptRuns++;
      const ok = await verifySecret(secret, entry.hash);
      if (this.deviceMap.get(id)?.generation !== entry.generation) continue;
      if (ok) {
        this.deviceVerified.set(id, mac);
        if (this.hashVerified.size >= HASH_CACHE_MAX) this.hashVerified.clear();
        this.hashVerified.set(entry.hash, mac);
      } else {
        const refused = this.deviceRefused.get(id) ?? [];
        if (refused.length === 0 && this.deviceRefused.size >= REFUSED_CACHE_MAX) this.deviceRefused.clear();
        refused.unshift(mac);
        refused.length = Math.min(refused.length, REFUSED_PER_DEVICE);
        this.deviceRefused.set(id, refused);
      }
      return ok;
    }
  }

  async verifyService(username: string, secret: string): Promise<boolean> {
    if (typeof secret !== 'string' || secret.length === 0) return false;
    const mac = this.mac(secret);
    for (;;) {
      const entry = this.serviceMap.get(username);
      if (entry === undefined) return false;
      const cached = this.serviceVerified.get(username);
      if (cached !== undefined && timingSafeEqual(cached, mac)) return true;
      this.scryptRuns++;
      const ok = await verifySecret(secret, entry.hash);
      if (this.serviceMap.get(username)?.generation !== entry.generation) continue;
      if (ok) this.serviceVerified.set(username, mac);
      return ok;
    }
  }

  /** Number of successful verifications currently remembered (for tests and diagnostics). */
  verificationCacheSize(): number {
    return this.deviceVerified.size + this.serviceVerified.size;
  }

  close(): void {
    // closings asked for in this turn are written before the file closes
    if (this.db.open) this.writeClosings();
    this.deviceVerified.clear();
    this.deviceRefused.clear();
    this.serviceVerified.clear();
    if (this.db.open) this.db.close();
  }
}

/** The row of a vehicle, after the checks every write of one makes (throws naming the field). */
function checkedVehicleRow(
  vehicle: Vehicle,
  exists: (id: string) => boolean,
): {
  id: string;
  plate: string;
  kind: string;
  firm: string;
  ratedLoadT: number | null;
} {
  // a new id follows the grammar (registry/ids.ts); an existing one may predate it
  checkNewId('vehicle', vehicle.id, exists);
  nonEmpty(vehicle.plate, 'vehicle plate');
  nonEmpty(vehicle.firm, 'vehicle firm');
  const kind: string = vehicle.kind;
  if (kind !== 'muck_truck' && kind !== 'sanitation') {
    throw new Error(`vehicle kind must be muck_truck or sanitation, got ${String(vehicle.kind)}`);
  }
  if (vehicle.ratedLoadT !== undefined && !(Number.isFinite(vehicle.ratedLoadT) && vehicle.ratedLoadT > 0)) {
    throw new Error('ratedLoadT must be a positive number');
  }
  return {
    id: vehicle.id,
    plate: vehicle.plate,
    kind: vehicle.kind,
    firm: vehicle.firm,
    ratedLoadT: vehicle.ratedLoadT ?? null,
  };
}

function frozenVehicle(vehicle: Vehicle): Readonly<Vehicle> {
  const copy: Vehicle = { id: vehicle.id, plate: vehicle.plate, kind: vehicle.kind, firm: vehicle.firm };
  if (vehicle.ratedLoadT !== undefined) copy.ratedLoadT = vehicle.ratedLoadT;
  return Object.freeze(copy);
}
