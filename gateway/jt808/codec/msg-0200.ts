import { TERMINAL_ALARMS, type TerminalAlarm } from '../../../core/fix.ts';
import { BodyError, encodeBcdTime, Reader, Writer } from './bytes.ts';

/**
 * 0x0200 位置信息汇报, location report (JT/T 808-2013 §8.18; 2019 §8.18, the same layout):
 *
 *   basic information (table 23), 28 bytes:
 *     alarm flags DWORD (table 24) | status DWORD (table 25) | latitude DWORD | longitude DWORD
 *     | altitude WORD (m) | speed WORD (1/10 km/h) | direction WORD (0-359, north 0)
 *     | time BCD[6] (YYMMDDhhmmss, GMT+8)
 *   then additional items (table 26): id BYTE | length BYTE | value, to the end of the body.
 *
 * Latitude and longitude are degrees x 10^6, their hemisphere in status bits 2 (1: south) and 3
 * (1: west). The 0x0201 answer and each item of 0x0704 carry the same structure.
 */

/** Status bits (table 25) the gateway reads. */
export const STATUS = {
  /** 0: ACC off, 1: ACC on */
  acc: 1 << 0,
  /** 0: not positioned, 1: positioned */
  positioned: 1 << 1,
  /** 0: north latitude, 1: south */
  south: 1 << 2,
  /** 0: east longitude, 1: west */
  west: 1 << 3,
  /** bits 8-9 load state: 00 empty, 01 half, 10 reserved, 11 full */
  loadShift: 8,
  /** bits 13-17: doors 1 to 5 open (前门, 中门, 后门, 驾驶席门, 自定义) */
  doorsMask: 0x1f << 13,
} as const;

/**
 * Alarm bits (table 24) by position: the names are the domain's (core/fix.ts TERMINAL_ALARMS), with
 * the table's Chinese names beside them there.
 */
export const ALARM_BITS = TERMINAL_ALARMS;
export type AlarmName = TerminalAlarm;

/** 0x11 / 0x12 position types (tables 28, 29): 0 none, 1 circle, 2 rectangle, 3 polygon, 4 route */
export const AREA_TYPES = ['none', 'circle', 'rectangle', 'polygon', 'route'] as const;

export interface Location {
  alarm: number;
  status: number;
  /** degrees, signed by the hemisphere bits */
  lat: number;
  lon: number;
  /** metres */
  alt: number;
  /** km/h */
  speed: number;
  /** degrees */
  heading: number;
  /** UTC epoch ms */
  ts: number;
  /** every additional item by id, value bytes as sent (the last one when an id repeats) */
  extras: Map<number, Buffer>;
}

export function alarmNames(alarm: number): AlarmName[] {
  const out: AlarmName[] = [];
  for (let bit = 0; bit < 32; bit++) if ((alarm >>> bit) & 1) out.push(ALARM_BITS[bit]!);
  return out;
}

/** Reads one location structure from `r`, up to `end` (exclusive) for the additional items. */
export function readLocation(r: Reader, end: number): Location {
  if (end - r.offset < 28) throw new BodyError(`location: ${end - r.offset} bytes, the basic part has 28`);
  const alarm = r.dword('alarm flags');
  const status = r.dword('status');
  const latRaw = r.dword('latitude');
  const lonRaw = r.dword('longitude');
  // WORD in the table; read as signed like other decoders, so a terminal below sea level (-5 m sent
  // as 0xFFFB) is not 65531 m up
  const altWord = r.word('altitude');
  const alt = altWord >= 0x8000 ? altWord - 0x10000 : altWord;
  const speed = r.word('speed') / 10;
  const heading = r.word('direction');
  const ts = r.bcdTime('time');
  const extras = new Map<number, Buffer>();
  while (r.offset < end) {
    const id = r.byte('additional item id');
    const len = r.byte(`length of additional item 0x${id.toString(16)}`);
    if (r.offset + len > end) {
      throw new BodyError(
        `additional item 0x${id.toString(16)} declares ${len} bytes, ${end - r.offset} are left`,
      );
    }
    // a view of the body, not a copy: the body is this message's own (unescaped) bytes
    extras.set(id, r.bytes(len, 'additional item'));
  }
  return {
    alarm,
    status,
    lat: ((status & STATUS.south) !== 0 ? -1 : 1) * (latRaw / 1e6),
    lon: ((status & STATUS.west) !== 0 ? -1 : 1) * (lonRaw / 1e6),
    alt,
    speed,
    heading,
    ts,
    extras,
  };
}

export function decode0200(body: Buffer): Location {
  const r = new Reader(body, '0x0200');
  return readLocation(r, body.length);
}

export interface LocationInput {
  alarm?: number;
  status?: number;
  lat: number;
  lon: number;
  alt?: number;
  speed?: number;
  heading?: number;
  ts: number;
  /** additional items in order */
  extras?: readonly [number, Uint8Array][];
}

/** The terminal side (simulator, tests): hemisphere bits set from the signs of lat/lon. */
export function encodeLocation(m: LocationInput): Buffer {
  let status = (m.status ?? 0) & ~(STATUS.south | STATUS.west);
  if (m.lat < 0) status |= STATUS.south;
  if (m.lon < 0) status |= STATUS.west;
  const w = new Writer()
    .dword(m.alarm ?? 0)
    .dword(status)
    .dword(Math.round(Math.abs(m.lat) * 1e6))
    .dword(Math.round(Math.abs(m.lon) * 1e6))
    .word((m.alt ?? 0) & 0xffff)
    .word(Math.round((m.speed ?? 0) * 10))
    .word(m.heading ?? 0)
    .bytes(encodeBcdTime(m.ts));
  for (const [id, value] of m.extras ?? []) w.byte(id).byte(value.length).bytes(value);
  return w.toBuffer();
}
