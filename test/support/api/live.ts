/**
 * The world and helpers of the live tests (test/api/live*.test.ts).
 */

import type { PassThrough } from 'node:stream';
import test from 'ava';
import { PositionDtoSchema } from '../../../api/schemas.ts';
import type { EventMeta } from '../../../delivery/live/filter.ts';
import { type FleetUnit, registerFleet, TestDevice } from '../live-fleet.ts';
import { startTestPlatform, stopAfterEvidence, type TestPlatform } from '../platform.ts';
import type { SseEvent } from '../sse.ts';

export const UNITS: FleetUnit[] = [
  { unit: 'veh-a1', device: 'dev-a1', secret: 'secret-a1', kind: 'muck_truck', firm: 'firm-a' },
  { unit: 'veh-a2', device: 'dev-a2', secret: 'secret-a2', kind: 'sanitation', firm: 'firm-a' },
  { unit: 'veh-b1', device: 'dev-b1', secret: 'secret-b1', kind: 'muck_truck', firm: 'firm-b' },
  { unit: 'veh-v1', device: 'dev-v1', secret: 'secret-v1', kind: 'muck_truck', firm: 'firm-a' },
  { unit: 'veh-v2', device: 'dev-v2', secret: 'secret-v2', kind: 'muck_truck', firm: 'firm-b' },
];

/** Where each unit reports: a1 and a2 in one part of town, b1 in another (for the bbox filter). */
export const PLACE: Record<string, { lat: number; lon: number }> = {
  'veh-a1': { lat: 31.8, lon: 117.2 },
  'veh-a2': { lat: 31.85, lon: 117.25 },
  'veh-b1': { lat: 31.95, lon: 117.45 },
  'veh-v1': { lat: 31.8, lon: 117.3 },
  'veh-v2': { lat: 31.9, lon: 117.3 },
};

export let tp: TestPlatform;
export const devices = new Map<string, TestDevice>();
/** per unit, the ts of its next fix: every fix of a device is later than the one before */
export const clock = new Map<string, number>();

/** n fixes of a unit, 10 s apart (or `stepMs`), continuing its clock; `over` is merged into each. */
export function fixes(unit: string, n: number, over: Record<string, unknown> = {}, stepMs = 10_000) {
  const out: Array<Record<string, unknown> & { ts: number }> = [];
  let ts = clock.get(unit) ?? Date.now() - 6 * 3_600_000;
  for (let i = 0; i < n; i++) {
    out.push({ ts, ...PLACE[unit], speed: 20, ...over });
    ts += stepMs;
  }
  clock.set(unit, ts);
  return out;
}

export async function send(unit: string, batch: Record<string, unknown>[]): Promise<void> {
  await devices.get(unit)!.send(batch);
}

export const url = (path: string) => `${tp.httpUrl}/api/v1${path}`;
export const position = (e: SseEvent) => PositionDtoSchema.parse(JSON.parse(e.data));
export const iso = (ms: number) => new Date(ms).toISOString();

export function idsIncrease(t: { true(v: boolean, m?: string): void }, events: readonly SseEvent[]): void {
  const ids = events.map((e) => Number(e.id));
  t.true(
    ids.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > (ids[i - 1] as number))),
    `ids increase: ${ids.join(',')}`,
  );
}

export const meta = (over: Partial<EventMeta> = {}): EventMeta => ({
  firm: 'firm-a',
  vehicle: 'veh-1',
  kind: 'muck_truck',
  lon: 117.2,
  lat: 31.8,
  ...over,
});

/** Reads everything a PassThrough holds, as text. */
export function drain(stream: PassThrough): string {
  let out = '';
  for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) out += chunk.toString();
  return out;
}

/** Registers the set-up and tear-down of the world in the calling test file (each file gets its own). */
export function setUp(): void {
  test.before(async () => {
    tp = await startTestPlatform();
    await registerFleet(tp, UNITS);
    // the compliance engine learns of the new vehicles now, not on their first fix
    tp.platform.complianceService.recompile();
    for (const u of UNITS) devices.set(u.unit, await TestDevice.connect(tp, u));
  });

  test.after.always(async () => {
    for (const d of devices.values()) await d.close();
    // let the evidence of the violations above be built first
    await stopAfterEvidence(tp);
  });
}
