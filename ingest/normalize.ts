import gcoordModule from 'gcoord';
import type { Fix } from '../core/fix.ts';
import type { Device } from '../registry/types.ts';
import type {
  BodyCameraFixPayload,
  FixPayload,
  MuckTruckFixPayload,
  SanitationFixPayload,
} from './payload.ts';

/** epoch ms from a validated `ts` (epoch ms, or ISO-8601 with an offset) */
export function toEpochMs(ts: number | string): number {
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

/**
 * GCJ-02 ("Mars coordinates", used by Chinese web maps) to WGS-84. gcoord's inverse is iterative and
 * accurate to well under a metre; outside China GCJ-02 equals WGS-84 and gcoord returns the input.
 */
// gcoord ships CommonJS with a type file that declares no exports; describe the two members we use.
interface Gcoord {
  transform(input: [number, number], from: string, to: string): [number, number];
  GCJ02: string;
  WGS84: string;
}
const gcoord = gcoordModule as unknown as Gcoord;

export function gcj02ToWgs84(lat: number, lon: number): { lat: number; lon: number } {
  const [wlon, wlat] = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84);
  return { lat: wlat, lon: wlon };
}

/**
 * Builds the normalized Fix from a validated payload: UTC ms, WGS-84, the device mapped to its unit and
 * firm. Optional fields absent from the payload stay absent (no undefined keys), so fixes round-trip
 * through the stores unchanged.
 */
export function normalizeFix(payload: FixPayload, device: Device, receivedMs: number): Fix {
  const crsIn = payload.crs ?? 'WGS84';
  const pos =
    crsIn === 'GCJ02' ? gcj02ToWgs84(payload.lat, payload.lon) : { lat: payload.lat, lon: payload.lon };
  const fix: Fix = {
    vehicle: device.unit,
    device: device.id,
    kind: device.kind,
    firm: device.firm,
    ts: toEpochMs(payload.ts),
    received: receivedMs,
    lat: pos.lat,
    lon: pos.lon,
    valid: payload.valid ?? true,
    crsIn,
    late: false,
  };
  if (payload.speed !== undefined) fix.speed = payload.speed;
  if (payload.heading !== undefined) fix.heading = payload.heading % 360;
  if (payload.alt !== undefined) fix.alt = payload.alt;
  if (payload.sats !== undefined) fix.sats = payload.sats;
  // `acc`: ignition when boolean, the deprecated accuracy when a number (payload.ts); decode.ts has
  // already refused a payload whose two spellings disagree
  const accuracy = payload.accuracy ?? (typeof payload.acc === 'number' ? payload.acc : undefined);
  if (accuracy !== undefined) fix.accuracy = accuracy;
  const ign = payload.ign ?? (typeof payload.acc === 'boolean' ? payload.acc : undefined);
  if (ign !== undefined) fix.ign = ign;
  if (payload.sos !== undefined) fix.sos = payload.sos;
  if (payload.alarms !== undefined && payload.alarms.length > 0) fix.alarms = payload.alarms.join(',');
  if (payload.mileage !== undefined) fix.mileage = payload.mileage;
  if (payload.fuel !== undefined) fix.fuel = payload.fuel;
  if (payload.tachoSpeed !== undefined) fix.tachoSpeed = payload.tachoSpeed;
  if (payload.vehicleSignals !== undefined) fix.vehicleSignals = payload.vehicleSignals;
  if (payload.ioStatus !== undefined) fix.ioStatus = payload.ioStatus;
  if (payload.analog0 !== undefined) fix.analog0 = payload.analog0;
  if (payload.analog1 !== undefined) fix.analog1 = payload.analog1;
  if (payload.rssi !== undefined) fix.rssi = payload.rssi;
  switch (device.kind) {
    case 'muck_truck': {
      const p = payload as MuckTruckFixPayload;
      if (p.load !== undefined) fix.load = p.load;
      if (p.weight !== undefined) fix.weight = p.weight;
      if (p.cover !== undefined) fix.cover = p.cover;
      if (p.lift !== undefined) fix.lift = p.lift;
      if (p.doors !== undefined) fix.doors = p.doors;
      break;
    }
    case 'sanitation': {
      const p = payload as SanitationFixPayload;
      if (p.task !== undefined) fix.task = p.task;
      if (p.brush !== undefined) fix.brush = p.brush;
      if (p.binLifts !== undefined) fix.binLifts = p.binLifts;
      if (p.weight !== undefined) fix.weight = p.weight;
      break;
    }
    case 'body_camera': {
      const p = payload as BodyCameraFixPayload;
      if (p.recording !== undefined) fix.recording = p.recording;
      if (p.battery !== undefined) fix.battery = p.battery;
      if (p.storageFree !== undefined) fix.storageFree = p.storageFree;
      const officer = p.officer ?? device.officer;
      if (officer !== undefined) fix.officer = officer;
      if (p.docked !== undefined) fix.docked = p.docked;
      break;
    }
  }
  return fix;
}
