import type Database from 'better-sqlite3';
import type { UnitKind } from '../../core/fix.ts';
import type { Device, Jt808Binding, Vehicle } from '../types.ts';

/**
 * The tables of `registry.db` (registry/sqlite.ts), their prepared statements, and the conversions
 * between a row and the frozen object the registry hands out.
 */

export const SCHEMA_VERSION = 1;

export const SCHEMA = `
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
-- (gateway/jt808/session-login.ts) until the device's secret changes again.
CREATE TABLE IF NOT EXISTS jt808_registrations (
  device    TEXT PRIMARY KEY NOT NULL,
  closed_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS device_models (
  id      TEXT PRIMARY KEY NOT NULL,
  mapping TEXT NOT NULL
) STRICT;
`;

export function prepareStatements(db: Database.Database) {
  return {
    upsertFirm: db.prepare(
      'INSERT INTO firms (id, name) VALUES (@id, @name) ON CONFLICT(id) DO UPDATE SET name = excluded.name',
    ),
    deleteFirm: db.prepare('DELETE FROM firms WHERE id = ?'),
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
    selectJt808Registration: db.prepare('SELECT closed_at FROM jt808_registrations WHERE device = ?'),
    upsertModel: db.prepare(
      'INSERT INTO device_models (id, mapping) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET mapping = excluded.mapping',
    ),
    deleteModel: db.prepare('DELETE FROM device_models WHERE id = ?'),
  };
}
export type Statements = ReturnType<typeof prepareStatements>;

export interface Jt808Row {
  device: string;
  phone: string;
  terminal_id: string | null;
  model: string | null;
}

export function bindingOfRow(row: Jt808Row): Jt808Binding {
  const b: Jt808Binding = { phone: row.phone };
  if (row.terminal_id !== null) b.terminalId = row.terminal_id;
  if (row.model !== null) b.model = row.model;
  return b;
}

export function bindingRow(device: string, b: Jt808Binding): Jt808Row {
  return { device, phone: b.phone, terminal_id: b.terminalId ?? null, model: b.model ?? null };
}

export interface DeviceRow {
  id: string;
  kind: string;
  unit: string;
  firm: string;
  officer: string | null;
  report_interval_s: number;
  enabled: number;
  secret_hash: string;
}

export function freezeDevice(row: DeviceRow, jt808?: Jt808Binding): Readonly<Device> {
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

/** A vehicle's row as upsertVehicle writes it (no rated load: null). */
export interface VehicleRow {
  id: string;
  plate: string;
  kind: string;
  firm: string;
  ratedLoadT: number | null;
}

export function vehicleRow(vehicle: Vehicle): VehicleRow {
  const { id, plate, kind, firm } = vehicle;
  return { id, plate, kind, firm, ratedLoadT: vehicle.ratedLoadT ?? null };
}

export function frozenVehicle(vehicle: Vehicle): Readonly<Vehicle> {
  const copy: Vehicle = { id: vehicle.id, plate: vehicle.plate, kind: vehicle.kind, firm: vehicle.firm };
  if (vehicle.ratedLoadT !== undefined) copy.ratedLoadT = vehicle.ratedLoadT;
  return Object.freeze(copy);
}
