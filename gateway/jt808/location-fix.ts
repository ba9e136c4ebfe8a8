import type { UnitKind } from '../../core/fix.ts';
import type { ModelMapping } from '../../registry/device-models.ts';
import { alarmNames, type Location, STATUS } from './codec/msg-0200.ts';
import { vendorFields } from './model-mapping.ts';

/**
 * A JT/T 808 location (0x0200, 0x0201, an item of 0x0704) → a fix object of the device contract
 * (ingest/payload.ts), which ingest then checks and normalizes exactly as a fix that came over MQTT.
 * Pure. The README's "JT/T 808" field table lists the same mapping; keep the two in step.
 *
 * JT/T 808-2013 §8.18: table 23 (basic information), 24 (alarm bits), 25 (status bits), 27
 * (additional items).
 */

/** Additional item ids (table 27). */
export const ITEM = {
  mileage: 0x01, // DWORD, 1/10 km
  fuel: 0x02, // WORD, 1/10 L
  tachoSpeed: 0x03, // WORD, 1/10 km/h
  vehicleSignals: 0x25, // DWORD, table 31
  ioStatus: 0x2a, // WORD, table 32
  analog: 0x2b, // DWORD: bits 0-15 AD0, 16-31 AD1
  rssi: 0x30, // BYTE
  satellites: 0x31, // BYTE
} as const;

const LOAD_BY_BITS = ['empty', 'half', undefined, 'full'] as const;

function uint(b: Buffer | undefined, bytes: 1 | 2 | 4): number | undefined {
  if (b === undefined || b.length !== bytes) return undefined;
  return bytes === 1 ? b[0]! : bytes === 2 ? b.readUInt16BE(0) : b.readUInt32BE(0);
}

export function locationToFixObject(
  loc: Location,
  kind: UnitKind,
  mapping: ModelMapping | undefined,
): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ts: loc.ts,
    lat: loc.lat,
    lon: loc.lon,
    alt: loc.alt,
    speed: loc.speed,
    heading: loc.heading,
    // status bit 1 "定位": a location without it is the last known one, not to be judged
    valid: (loc.status & STATUS.positioned) !== 0,
    // status bit 0: ACC, the ignition
    ign: (loc.status & STATUS.acc) !== 0,
    // alarm bit 0: emergency (紧急报警, the SOS button)
    sos: (loc.alarm & 1) !== 0,
  };
  if (mapping?.crs === 'GCJ02') o.crs = 'GCJ02';
  if (loc.alarm !== 0) o.alarms = alarmNames(loc.alarm);
  const mileage = uint(loc.extras.get(ITEM.mileage), 4);
  if (mileage !== undefined) o.mileage = mileage / 10;
  const fuel = uint(loc.extras.get(ITEM.fuel), 2);
  if (fuel !== undefined) o.fuel = fuel / 10;
  const tacho = uint(loc.extras.get(ITEM.tachoSpeed), 2);
  if (tacho !== undefined) o.tachoSpeed = tacho / 10;
  const signals = uint(loc.extras.get(ITEM.vehicleSignals), 4);
  if (signals !== undefined) o.vehicleSignals = signals;
  const io = uint(loc.extras.get(ITEM.ioStatus), 2);
  if (io !== undefined) o.ioStatus = io;
  const analog = uint(loc.extras.get(ITEM.analog), 4);
  if (analog !== undefined) {
    o.analog0 = analog & 0xffff;
    o.analog1 = analog >>> 16;
  }
  const rssi = uint(loc.extras.get(ITEM.rssi), 1);
  if (rssi !== undefined) o.rssi = rssi;
  const sats = uint(loc.extras.get(ITEM.satellites), 1);
  if (sats !== undefined) o.sats = sats;

  if (kind === 'muck_truck') {
    // status bits 8-9: 00 empty 空车, 01 half 半载, 10 reserved, 11 full 满载
    const load = LOAD_BY_BITS[(loc.status >>> STATUS.loadShift) & 3];
    if (load !== undefined) o.load = load;
    // status bits 13-17: doors 1-5; any open is "open"
    o.doors = (loc.status & STATUS.doorsMask) !== 0 ? 'open' : 'closed';
  }
  if (mapping !== undefined && kind !== 'body_camera') {
    const v = vendorFields(mapping, loc.status, loc.extras);
    if (kind === 'muck_truck') {
      if (v.cover !== undefined) o.cover = v.cover;
      if (v.lift !== undefined) o.lift = v.lift;
    }
    if (v.weight !== undefined) o.weight = v.weight;
  }
  return o;
}
