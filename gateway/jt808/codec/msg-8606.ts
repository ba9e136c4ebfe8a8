import { decodeBcdTime, decodeGbk, encodeBcdTime, encodeGbk, Reader, Writer } from './bytes.ts';
import type { Edition } from './header.ts';

/**
 * 0x8606 设置路线, set route (JT/T 808-2013 §8 设置路线, tables 66-68; 2019 the same with a night speed
 * limit per section and a route name):
 *
 *   route id DWORD | attributes WORD (table 67) | [start BCD[6] | end BCD[6]  if bit 0]
 *   | point count WORD | count x turning point (table 68):
 *       point id DWORD | section id DWORD | latitude DWORD | longitude DWORD | section width BYTE (m)
 *       | section attributes BYTE | [too-long WORD s | too-short WORD s  if section bit 0]
 *       | [max speed WORD km/h | overspeed duration BYTE s  if section bit 1]
 *       | (2019: [night max speed WORD  if section bit 1])
 *   | (2019: name length WORD | name STRING)
 *
 * Route attributes: bit 0 by time, 2/3 alarm to driver/platform on entry, 4/5 on exit. Section
 * attributes: bit 0 travel time, 1 speed limit, 2 south latitude, 3 west longitude. The width is of the
 * section from this point to the next. The terminal answers 0x0001.
 */
export const ROUTE_ATTR = {
  byTime: 1 << 0,
  entryToDriver: 1 << 2,
  entryToPlatform: 1 << 3,
  exitToDriver: 1 << 4,
  exitToPlatform: 1 << 5,
} as const;
export const SECTION_ATTR = { travelTime: 1 << 0, speedLimit: 1 << 1, south: 1 << 2, west: 1 << 3 } as const;

export interface RoutePoint {
  pointId: number;
  sectionId: number;
  lat: number;
  lon: number;
  /** metres, 1-255 */
  width: number;
  /** SECTION_ATTR bits; the hemisphere bits are set from the signs when encoding */
  attributes: number;
  maxTravelS?: number;
  minTravelS?: number;
  maxSpeed?: number;
  overspeedS?: number;
  nightMaxSpeed?: number;
}

export interface Route {
  id: number;
  attributes: number;
  start?: number;
  end?: number;
  points: RoutePoint[];
  name?: string;
}

const micro = (deg: number) => Math.round(Math.abs(deg) * 1e6);

export function encode8606(route: Route, edition: Edition): Buffer {
  const w = new Writer().dword(route.id).word(route.attributes);
  if (route.attributes & ROUTE_ATTR.byTime) {
    w.bytes(encodeBcdTime(route.start ?? 0)).bytes(encodeBcdTime(route.end ?? 0));
  }
  w.word(route.points.length);
  for (const p of route.points) {
    let attr = p.attributes & ~(SECTION_ATTR.south | SECTION_ATTR.west);
    if (p.lat < 0) attr |= SECTION_ATTR.south;
    if (p.lon < 0) attr |= SECTION_ATTR.west;
    w.dword(p.pointId).dword(p.sectionId).dword(micro(p.lat)).dword(micro(p.lon));
    w.byte(Math.min(255, Math.max(1, Math.round(p.width)))).byte(attr);
    if (attr & SECTION_ATTR.travelTime) w.word(p.maxTravelS ?? 0).word(p.minTravelS ?? 0);
    if (attr & SECTION_ATTR.speedLimit) {
      w.word(p.maxSpeed ?? 0).byte(p.overspeedS ?? 0);
      if (edition === '2019') w.word(p.nightMaxSpeed ?? p.maxSpeed ?? 0);
    }
  }
  if (edition === '2019') {
    const name = encodeGbk(route.name ?? '');
    w.word(name.length).bytes(name);
  }
  return w.toBuffer();
}

/** Terminal side (simulator, tests). */
export function decode8606(body: Buffer, edition: Edition): Route {
  const r = new Reader(body, '0x8606');
  const route: Route = { id: r.dword('route id'), attributes: r.word('attributes'), points: [] };
  if (route.attributes & ROUTE_ATTR.byTime) {
    route.start = decodeBcdTime(r.bytes(6, 'start time'));
    route.end = decodeBcdTime(r.bytes(6, 'end time'));
  }
  const n = r.word('point count');
  for (let i = 0; i < n; i++) {
    const pointId = r.dword('point id');
    const sectionId = r.dword('section id');
    const latRaw = r.dword('latitude');
    const lonRaw = r.dword('longitude');
    const width = r.byte('section width');
    const attributes = r.byte('section attributes');
    const p: RoutePoint = {
      pointId,
      sectionId,
      lat: ((attributes & SECTION_ATTR.south ? -1 : 1) * latRaw) / 1e6,
      lon: ((attributes & SECTION_ATTR.west ? -1 : 1) * lonRaw) / 1e6,
      width,
      attributes,
    };
    if (attributes & SECTION_ATTR.travelTime) {
      p.maxTravelS = r.word('section too-long threshold');
      p.minTravelS = r.word('section too-short threshold');
    }
    if (attributes & SECTION_ATTR.speedLimit) {
      p.maxSpeed = r.word('section max speed');
      p.overspeedS = r.byte('section overspeed duration');
      if (edition === '2019') p.nightMaxSpeed = r.word('section night max speed');
    }
    route.points.push(p);
  }
  if (edition === '2019') {
    const len = r.word('name length');
    route.name = decodeGbk(r.bytes(len, 'name'));
  }
  r.end();
  return route;
}
