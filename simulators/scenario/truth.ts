import { readFile } from 'node:fs/promises';
import { VIOLATION_CODES, type ViolationCode } from '../../geofence/model.ts';
import type { GroundTruth, TripRecord } from './fleet-types.ts';

/**
 * The ground-truth file (JSON Lines). The first line describes the run; then one line per violation:
 *
 *   {"record":"run","scenario":"hefei-basic","seed":1,"start":"2025-06-02T00:00:00.000Z",
 *    "end":"2025-06-02T01:30:00.000Z","vehicles":["veh-d1234",...],"trips":[...]}
 *   {"record":"violation","vehicle":"veh-d2002","device":"dev-d2002","type":"OFF_ROUTE",
 *    "start":"2025-06-02T00:21:33.000Z","end":"2025-06-02T00:24:23.000Z","injected":true,"trip":0,"details":{}}
 *
 * Instants are the simulated clock's, ISO-8601 UTC; `end` is null for a violation still going on when the
 * run ended. `injected` says whether the violation is the one injected on that trip (or by that vehicle's
 * permit change) rather than a consequence of it (the OFFLINE within a TRACK_GAP silence) or incidental.
 */

export interface TruthRun {
  record: 'run';
  scenario: string;
  seed: number;
  start: string;
  end: string;
  /** the units (vehicle ids, body camera ids) the run drove */
  vehicles: string[];
  trips?: Array<Omit<TripRecord, 'start'> & { start: string }>;
}

export interface TruthLine {
  record: 'violation';
  vehicle: string;
  device?: string;
  type: ViolationCode;
  start: string;
  end: string | null;
  injected?: boolean;
  trip?: number;
  details?: Record<string, number | string>;
}

/** A truth as the scorer needs it (epoch ms). */
export interface Truth {
  vehicle: string;
  type: ViolationCode;
  start: number;
  end?: number;
  injected?: boolean;
}

export interface TruthFile {
  run?: { start: number; end: number; vehicles: string[]; scenario: string; seed: number };
  truths: Truth[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function truthJsonl(run: Omit<TruthRun, 'record'>, truths: readonly GroundTruth[]): string {
  const lines: string[] = [JSON.stringify({ record: 'run', ...run })];
  for (const t of truths) {
    const line: TruthLine = {
      record: 'violation',
      vehicle: t.vehicle,
      device: t.device,
      type: t.type,
      start: iso(t.start),
      end: t.end === undefined ? null : iso(t.end),
      injected: t.injected,
      ...(t.trip !== undefined ? { trip: t.trip } : {}),
      details: t.details,
    };
    lines.push(JSON.stringify(line));
  }
  return `${lines.join('\n')}\n`;
}

function instant(v: unknown, where: string): number {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new SyntaxError(`${where}: expected an ISO-8601 instant, got ${JSON.stringify(v)}`);
  return ms;
}

/** Reads a truth file; each problem names its line. */
export function parseTruth(text: string, source = 'truth.jsonl'): TruthFile {
  const out: TruthFile = { truths: [] };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${source}:${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new SyntaxError(`${where}: not JSON: ${(err as Error).message}`);
    }
    if (o.record === 'run') {
      out.run = {
        start: instant(o.start, `${where} start`),
        end: instant(o.end, `${where} end`),
        vehicles: Array.isArray(o.vehicles) ? (o.vehicles as string[]) : [],
        scenario: String(o.scenario ?? ''),
        seed: Number(o.seed ?? 0),
      };
      return;
    }
    if (typeof o.vehicle !== 'string') throw new SyntaxError(`${where}: vehicle: expected a string`);
    if (!(VIOLATION_CODES as readonly unknown[]).includes(o.type))
      throw new SyntaxError(`${where}: type: expected one of ${VIOLATION_CODES.join(', ')}`);
    const t: Truth = {
      vehicle: o.vehicle,
      type: o.type as ViolationCode,
      start: instant(o.start, `${where} start`),
    };
    if (o.end !== null && o.end !== undefined) t.end = instant(o.end, `${where} end`);
    if (typeof o.injected === 'boolean') t.injected = o.injected;
    out.truths.push(t);
  });
  return out;
}

export async function readTruth(path: string): Promise<TruthFile> {
  return parseTruth(await readFile(path, 'utf8'), path);
}
