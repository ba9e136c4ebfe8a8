import type { Firm, Jt808Binding, Officer, Vehicle } from '../types.ts';
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
 * The tables whose record is one row and one map entry, and how a record carried from another node is
 * written to each (the file, then the value its map holds).
 */
const SIMPLE_TABLES: {
  [T in Exclude<ReplicatedTable, 'device'>]: {
    map(s: RegistryState): Map<string, unknown>;
    remove(s: RegistryState, id: string): void;
    write(s: RegistryState, id: string, r: ReplicatedRecord): unknown;
    /** the value its map holds, read from the file (undefined: no row) */
    read(s: RegistryState, id: string): unknown;
  };
} = {
  firm: {
    map: (s) => s.firms,
    read(s, id) {
      const row = s.db.prepare('SELECT id, name FROM firms WHERE id = ?').get(id) as Firm | undefined;
      return row === undefined ? undefined : Object.freeze({ id: row.id, name: row.name });
    },
    remove: (s, id) => s.stmt.deleteFirm.run(id),
    write(s, id, r) {
      const row = { id, name: String(r.name) };
      s.stmt.upsertFirm.run(row);
      return Object.freeze(row);
    },
  },
  vehicle: {
    map: (s) => s.vehicles,
    read(s, id) {
      const row = s.db
        .prepare('SELECT id, plate, kind, firm, rated_load_t FROM vehicles WHERE id = ?')
        .get(id) as (Omit<Vehicle, 'ratedLoadT'> & { rated_load_t: number | null }) | undefined;
      if (row === undefined) return undefined;
      const { rated_load_t, ...vehicle } = row;
      return frozenVehicle(rated_load_t === null ? vehicle : { ...vehicle, ratedLoadT: rated_load_t });
    },
    remove: (s, id) => s.stmt.deleteVehicle.run(id),
    write(s, id, r) {
      const vehicle = { ...(r as unknown as Vehicle), id };
      s.stmt.upsertVehicle.run({ ...vehicle, ratedLoadT: vehicle.ratedLoadT ?? null });
      return frozenVehicle(vehicle);
    },
  },
  officer: {
    map: (s) => s.officers,
    read(s, id) {
      const row = s.db.prepare('SELECT id, name, firm FROM officers WHERE id = ?').get(id) as
        | Officer
        | undefined;
      return row === undefined ? undefined : Object.freeze({ id: row.id, name: row.name, firm: row.firm });
    },
    remove: (s, id) => s.stmt.deleteOfficer.run(id),
    write(s, id, r) {
      const row = { id, name: String(r.name), firm: String(r.firm) };
      s.stmt.upsertOfficer.run(row);
      return Object.freeze(row);
    },
  },
  device_model: {
    map: (s) => s.models,
    read(s, id) {
      const row = s.db.prepare('SELECT mapping FROM device_models WHERE id = ?').get(id) as
        | { mapping: string }
        | undefined;
      return row === undefined ? undefined : Object.freeze(JSON.parse(row.mapping));
    },
    remove: (s, id) => s.stmt.deleteModel.run(id),
    write(s, id, r) {
      const text = JSON.stringify(r.mapping);
      s.stmt.upsertModel.run(id, text);
      return Object.freeze(JSON.parse(text));
    },
  },
};

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
  if (table !== 'device') {
    const simple = SIMPLE_TABLES[table];
    if (record === null) {
      simple.remove(s, id);
      simple.map(s).delete(id);
    } else {
      simple.map(s).set(id, simple.write(s, id, record));
    }
    return true;
  }
  const r = record ?? {};
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

/**
 * A record's map entry read back from the file: after a batch of applied records whose transaction
 * failed as a whole (SqliteRegistry.applyBatch), the maps hold what the file does not.
 */
export function reloadRecord(s: RegistryState, table: ReplicatedTable, id: string): void {
  if (table === 'device') {
    reloadDevice(s, id);
    return;
  }
  const simple = SIMPLE_TABLES[table];
  const value = simple.read(s, id);
  if (value === undefined) simple.map(s).delete(id);
  else simple.map(s).set(id, value);
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
