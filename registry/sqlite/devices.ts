import { checkNewId } from '../ids.ts';
import {
  DEFAULT_REPORT_INTERVAL_S,
  DeviceChangeSchema,
  Jt808BindingSchema,
  NewDeviceSchema,
} from '../model/fleet.ts';
import { parseEntity } from '../model/issues.ts';
import { hashSecret } from '../secrets.ts';
import type { Device, Jt808Binding, NewDevice } from '../types.ts';
import { RegistryConflictError } from './errors.ts';
import { canonicalPhone } from './jt808-terminals.ts';
import type { RegistryState } from './state.ts';
import { bindingOfRow, bindingRow, type DeviceRow, freezeDevice, type Jt808Row } from './tables.ts';

/**
 * Devices of the device registry (registry/sqlite.ts): provisioning (the secret hashed with scrypt),
 * bulk import of hashed secrets, enabling, rotation, changes, deletion, JT/T 808 bindings, and the
 * re-reading of a device another process wrote. File first, then the maps; a change of secret or
 * enabled flag bumps the device's generation and forgets its remembered verifications.
 */

export { DEFAULT_REPORT_INTERVAL_S };

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty string`);
  return value;
}

/** A binding as kept: its schema's (registry/model/fleet.ts), the phone without leading zeros. */
function canonicalBinding(b: Jt808Binding): Jt808Binding {
  const out: Jt808Binding = { phone: canonicalPhone(b.phone) };
  if (b.terminalId !== undefined) out.terminalId = b.terminalId;
  if (b.model !== undefined) out.model = b.model;
  return out;
}

/** Checks a JT/T 808 binding (throws naming the field); returns it canonical. */
export function checkJt808Binding(b: Jt808Binding): Jt808Binding {
  return canonicalBinding(parseEntity('jt808', Jt808BindingSchema, b));
}

/** The row of a device, after the checks every write of one makes (throws naming the field). */
function checkedDeviceRow(s: RegistryState, input: Omit<NewDevice, 'secret'>, secretHash: string): DeviceRow {
  checkNewId('device', input.id, (id) => s.devices.has(id));
  const device = parseEntity('device', NewDeviceSchema, input);
  const unit = device.vehicle ?? input.id;
  const vehicle = device.vehicle === undefined ? undefined : s.vehicles.get(unit);
  if (vehicle !== undefined && vehicle.kind !== device.kind) {
    throw new Error(`device kind ${device.kind} does not match vehicle ${unit} (${vehicle.kind})`);
  }
  const reportIntervalS = device.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
  return {
    id: input.id,
    kind: device.kind,
    unit,
    firm: device.firm,
    officer: device.officer ?? null,
    report_interval_s: reportIntervalS,
    enabled: 1,
    secret_hash: secretHash,
  };
}

/** the device's entry after a change of secret or enabled flag: a new generation, no remembered verdicts */
function rememberDevice(s: RegistryState, device: Readonly<Device>, hash: string): void {
  s.devices.set(device.id, { device, hash, generation: s.nextGeneration() });
  s.secrets.forgetDevice(device.id);
}

export async function putDevice(s: RegistryState, input: NewDevice): Promise<Device> {
  const row = checkedDeviceRow(s, input, '');
  const binding = input.jt808 === undefined ? undefined : checkJt808Binding(input.jt808);
  if (binding !== undefined) s.terminals.checkPhoneFree(input.id, binding.phone);
  const hash = await hashSecret(input.secret);
  row.secret_hash = hash;
  // re-checked after scrypt: another device may have taken the phone meanwhile
  if (binding !== undefined) s.terminals.checkPhoneFree(input.id, binding.phone);
  s.db.transaction(() => {
    s.stmt.upsertDevice.run(row);
    if (binding !== undefined) s.stmt.upsertJt808.run(bindingRow(row.id, binding));
    else s.stmt.deleteJt808.run(row.id);
    // a new secret: the terminal's old authentication code is void, it may register again
    s.stmt.openJt808Registration.run(row.id);
  })();
  s.terminals.reopen(row.id);
  s.terminals.remember(row.id, binding);
  const device = freezeDevice(row, binding);
  rememberDevice(s, device, hash);
  s.changed('device', row.id);
  return { ...device };
}

/** putDevice for many, secrets already hashed (`scrypt$N$r$p$salt$hash`): no scrypt, one transaction. */
export function importDevices(
  s: RegistryState,
  devices: ReadonlyArray<Omit<NewDevice, 'secret'> & { secretHash: string }>,
): number {
  const rows: DeviceRow[] = devices.map((input) => {
    const row = checkedDeviceRow(s, input, input.secretHash);
    if (
      typeof input.secretHash !== 'string' ||
      !/^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/.test(input.secretHash)
    ) {
      throw new Error(`secretHash of device ${input.id} is not a scrypt$N$r$p$salt$hash string`);
    }
    return row;
  });
  const bindings = new Map<string, Jt808Binding>();
  for (const input of devices) {
    if (input.jt808 === undefined) continue;
    const b = checkJt808Binding(input.jt808);
    const other = bindings.get(b.phone) ?? s.terminals.deviceOfPhone(b.phone);
    if (other !== undefined && other !== input.id) {
      throw new RegistryConflictError(`jt808 phone ${b.phone} is bound to device ${other}`);
    }
    bindings.set(input.id, b);
    bindings.set(b.phone, b);
  }
  s.db.transaction((all: DeviceRow[]) => {
    for (const row of all) {
      s.stmt.upsertDevice.run(row);
      const b = bindings.get(row.id);
      if (b !== undefined) s.stmt.upsertJt808.run(bindingRow(row.id, b));
    }
  })(rows);
  for (const row of rows) {
    const b = bindings.get(row.id);
    if (b !== undefined) s.terminals.remember(row.id, b);
    rememberDevice(s, freezeDevice(row, s.terminals.bindings.get(row.id)), row.secret_hash);
    s.changed('device', row.id);
  }
  return rows.length;
}

function entryOf(s: RegistryState, id: string) {
  const entry = s.devices.get(id);
  if (entry === undefined) throw new Error(`unknown device ${id}`);
  return entry;
}

export function setDeviceEnabled(s: RegistryState, id: string, enabled: boolean): void {
  const entry = entryOf(s, id);
  s.stmt.setEnabled.run(enabled ? 1 : 0, id);
  rememberDevice(s, Object.freeze({ ...entry.device, enabled }), entry.hash);
  s.changed('device', id);
}

/** Replaces a device's secret, keeping everything else; the old secret stops verifying at once. */
export async function setDeviceSecret(s: RegistryState, id: string, secret: string): Promise<void> {
  entryOf(s, id);
  const hash = await hashSecret(secret);
  // Re-read after scrypt: the device may have been deleted or changed meanwhile.
  const entry = entryOf(s, id);
  s.db.transaction(() => {
    s.stmt.setSecret.run(hash, id);
    // the terminal's old authentication code is void with the secret: it may register again
    s.stmt.openJt808Registration.run(id);
  })();
  s.terminals.reopen(id);
  rememberDevice(s, entry.device, hash);
  s.changed('device', id);
}

/** Changes the officer (null: none) and the report interval of a device; its secret stays. */
export function updateDevice(
  s: RegistryState,
  id: string,
  patch: { officer?: string | null; reportIntervalS?: number },
): Device {
  const entry = entryOf(s, id);
  const change = parseEntity('device', DeviceChangeSchema, patch);
  const officer = change.officer === undefined ? (entry.device.officer ?? null) : change.officer;
  const reportIntervalS = change.reportIntervalS ?? entry.device.reportIntervalS;
  s.stmt.setDeviceFields.run({ id, officer, report_interval_s: reportIntervalS });
  const { officer: _old, ...rest } = entry.device;
  const device: Device = { ...rest, reportIntervalS };
  if (officer !== null) device.officer = officer;
  s.devices.set(id, { device: Object.freeze(device), hash: entry.hash, generation: entry.generation });
  s.changed('device', id);
  return device;
}

/** Removes a device; true when it existed. Its MQTT sessions are the broker's to end. */
export function deleteDevice(s: RegistryState, id: string): boolean {
  if (!s.devices.has(id)) return false;
  s.db.transaction(() => {
    s.stmt.deleteDevice.run(id);
    s.stmt.deleteJt808.run(id);
    s.stmt.openJt808Registration.run(id);
  })();
  s.terminals.reopen(id);
  s.terminals.remember(id, undefined);
  s.devices.delete(id);
  s.secrets.forgetDevice(id);
  s.nextGeneration();
  s.changed('device', id);
  return true;
}

/** Binds a device to a JT/T 808 terminal, or unbinds it (null). A phone binds one device at most. */
export function setJt808Binding(s: RegistryState, id: string, binding: Jt808Binding | null): Device {
  const entry = entryOf(s, id);
  const b = binding === null ? undefined : checkJt808Binding(binding);
  const old = s.terminals.bindings.get(id);
  // another terminal (phone or terminal id): it has not registered yet
  const sameTerminal =
    b !== undefined && old !== undefined && old.phone === b.phone && old.terminalId === b.terminalId;
  if (b !== undefined) s.terminals.checkPhoneFree(id, b.phone);
  s.db.transaction(() => {
    if (b !== undefined) s.stmt.upsertJt808.run(bindingRow(id, b));
    else s.stmt.deleteJt808.run(id);
    if (!sameTerminal) s.stmt.openJt808Registration.run(id);
  })();
  if (!sameTerminal) s.terminals.reopen(id);
  s.terminals.remember(id, b);
  const { jt808: _old, ...rest } = entry.device;
  const device: Device = { ...rest };
  if (b !== undefined) device.jt808 = Object.freeze({ ...b });
  s.devices.set(id, { device: Object.freeze(device), hash: entry.hash, generation: entry.generation });
  s.changed('device', id);
  return device;
}

/** Re-reads one device from the file into the maps (see SqliteRegistry.refreshDevice). */
export function refreshDevice(s: RegistryState, id: string): Device | undefined {
  const row = s.stmt.selectDevice.get(id) as DeviceRow | undefined;
  const old = s.devices.get(id);
  if (row === undefined) {
    if (old !== undefined) {
      s.devices.delete(id);
      s.secrets.forgetDevice(id);
      s.nextGeneration();
    }
    return undefined;
  }
  const jt808Row = s.stmt.selectJt808.get(id) as Jt808Row | undefined;
  s.terminals.remember(id, jt808Row === undefined ? undefined : bindingOfRow(jt808Row));
  const device = freezeDevice(row, s.terminals.bindings.get(id));
  const secretOrEnabledChanged =
    old === undefined || old.hash !== row.secret_hash || old.device.enabled !== device.enabled;
  if (secretOrEnabledChanged) rememberDevice(s, device, row.secret_hash);
  else s.devices.set(id, { device, hash: row.secret_hash, generation: old.generation });
  return device;
}

export async function putServiceCredential(
  s: RegistryState,
  username: string,
  secret: string,
): Promise<void> {
  nonEmpty(username, 'service username');
  const hash = await hashSecret(secret);
  s.stmt.upsertService.run(username, hash);
  s.services.set(username, { hash, generation: s.nextGeneration() });
  s.secrets.forgetService(username);
}

/** refreshDevice for a service account: true when it exists */
export function refreshService(s: RegistryState, username: string): boolean {
  const row = s.stmt.selectService.get(username) as { secret_hash: string } | undefined;
  const old = s.services.get(username);
  if (row === undefined) {
    if (old !== undefined) {
      s.services.delete(username);
      s.secrets.forgetService(username);
    }
    return false;
  }
  if (old?.hash !== row.secret_hash) {
    s.secrets.forgetService(username);
    s.services.set(username, { hash: row.secret_hash, generation: s.nextGeneration() });
  }
  return true;
}

/** Stores a device model (its vendor mapping, already checked by the caller's schema). */
export function putDeviceModel(s: RegistryState, id: string, mapping: object): void {
  nonEmpty(id, 'device model id');
  const text = JSON.stringify(mapping);
  s.stmt.upsertModel.run(id, text);
  s.models.set(id, Object.freeze(JSON.parse(text)));
  s.changed('device_model', id);
}

/** Refused (RegistryConflictError) while a device names the model. */
export function deleteDeviceModel(s: RegistryState, id: string): boolean {
  if (!s.models.has(id)) return false;
  const users = [...s.terminals.bindings].filter(([, b]) => b.model === id).map(([d]) => d);
  if (users.length > 0) {
    throw new RegistryConflictError(
      `device model ${id} is used by device(s) ${users.slice(0, 10).join(', ')}`,
    );
  }
  s.stmt.deleteModel.run(id);
  s.models.delete(id);
  s.changed('device_model', id);
  return true;
}
