import { readFile } from 'node:fs/promises';
import { VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';
import type { Detection } from './score.ts';

/**
 * Where the scorer's detections come from: the platform's GET /api/v1/violations (bearer token, every
 * page through `nextCursor`), or a file holding the same violations (a JSON array, an API page
 * `{items: [...]}`, or JSON Lines).
 */

function toDetection(o: Record<string, unknown>, where: string): Detection {
  const code = o.code;
  if (typeof o.vehicle !== 'string') throw new SyntaxError(`${where}: vehicle: expected a string`);
  if (!(VIOLATION_CODES as readonly unknown[]).includes(code))
    throw new SyntaxError(`${where}: code: expected one of ${VIOLATION_CODES.join(', ')}`);
  const ms = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN);
  const startTs = ms(o.startTs);
  if (!Number.isFinite(startTs)) throw new SyntaxError(`${where}: startTs: expected epoch ms`);
  const d: Detection = { vehicle: o.vehicle, code: code as ViolationCode, startTs };
  if (typeof o.id === 'string') d.id = o.id;
  const end = ms(o.endTs);
  if (Number.isFinite(end)) d.endTs = end;
  const detected = ms(o.detectedTs);
  if (Number.isFinite(detected)) d.detectedTs = detected;
  return d;
}

export function parseDetections(text: string, source = 'violations.json'): Detection[] {
  const trimmed = text.trim();
  let list: unknown[];
  if (trimmed.startsWith('[')) list = JSON.parse(trimmed) as unknown[];
  else if (trimmed.startsWith('{') && !trimmed.includes('\n{')) {
    const o = JSON.parse(trimmed) as { items?: unknown[] };
    list = Array.isArray(o.items) ? o.items : [o];
  } else
    list = trimmed
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown);
  return list.map((o, i) => toDetection(o as Record<string, unknown>, `${source}[${i}]`));
}

export async function readDetections(path: string): Promise<Detection[]> {
  return parseDetections(await readFile(path, 'utf8'), path);
}

export interface FetchViolationsOptions {
  /** API base, e.g. http://127.0.0.1:8080 */
  api: string;
  token: string;
  /** startTs range (epoch ms), passed to the API as from/to */
  from?: number;
  to?: number;
  pageSize?: number;
}

/** Every violation of the range, all pages. Throws with the API's problem detail on a non-200. */
export async function fetchViolations(o: FetchViolationsOptions): Promise<Detection[]> {
  const out: Detection[] = [];
  let cursor: string | undefined;
  for (let page = 0; ; page++) {
    const url = new URL('/api/v1/violations', o.api);
    url.searchParams.set('limit', String(o.pageSize ?? 1000));
    if (o.from !== undefined) url.searchParams.set('from', String(o.from));
    if (o.to !== undefined) url.searchParams.set('to', String(o.to));
    if (cursor) url.searchParams.set('cursor', cursor);
    const res = await fetch(url, { headers: { authorization: `Bearer ${o.token}` } });
    const body = (await res.json().catch(() => ({}))) as {
      items?: unknown[];
      nextCursor?: string;
      detail?: string;
    };
    if (res.status !== 200) throw new Error(`GET ${url.pathname}: ${res.status} ${body.detail ?? ''}`.trim());
    for (const [i, v] of (body.items ?? []).entries())
      out.push(toDetection(v as Record<string, unknown>, `page ${page} item ${i}`));
    cursor = body.nextCursor;
    if (!cursor) return out;
  }
}
