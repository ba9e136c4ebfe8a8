/**
 * Times on screen are China Standard Time (UTC+8, no daylight saving), with the zone shown; the API
 * answers in UTC (ISO-8601 or epoch ms). Parsing a time typed into the page reads it as CST too, whatever
 * the browser's own zone is.
 */

export const TZ = 'Asia/Shanghai';
const OFFSET_MS = 8 * 3_600_000;
export const ZONE_SUFFIX = 'UTC+8';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The CST calendar fields of an instant (CST is a fixed offset: plain arithmetic, no Intl needed). */
function fields(ms: number) {
  const d = new Date(ms + OFFSET_MS);
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
  };
}

export function toMs(t: string | number): number {
  return typeof t === 'number' ? t : Date.parse(t);
}

/** `2026-12-07 14:03:05` (CST), without the zone: for tables whose header names it. */
export function cst(t: string | number): string {
  const f = fields(toMs(t));
  return `${f.y}-${pad(f.mo)}-${pad(f.d)} ${pad(f.h)}:${pad(f.mi)}:${pad(f.s)}`;
}

/** `2026-12-07 14:03:05 UTC+8` */
export function cstZ(t: string | number): string {
  return `${cst(t)} ${ZONE_SUFFIX}`;
}

/** `14:03:05` (CST) */
export function cstClock(t: string | number): string {
  const f = fields(toMs(t));
  return `${pad(f.h)}:${pad(f.mi)}:${pad(f.s)}`;
}

/** The value of an `<input type=datetime-local>` showing this instant in CST. */
export function toLocalInput(ms: number): string {
  const f = fields(ms);
  return `${f.y}-${pad(f.mo)}-${pad(f.d)}T${pad(f.h)}:${pad(f.mi)}`;
}

/** An `<input type=datetime-local>` value read as CST; NaN when empty or malformed. */
export function fromLocalInput(value: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return Number.NaN;
  return Date.parse(`${value.length === 16 ? `${value}:00` : value}+08:00`);
}

/** The CST month of an instant, `YYYY-MM`. */
export function cstMonth(ms: number): string {
  const f = fields(ms);
  return `${f.y}-${pad(f.mo)}`;
}

/** `1 h 05 min`, `3 min 20 s`, `45 s` */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}

/**
 * A threshold's or a detail's value with the unit its name ends in (the engine's convention: ...Ms,
 * ...Kmh, ...T, ...M): 90000 under coverOpenMs reads "1 min 30 s". Anything else as it is.
 */
export function withUnit(name: string, value: unknown): string {
  if (typeof value === 'number') {
    if (name.endsWith('Ms')) return duration(value);
    if (name.endsWith('Kmh')) return `${value} km/h`;
    if (name.endsWith('T')) return `${value} t`;
    if (name.endsWith('M')) return `${value} m`;
  }
  if (Array.isArray(value) && name.endsWith('Ms') && value.every((v) => typeof v === 'number'))
    return value.map((v) => duration(v as number)).join(', ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
