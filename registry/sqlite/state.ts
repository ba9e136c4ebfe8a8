import type Database from 'better-sqlite3';
import type { Firm, Officer, Vehicle, VehicleKind } from '../types.ts';
import type { Jt808Terminals } from './jt808-terminals.ts';
import type { DeviceEntry, SecretChecks, ServiceEntry } from './secret-checks.ts';
import { bindingOfRow, type DeviceRow, freezeDevice, type Jt808Row, type Statements } from './tables.ts';

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

/**
 * What the device registry holds (registry/sqlite.ts): the open file, its statements, and every table
 * in memory. The stores of registry/sqlite/ read and write through it: the file first, then the maps
 * (a failed write leaves both unchanged), then `changed`.
 */
export interface RegistryState {
  readonly db: Database.Database;
  readonly stmt: Statements;
  readonly firms: Map<string, Readonly<Firm>>;
  readonly vehicles: Map<string, Readonly<Vehicle>>;
  readonly officers: Map<string, Readonly<Officer>>;
  readonly devices: Map<string, DeviceEntry>;
  readonly services: Map<string, ServiceEntry>;
  /** device models (vendor mappings) as stored: id → parsed JSON, frozen */
  readonly models: Map<string, unknown>;
  readonly terminals: Jt808Terminals;
  readonly secrets: SecretChecks;
  /** the next generation of a device or service whose secret or enabled flag changed */
  nextGeneration(): number;
  /** after every write made here (not after a replicated one) */
  changed(table: ReplicatedTable, id: string): void;
}

/** Every table into the maps (at open). */
export function loadTables(s: RegistryState): void {
  const { db } = s;
  for (const row of db.prepare('SELECT id, name FROM firms').all() as Firm[]) {
    s.firms.set(row.id, Object.freeze({ id: row.id, name: row.name }));
  }
  const vehicles = db.prepare('SELECT id, plate, kind, firm, rated_load_t FROM vehicles').all() as {
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
    s.vehicles.set(row.id, Object.freeze(vehicle));
  }
  for (const row of db.prepare('SELECT id, name, firm FROM officers').all() as Officer[]) {
    s.officers.set(row.id, Object.freeze({ id: row.id, name: row.name, firm: row.firm }));
  }
  for (const row of db.prepare('SELECT * FROM jt808_terminals').all() as Jt808Row[]) {
    s.terminals.remember(row.device, bindingOfRow(row));
  }
  for (const row of db.prepare('SELECT device, closed_at FROM jt808_registrations').all() as {
    device: string;
    closed_at: number;
  }[]) {
    s.terminals.closed.set(row.device, row.closed_at);
  }
  for (const row of db.prepare('SELECT id, mapping FROM device_models').all() as {
    id: string;
    mapping: string;
  }[]) {
    s.models.set(row.id, Object.freeze(JSON.parse(row.mapping)));
  }
  for (const row of db.prepare('SELECT * FROM devices').all() as DeviceRow[]) {
    s.devices.set(row.id, {
      device: freezeDevice(row, s.terminals.bindings.get(row.id)),
      hash: row.secret_hash,
      generation: 0,
    });
  }
  const services = db.prepare('SELECT username, secret_hash FROM service_credentials').all() as {
    username: string;
    secret_hash: string;
  }[];
  for (const row of services) s.services.set(row.username, { hash: row.secret_hash, generation: 0 });
}
