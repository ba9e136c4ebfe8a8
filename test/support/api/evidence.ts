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
import type { RegistrySnapshot } from '../../../geofence/model.ts';
import type { Violation } from '../../../geofence/types.ts';
import { EmbeddedEventStore } from '../../../store/events-embedded.ts';
import { testApi } from '../api-fixtures.ts';
import { evidenceSnapshot, offRoute, T0, trackFix } from '../evidence-world.ts';
import { as, KEYS } from '../role-keys.ts';

/**
 * Evidence packages through the API (api/evidence.ts): the sealed JSON package and its GeoJSON form with
 * Repr-Digest (RFC 9530), content negotiation, POST /evidence/verify (a genuine package, a tampered one,
 * a tampered and re-sealed one, malformed ones), and tenancy, on a real embedded event store holding
 * packages built by the engine's own buildEvidence.
 */

/** The evidence world with a truck of firm-a (on the permit) and one of firm-b. */
export const snapshot: RegistrySnapshot = evidenceSnapshot('工地', '线路一', [
  { id: 'veh-1', firm: 'firm-a' },
  { id: 'veh-2', firm: 'firm-b' },
]);

/** The i-th fix of a loaded truck's track, one every 10 s from T0, drifting north-east off the route. */
export const fix = (vehicle: string, firm: string, i: number): Fix =>
  trackFix(i, 10_000, {
    vehicle,
    device: `dev-${vehicle}`,
    firm,
    lon: 117.22 + i * 0.0002,
    speed: 20 + i,
    cover: 'closed',
    weight: 17.5,
  });

/** A closed OFF_ROUTE violation of `vehicle` on that track, citing the site as well. */
export const violationOf = (vehicle: string, firm: string): Violation => {
  const v = offRoute(T0 + 100_000, T0 + 200_000, {
    id: `${vehicle}:OFF_ROUTE:${T0 + 100_000}`,
    vehicle,
    firm,
    startPos: [117.222, 31.807],
    lastPos: [117.224, 31.808],
  });
  return { ...v, refs: [...v.refs, { kind: 'site', id: 'site-o', version: 2 }] };
};

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
