/**
 * The world and helpers of the evidence tests (test/api/evidence*.test.ts).
 */

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../../api/schemas.ts';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { buildEvidence, type EvidencePackage } from '../../../geofence/evidence.ts';
import type { Position, RegistrySnapshot } from '../../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import type { Violation } from '../../../geofence/types.ts';
import { EmbeddedEventStore } from '../../../store/events-embedded.ts';
import { testApi } from '../api-fixtures.ts';
import { as, KEYS } from '../role-keys.ts';

/**
 * Evidence packages through the API (api/evidence.ts): the sealed JSON package and its GeoJSON form with
 * Repr-Digest (RFC 9530), content negotiation, POST /evidence/verify (a genuine package, a tampered one,
 * a tampered and re-sealed one, malformed ones), and tenancy, on a real embedded event store holding
 * packages built by the engine's own buildEvidence.
 */

export const T0 = Date.UTC(2026, 10, 20, 14, 0, 0);
export const ring = (lon: number, lat: number, d = 0.01): Position[] => [
  [lon, lat],
  [lon + d, lat],
  [lon + d, lat + d],
  [lon, lat + d],
  [lon, lat],
];

export const snapshot: RegistrySnapshot = {
  sites: [{ id: 'site-o', version: 2, kind: 'origin', name: '工地', polygons: [[ring(117.2, 31.8)]] }],
  routes: [
    {
      id: 'route-1',
      version: 3,
      name: '线路一',
      line: [
        [117.21, 31.805],
        [117.25, 31.805],
      ],
      corridorM: 50,
      limits: [],
    },
  ],
  zones: [],
  permits: [
    {
      id: 'permit-1',
      version: 1,
      firm: 'firm-a',
      vehicles: ['veh-1'],
      origins: ['site-o'],
      disposals: [],
      routes: ['route-1'],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      windows: ['22:00-06:00'],
      cargo: '建筑垃圾',
    },
  ],
  vehicles: [
    { id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
    { id: 'veh-2', version: 1, firm: 'firm-b', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 },
  ],
  thresholds: { id: 'city', version: 5, values: DEFAULT_THRESHOLDS },
};

export const fix = (vehicle: string, firm: string, i: number): Fix => ({
  vehicle,
  device: `dev-${vehicle}`,
  kind: 'muck_truck',
  firm,
  ts: T0 + i * 10_000,
  received: T0 + i * 10_000 + 500,
  lat: 31.806 + i * 0.0001,
  lon: 117.22 + i * 0.0002,
  speed: 20 + i,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  load: 'full',
  cover: 'closed',
  weight: 17.5,
});

export const violationOf = (vehicle: string, firm: string): Violation => ({
  id: `${vehicle}:OFF_ROUTE:${T0 + 100_000}`,
  code: 'OFF_ROUTE',
  vehicle,
  firm,
  permit: 'permit-1',
  startTs: T0 + 100_000,
  endTs: T0 + 200_000,
  durationMs: 100_000,
  level: 0,
  startPos: [117.222, 31.807],
  lastPos: [117.224, 31.808],
  refs: [
    { kind: 'thresholds', id: 'city', version: 5 },
    { kind: 'permit', id: 'permit-1', version: 1 },
    { kind: 'route', id: 'route-1', version: 3 },
    { kind: 'site', id: 'site-o', version: 2 },
  ],
  thresholds: { offRouteMinMs: 60_000 },
  ruleVersion: 1,
  details: { maxDeviationM: 180.5 },
});

export const A = violationOf('veh-1', 'firm-a');
export const B = violationOf('veh-2', 'firm-b');

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
export type Json = any;

export async function api(
  t: ExecutionContext,
): Promise<{ app: FastifyInstance; pkgA: EvidencePackage; pkgB: EvidencePackage }> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-evidence-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const world = compileWorld(snapshot);
  const packages: EvidencePackage[] = [];
  for (const v of [A, B]) {
    const { endTs: _e, durationMs: _d, ...opened } = v;
    await events.recordViolations([
      { phase: 'opened', violation: opened },
      { phase: 'closed', violation: v },
    ]);
    const track = Array.from({ length: 40 }, (_, i) => fix(v.vehicle, v.firm, i));
    const pkg = buildEvidence(v, track, world);
    await events.putEvidence(pkg);
    packages.push(pkg);
  }
  // an ongoing violation of firm-a: no package yet
  await events.recordViolations([
    {
      phase: 'opened',
      violation: { ...violationOf('veh-1', 'firm-a'), id: 'veh-1:OFF_ROUTE:1', startTs: 1, endTs: undefined },
    },
  ]);
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    { events, keys: KEYS },
  );
  t.teardown(async () => {
    await app.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, pkgA: packages[0]!, pkgB: packages[1]! };
}

export const evidenceUrl = (id: string, query = '') =>
  `/api/v1/violations/${encodeURIComponent(id)}/evidence${query}`;
export const sha256b64 = (body: string) => createHash('sha256').update(body, 'utf8').digest('base64');

export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  return ProblemSchema.parse(JSON.parse(res.body));
}

export const verify = (app: FastifyInstance, body: unknown, who: Parameters<typeof as>[0] = 'firmA') =>
  app.inject({ method: 'POST', url: '/api/v1/evidence/verify', headers: as(who), payload: body as object });
