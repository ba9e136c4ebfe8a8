import type { Jt808Binding, Vehicle } from '../types.ts';
import { refreshDevice } from './devices.ts';
import type { RegistryState, ReplicatedRecord, ReplicatedTable } from './state.ts';
import { bindingOfRow, bindingRow, type DeviceRow, frozenVehicle, type Jt808Row } from './tables.ts';

/** The records a cluster carries between nodes (cluster/registry-sync.ts): ids, export, apply. */

/** the ids of a table (every record the node holds) */
export function recordIds(s: RegistryState, table: ReplicatedTable): string[] {
  switch (table) {
    case 'firm':
      return [...s.firms.keys()];
    case 'vehicle':
      return [...s.vehicles.keys()];
    case 'officer':
      return [...s.officers.keys()];
    case 'device':
      return [...s.devices.keys()];
    case 'device_model':
      return [...s.models.keys()];
  }
}

/** The whole record as stored (null: none), in the form applyRecord takes. */
export function exportRecord(s: RegistryState, table: ReplicatedTable, id: string): ReplicatedRecord | null {
  switch (table) {
    case 'firm': {
      const f = s.firms.get(id);
      return f === undefined ? null : { ...f };
    }
    case 'vehicle': {
      const v = s.vehicles.get(id);
      return v === undefined ? null : { ...v };
    }
    case 'officer': {
      const o = s.officers.get(id);
      return o === undefined ? null : { ...o };
    }
    case 'device': {
      const row = s.stmt.selectDevice.get(id) as DeviceRow | undefined;
      if (row === undefined) return null;
      const jt808 = s.stmt.selectJt808.get(id) as Jt808Row | undefined;
      return {
        ...row,
        jt808: jt808 === undefined ? null : bindingOfRow(jt808),
        // closed on one edge: closed on all (a terminal registering again elsewhere would void its code)
        jt808ClosedAt: s.terminals.closed.get(id) ?? null,
      };
    }
    case 'device_model': {
      const m = s.models.get(id);
      return m === undefined ? null : { mapping: m };
    }
  }
}

/**
 * A row of a simple table (firm, officer, device model) as carried: deleted (null) or written, in the
 * file and then in memory.
 */
function applySimple<T>(
  record: ReplicatedRecord | null,
  remove: () => void,
  write: () => T,
  map: Map<string, T>,
  id: string,
): void {
  if (record === null) {
    remove();
    map.delete(id);
  } else {
    map.set(id, write());
  }
}

/** Writes a record carried from another node (see SqliteRegistry.applyRecord). */
export function applyRecord(
  s: RegistryState,
  table: ReplicatedTable,
  id: string,
  record: ReplicatedRecord | null,
): boolean {
  if (JSON.stringify(exportRecord(s, table, id)) === JSON.stringify(record)) {
    // a device is exported from the file: another process sharing the DATA_DIR may have written it
    // there already, and this one's maps are then read from the file
    return table === 'device' && reloadDevice(s, id);
  }
  const r = record ?? {};
  switch (table) {
    case 'firm':
      applySimple(
        record,
        () => s.stmt.deleteFirm.run(id),
        () => {
          const row = { id, name: String(r.name) };
          s.stmt.upsertFirm.run(row);
          return Object.freeze(row);
        },
        s.firms,
        id,
      );
      return true;
    case 'vehicle':
      applySimple(
        record,
        () => s.stmt.deleteVehicle.run(id),
        () => {
          const vehicle = { ...(r as unknown as Vehicle), id };
          s.stmt.upsertVehicle.run({ ...vehicle, ratedLoadT: vehicle.ratedLoadT ?? null });
          return frozenVehicle(vehicle);
        },
        s.vehicles,
        id,
      );
      return true;
    case 'officer':
      applySimple(
        record,
        () => s.stmt.deleteOfficer.run(id),
        () => {
          const row = { id, name: String(r.name), firm: String(r.firm) };
          s.stmt.upsertOfficer.run(row);
          return Object.freeze(row);
        },
        s.officers,
        id,
      );
      return true;
    case 'device_model':
      applySimple(
        record,
        () => s.stmt.deleteModel.run(id),
        () => {
          const text = JSON.stringify(r.mapping);
          s.stmt.upsertModel.run(id, text);
          return Object.freeze(JSON.parse(text)) as unknown;
        },
        s.models,
        id,
      );
      return true;
    case 'device': {
      s.db.transaction(() => {
        if (record === null) {
          s.stmt.deleteDevice.run(id);
          s.stmt.deleteJt808.run(id);
          s.stmt.openJt808Registration.run(id);
          return;
        }
        const { jt808, jt808ClosedAt, ...fields } = r as unknown as DeviceRow & {
          jt808: Jt808Binding | null;
          jt808ClosedAt: number | null;
        };
        s.stmt.upsertDevice.run({ ...fields, id });
        if (jt808 === null) s.stmt.deleteJt808.run(id);
        else s.stmt.upsertJt808.run(bindingRow(id, jt808));
        s.stmt.openJt808Registration.run(id);
        if (typeof jt808ClosedAt === 'number') s.stmt.closeJt808Registration.run(id, jt808ClosedAt);
      })();
      const closedAt = (r as { jt808ClosedAt?: number | null }).jt808ClosedAt;
      if (record !== null && typeof closedAt === 'number') s.terminals.closed.set(id, closedAt);
      else s.terminals.reopen(id);
      if (record === null) s.terminals.remember(id, undefined);
      // the maps from the file, as for a device written by another process
      refreshDevice(s, id);
      return true;
    }
  }
}

/** the device's maps from the file; true when they changed */
function reloadDevice(s: RegistryState, id: string): boolean {
  const entry = s.devices.get(id);
  const before = JSON.stringify([entry?.device, entry?.hash, s.terminals.closed.get(id)]);
  s.terminals.reloadClosing(id);
  if (refreshDevice(s, id) === undefined) s.terminals.remember(id, undefined);
  const after = s.devices.get(id);
  return before !== JSON.stringify([after?.device, after?.hash, s.terminals.closed.get(id)]);
}
