import { TERMINAL_ALARMS } from '../../core/fix.ts';
import type { LocationInput } from '../../gateway/jt808/codec/msg-0200.ts';
import { toEpochMs } from '../../ingest/normalize.ts';
import { SHIPPED_MODEL } from '../../registry/device-models.ts';

/**
 * A simulated fix (the device contract's JSON, ingest/payload.ts) as a JT/T 808 terminal of the shipped
 * model (registry/device-models.ts, citywatch-muck-1) reports it: the mapping of gateway/jt808/
 * location-fix.ts the other way. What 808 cannot carry is lost on the way, as with a real terminal:
 * the accuracy, milliseconds (BCD time is whole seconds), speed below 0.1 km/h and coordinates below
 * 10^-6 degrees.
 */

const LOAD_BITS = { empty: 0, half: 1, full: 3 } as const;
const COVER_ITEM = SHIPPED_MODEL.cover!.item!;
const LIFT_BIT = SHIPPED_MODEL.lift!.bit;
const COVER_BIT = SHIPPED_MODEL.cover!.bit;
const WEIGHT_ITEM = SHIPPED_MODEL.weight!.item;
const WEIGHT_SCALE = SHIPPED_MODEL.weight!.scale;

export function payloadToLocation(p: Record<string, unknown>): LocationInput {
  let status = 0;
  if (p.ign === true || p.acc === true) status |= 1 << 0;
  if (p.valid !== false) status |= 1 << 1;
  const load = p.load as keyof typeof LOAD_BITS | undefined;
  if (load !== undefined) status |= LOAD_BITS[load] << 8;
  if (p.doors === 'open') status |= 1 << 13;
  let alarm = 0;
  if (p.sos === true) alarm |= 1;
  if (Array.isArray(p.alarms)) {
    for (const name of p.alarms) {
      const bit = TERMINAL_ALARMS.indexOf(name as (typeof TERMINAL_ALARMS)[number]);
      if (bit >= 0) alarm |= 1 << bit;
    }
  }
  const extras: [number, Uint8Array][] = [];
  if (typeof p.sats === 'number') extras.push([0x31, Buffer.of(Math.min(255, p.sats))]);
  if (p.cover !== undefined || p.lift !== undefined) {
    let bits = 0;
    if (p.cover === 'open') bits |= 1 << COVER_BIT;
    if (p.lift === 'up') bits |= 1 << LIFT_BIT;
    extras.push([COVER_ITEM, Buffer.of(bits)]);
  }
  if (typeof p.weight === 'number') {
    const w = Buffer.alloc(2);
    w.writeUInt16BE(Math.min(0xffff, Math.round(p.weight / WEIGHT_SCALE)));
    extras.push([WEIGHT_ITEM, w]);
  }
  const ts = toEpochMs(p.ts as number | string);
  return {
    ts: Math.floor(ts / 1000) * 1000,
    lat: p.lat as number,
    lon: p.lon as number,
    ...(typeof p.alt === 'number' ? { alt: Math.round(p.alt) } : {}),
    ...(typeof p.speed === 'number' ? { speed: p.speed } : {}),
    ...(typeof p.heading === 'number' ? { heading: Math.round(p.heading) % 360 } : {}),
    status,
    alarm,
    extras,
  };
}

/** A terminal phone number for a device id: "1" and ten digits from the id's FNV-1a hash. */
export function phoneForDevice(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `1${String(h).padStart(10, '0')}`;
}
