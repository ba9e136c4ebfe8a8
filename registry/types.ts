import type { UnitKind } from '../core/fix.ts';

/** A transport firm (运输企业), a sanitation contractor, or a city department that owns body cameras. */
export interface Firm {
  id: string;
  name: string;
}

export type VehicleKind = Exclude<UnitKind, 'body_camera'>;

export interface Vehicle {
  id: string;
  /** licence plate, e.g. 皖A·12345 */
  plate: string;
  kind: VehicleKind;
  firm: string;
  /** rated load in tonnes (muck trucks); used by OVERLOAD later */
  ratedLoadT?: number;
}

export interface Officer {
  id: string;
  name: string;
  /** the department (a Firm id) the officer belongs to */
  firm: string;
}

/**
 * A reporting device: a vehicle terminal or a body camera. Its id is the MQTT username; its secret is
 * stored only as a scrypt hash. `unit` is what its fixes are filed under: the vehicle id for vehicle
 * terminals, the device id itself for body cameras.
 */
export interface Device {
  id: string;
  kind: UnitKind;
  unit: string;
  firm: string;
  /** body cameras: the officer it is issued to (a fix may name another officer for a shift) */
  officer?: string;
  /** nominal report interval in seconds (OFFLINE uses 3x this later) */
  reportIntervalS: number;
  enabled: boolean;
  /** set when the device is a JT/T 808 terminal: how the gateway binds a connection to it */
  jt808?: Jt808Binding;
}

/**
 * A JT/T 808 terminal's identity (gateway/jt808/): its phone number (终端手机号, the SIM number in every
 * message header) and, optionally, the terminal id it registers with (0x0100) and the device model whose
 * vendor mapping reads its cover, tipper and weight.
 */
export interface Jt808Binding {
  /** digits; stored without leading zeros (2013 sends BCD[6], 2019 BCD[10] of the same number) */
  phone: string;
  /** the terminal id of its 0x0100 registration; any is accepted when absent */
  terminalId?: string;
  /** a device model (vendor mapping) id */
  model?: string;
}

/** Credentials of platform services (ingest, alerting, dashboards) on the MQTT broker. */
export interface ServiceCredential {
  username: string;
}

export interface NewDevice {
  id: string;
  /** plain secret; hashed before it is stored */
  secret: string;
  kind: UnitKind;
  /** vehicle id for vehicle terminals; omitted for body cameras (the unit is the device) */
  vehicle?: string;
  firm: string;
  officer?: string;
  reportIntervalS?: number;
  jt808?: Jt808Binding;
}

/**
 * The registry port. Lookups used on the hot path (`device`) are synchronous and served from memory;
 * secret checks are asynchronous because scrypt runs on the libuv thread pool.
 */
export interface Registry {
  upsertFirm(firm: Firm): void;
  upsertVehicle(vehicle: Vehicle): void;
  upsertOfficer(officer: Officer): void;
  /** Creates or replaces a device, hashing its secret. */
  putDevice(device: NewDevice): Promise<Device>;
  setDeviceEnabled(id: string, enabled: boolean): void;
  /** Replaces a device's secret, keeping its other fields and its enabled flag. */
  setDeviceSecret(id: string, secret: string): Promise<void>;
  /** Changes a device's officer (null: none) and report interval. */
  updateDevice(id: string, patch: { officer?: string | null; reportIntervalS?: number }): Device;
  deleteDevice(id: string): boolean;
  /** Refused while a device is mounted on the vehicle. */
  deleteVehicle(id: string): boolean;
  deleteOfficer(id: string): boolean;
  /** ids of the devices whose fixes are filed under the unit */
  devicesOfUnit(unit: string): string[];
  putServiceCredential(username: string, secret: string): Promise<void>;
  /** Binds a device to a JT/T 808 terminal (phone, terminal id, model), or unbinds it (null). */
  setJt808Binding(id: string, binding: Jt808Binding | null): Device;
  /** the device bound to a JT/T 808 terminal phone number (any leading zeros) */
  deviceByJt808Phone(phone: string): Device | undefined;
  /** Stores a device model (vendor mapping, registry/device-models.ts). */
  putDeviceModel(id: string, mapping: object): void;
  /** Refused (RegistryConflictError) while a device names the model. */
  deleteDeviceModel(id: string): boolean;
  /** a device model as stored, undefined when there is none */
  deviceModel(id: string): unknown;
  deviceModelIds(): string[];

  device(id: string): Device | undefined;
  vehicle(id: string): Vehicle | undefined;
  firm(id: string): Firm | undefined;
  officer(id: string): Officer | undefined;
  devices(): Device[];
  vehicles(): Vehicle[];
  firms(): Firm[];
  officers(): Officer[];

  /** true when the device exists, is enabled and the secret matches */
  verifyDevice(id: string, secret: string): Promise<boolean>;
  /** verifyDevice's answer when it needs no scrypt (this secret was checked since the device changed), else undefined */
  rememberedDeviceVerdict(id: string, secret: string): boolean | undefined;
  verifyService(username: string, secret: string): Promise<boolean>;
  isService(username: string): boolean;

  close(): void;
}
