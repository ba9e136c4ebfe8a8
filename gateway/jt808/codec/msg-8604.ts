import { decodeBcdTime, decodeGbk, encodeBcdTime, encodeGbk, Reader, Writer } from './bytes.ts';
import type { Edition } from './header.ts';

/**
 * 0x8604 设置多边形区域, set polygon area (JT/T 808-2013 §8 设置多边形区域, tables 63 and 64; 2019 the
 * same message with a night speed limit and a name):
 *
 *   area id DWORD | attributes WORD (table 60) | [start BCD[6] | end BCD[6]  if attribute bit 0]
 *   | [max speed WORD km/h | overspeed duration BYTE s  if bit 1] | (2019: [night max speed WORD if bit 1])
 *   | vertex count WORD | count x (latitude DWORD | longitude DWORD)
 *   | (2019: name length WORD | name STRING)
 *
 * Area attributes (table 60): bit 0 by time, 1 speed limit, 2/3 alarm to driver/platform on entry,
 * 4/5 on exit, 6 south latitude, 7 west longitude. The terminal answers 0x0001.
 */
export const AREA_ATTR = {
  byTime: 1 << 0,
  speedLimit: 1 << 1,
  entryToDriver: 1 << 2,
  entryToPlatform: 1 << 3,
  exitToDriver: 1 << 4,
  exitToPlatform: 1 << 5,
  south: 1 << 6,
  west: 1 << 7,
} as const;

export interface PolygonArea {
  id: number;
  attributes: number;
  /** UTC epoch ms, with attribute bit 0 */
  start?: number;
  end?: number;
  /** km/h and s, with attribute bit 1 */
  maxSpeed?: number;
  overspeedS?: number;
  /** 2019, with attribute bit 1 */
  nightMaxSpeed?: number;
  /** degrees, the hemisphere in the attributes (absolute values sent) */
  vertices: { lat: number; lon: number }[];
  /** 2019 */
  name?: string;
}

const micro = (deg: number) => Math.round(Math.abs(deg) * 1e6);

export function encode8604(a: PolygonArea, edition: Edition): Buffer {
  const w = new Writer().dword(a.id).word(a.attributes);
  if (a.attributes & AREA_ATTR.byTime) {
    w.bytes(encodeBcdTime(a.start ?? 0)).bytes(encodeBcdTime(a.end ?? 0));
  }
  if (a.attributes & AREA_ATTR.speedLimit) {
    w.word(a.maxSpeed ?? 0).byte(a.overspeedS ?? 0);
    if (edition === '2019') w.word(a.nightMaxSpeed ?? a.maxSpeed ?? 0);
  }
  w.word(a.vertices.length);
  for (const v of a.vertices) w.dword(micro(v.lat)).dword(micro(v.lon));
  if (edition === '2019') {
    const name = encodeGbk(a.name ?? '');
    w.word(name.length).bytes(name);
  }
  return w.toBuffer();
}

/** Terminal side (simulator, tests). */
export function decode8604(body: Buffer, edition: Edition): PolygonArea {
  const r = new Reader(body, '0x8604');
  const area: PolygonArea = { id: r.dword('area id'), attributes: r.word('attributes'), vertices: [] };
  if (area.attributes & AREA_ATTR.byTime) {
    area.start = decodeBcdTime(r.bytes(6, 'start time'));
    area.end = decodeBcdTime(r.bytes(6, 'end time'));
  }
  if (area.attributes & AREA_ATTR.speedLimit) {
    area.maxSpeed = r.word('max speed');
    area.overspeedS = r.byte('overspeed duration');
    if (edition === '2019') area.nightMaxSpeed = r.word('night max speed');
  }
  const n = r.word('vertex count');
  const latSign = area.attributes & AREA_ATTR.south ? -1 : 1;
  const lonSign = area.attributes & AREA_ATTR.west ? -1 : 1;
  for (let i = 0; i < n; i++) {
    area.vertices.push({
      lat: (latSign * r.dword('latitude')) / 1e6,
      lon: (lonSign * r.dword('longitude')) / 1e6,
    });
  }
  if (edition === '2019') {
    const len = r.word('name length');
    area.name = decodeGbk(r.bytes(len, 'name'));
  }
  r.end();
  return area;
}
