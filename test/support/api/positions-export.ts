/**
 * The world and helpers of the positions-export tests (test/api/positions-export*.test.ts).
 */

import test from 'ava';
import { ProblemSchema } from '../../../api/schemas.ts';
import { ADMIN, createKey, type FleetUnit, registerFleet, TestDevice } from '../live-fleet.ts';
import { eventually, startTestPlatform, stopAfterEvidence, type TestPlatform } from '../platform.ts';

/** A plate with a quote, a comma and non-ASCII text: CSV quoting and XML escaping must round-trip it. */
export const TRICKY_PLATE = '皖A·"Q",01 <&>';

export const UNITS: FleetUnit[] = [
  {
    unit: 'veh-x1',
    device: 'dev-x1',
    secret: 'secret-x1',
    kind: 'muck_truck',
    firm: 'firm-x',
    plate: TRICKY_PLATE,
  },
  { unit: 'veh-x2', device: 'dev-x2', secret: 'secret-x2', kind: 'sanitation', firm: 'firm-x' },
  { unit: 'veh-y1', device: 'dev-y1', secret: 'secret-y1', kind: 'muck_truck', firm: 'firm-y' },
  { unit: 'cam-z1', device: 'cam-z1', secret: 'secret-z1', kind: 'body_camera', firm: 'dept-z' },
];

/** 30 fixes, 10 s apart, from a minute boundary an hour ago: 5 whole minutes. */
export const START = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
export const TRACK = Array.from({ length: 30 }, (_, i) => ({
  ts: START + i * 10_000,
  lat: 31.8 + i * 0.0001,
  lon: 117.2 + i * 0.0002,
  speed: 20 + i,
  heading: (i * 7) % 360,
  ...(i % 2 === 0 ? { alt: 30 + i } : {}),
  sats: 9 + (i % 4),
  // one fix without a valid GNSS position: GPX says <fix>none</fix>, the others say nothing
  valid: i !== 7,
  load: i < 15 ? 'empty' : 'full',
}));

export let tp: TestPlatform;
export let firmY: { authorization: string };
export let monitor: { authorization: string };

export async function get(path: string, headers: Record<string, string> = ADMIN) {
  const res = await fetch(`${tp.httpUrl}${path}`, { headers });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
    text: await res.text(),
  };
}

export function problem(res: { status: number; type: string; text: string }) {
  if (!res.type.startsWith('application/problem+json'))
    throw new Error(`not a problem: ${res.type} ${res.text}`);
  const body = ProblemSchema.parse(JSON.parse(res.text));
  if (body.status !== res.status) throw new Error('problem status differs from the HTTP status');
  return body;
}

export const range = `from=${new Date(START).toISOString()}&to=${new Date(START + 3_600_000).toISOString()}`;
export const track = (query: string, headers?: Record<string, string>) =>
  get(`/api/v1/vehicles/veh-x1/track?${range}${query}`, headers);
export const iso = (ms: number) => new Date(ms).toISOString();

/** Registers the set-up and tear-down of the world in the calling test file (each file gets its own). */
export function setUp(): void {
  test.before(async () => {
    tp = await startTestPlatform();
    await registerFleet(tp, UNITS);
    const [x1, x2, y1, z1] = await Promise.all(UNITS.map((u) => TestDevice.connect(tp, u)));
    await x1!.send(TRACK);
    await x2!.send({ ts: START, lat: 31.85, lon: 117.25, task: 'sweeping' });
    await y1!.send({ ts: START, lat: 31.95, lon: 117.45, speed: 10 });
    await z1!.send({ ts: START, lat: 31.81, lon: 117.21, recording: true });
    await Promise.all([x1, x2, y1, z1].map((d) => d!.close()));
    // The track is read from the store, which the pump fills from the spool shortly after acceptance.
    await eventually(
      async () =>
        (await tp.platform.store.count('veh-x1', START, START + 3_600_000)) === 30 ? true : undefined,
      'the track in the store',
    );
    firmY = await createKey(tp, { role: 'firm', firm: 'firm-y' });
    monitor = await createKey(tp, { role: 'monitor' });
  });

  test.after.always(() => stopAfterEvidence(tp));
}
