import { checkNewId } from '../ids.ts';
import type { Firm, Officer, Vehicle } from '../types.ts';
import { RegistryConflictError } from './errors.ts';
import type { RegistryState } from './state.ts';
import { frozenVehicle, type VehicleRow } from './tables.ts';

/** Firms, vehicles and officers of the device registry (registry/sqlite.ts): writes, file first. */

export function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty string`);
  return value;
}

export function upsertFirm(s: RegistryState, firm: Firm): void {
  const id = checkNewId('firm', firm.id, (id) => s.firms.has(id));
  const row = { id, name: nonEmpty(firm.name, 'firm name') };
  s.stmt.upsertFirm.run(row);
  s.firms.set(row.id, Object.freeze(row));
  s.changed('firm', row.id);
}

export function upsertVehicle(s: RegistryState, vehicle: Vehicle): void {
  const row = checkedVehicleRow(vehicle, (id) => s.vehicles.has(id));
  s.stmt.upsertVehicle.run(row);
  s.vehicles.set(vehicle.id, frozenVehicle(vehicle));
  s.changed('vehicle', vehicle.id);
}

/** upsertVehicle for many: every check first, then one transaction (all or nothing, one fsync). */
export function importVehicles(s: RegistryState, vehicles: readonly Vehicle[]): number {
  const rows = vehicles.map((v) => checkedVehicleRow(v, (id) => s.vehicles.has(id)));
  s.db.transaction((all: typeof rows) => {
    for (const row of all) s.stmt.upsertVehicle.run(row);
  })(rows);
  for (const v of vehicles) s.vehicles.set(v.id, frozenVehicle(v));
  for (const v of vehicles) s.changed('vehicle', v.id);
  return rows.length;
}

export function upsertOfficer(s: RegistryState, officer: Officer): void {
  const row = {
    id: checkNewId('officer', officer.id, (id) => s.officers.has(id)),
    name: nonEmpty(officer.name, 'officer name'),
    firm: nonEmpty(officer.firm, 'officer firm'),
  };
  s.stmt.upsertOfficer.run(row);
  s.officers.set(row.id, Object.freeze(row));
  s.changed('officer', row.id);
}

/** ids of the devices filed under a unit (the vehicle's terminals) */
export function devicesOfUnit(s: RegistryState, unit: string): string[] {
  return [...s.devices.values()].filter((e) => e.device.unit === unit).map((e) => e.device.id);
}

/** Removes a vehicle; refused (RegistryConflictError) while a device is mounted on it. */
export function deleteVehicle(s: RegistryState, id: string): boolean {
  if (!s.vehicles.has(id)) return false;
  const mounted = devicesOfUnit(s, id);
  if (mounted.length > 0) {
    throw new RegistryConflictError(`vehicle ${id} still carries device(s) ${mounted.join(', ')}`);
  }
  s.stmt.deleteVehicle.run(id);
  s.vehicles.delete(id);
  s.changed('vehicle', id);
  return true;
}

/** Removes an officer; true when it existed. Body cameras issued to the officer keep the id as history. */
export function deleteOfficer(s: RegistryState, id: string): boolean {
  if (!s.officers.has(id)) return false;
  s.stmt.deleteOfficer.run(id);
  s.officers.delete(id);
  s.changed('officer', id);
  return true;
}

/** The row of a vehicle, after the checks every write of one makes (throws naming the field). */
function checkedVehicleRow(vehicle: Vehicle, exists: (id: string) => boolean): VehicleRow {
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
