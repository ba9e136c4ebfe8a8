import { checkNewId } from '../ids.ts';
import { FirmSchema, OfficerSchema, VehicleSchema } from '../model/fleet.ts';
import { parseEntity } from '../model/issues.ts';
import type { Firm, Officer, Vehicle } from '../types.ts';
import { RegistryConflictError } from './errors.ts';
import type { RegistryState } from './state.ts';
import { frozenVehicle, vehicleRow } from './tables.ts';

/**
 * Firms, vehicles and officers of the device registry (registry/sqlite.ts): writes, file first, each
 * checked by its schema (registry/model/fleet.ts, the API's too).
 */

export function upsertFirm(s: RegistryState, firm: Firm): void {
  const id = checkNewId('firm', firm.id, (id) => s.firms.has(id));
  const row = { id, ...parseEntity('firm', FirmSchema, firm) };
  s.stmt.upsertFirm.run(row);
  s.firms.set(row.id, Object.freeze(row));
  s.changed('firm', row.id);
}

export function upsertVehicle(s: RegistryState, input: Vehicle): void {
  const vehicle = checkedVehicle(input, (id) => s.vehicles.has(id));
  s.stmt.upsertVehicle.run(vehicleRow(vehicle));
  s.vehicles.set(vehicle.id, frozenVehicle(vehicle));
  s.changed('vehicle', vehicle.id);
}

/** upsertVehicle for many: every check first, then one transaction (all or nothing, one fsync). */
export function importVehicles(s: RegistryState, input: readonly Vehicle[]): number {
  const vehicles = input.map((v) => checkedVehicle(v, (id) => s.vehicles.has(id)));
  s.db.transaction((all: Vehicle[]) => {
    for (const v of all) s.stmt.upsertVehicle.run(vehicleRow(v));
  })(vehicles);
  for (const v of vehicles) s.vehicles.set(v.id, frozenVehicle(v));
  for (const v of vehicles) s.changed('vehicle', v.id);
  return vehicles.length;
}

export function upsertOfficer(s: RegistryState, officer: Officer): void {
  const row = {
    id: checkNewId('officer', officer.id, (id) => s.officers.has(id)),
    ...parseEntity('officer', OfficerSchema, officer),
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

/** A vehicle as stored, after the checks every write of one makes (throws naming the field). */
function checkedVehicle(vehicle: Vehicle, exists: (id: string) => boolean): Vehicle {
  // a new id follows the grammar (registry/ids.ts); an existing one may predate it
  const id = checkNewId('vehicle', vehicle.id, exists);
  return { id, ...parseEntity('vehicle', VehicleSchema, vehicle) };
}
