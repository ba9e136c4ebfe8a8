/**
 * The world and helpers of the compliance tests (test/api/compliance*.test.ts).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../../api/schemas.ts';
import type { Position } from '../../../geofence/model.ts';
import { ComplianceRegistry } from '../../../registry/compliance.ts';
import { AUTH, testApi } from '../api-fixtures.ts';
import { squareFrom } from '../geometry.ts';
import { PERMIT_BODY } from '../registry/compliance.ts';

/** The compliance registry API through app.inject(), on a real registry in a temporary directory. */

export const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };

export async function api(
  t: ExecutionContext,
): Promise<{ app: FastifyInstance; registry: ComplianceRegistry }> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-compliance-'));
  const registry = new ComplianceRegistry({ dir });
  const { app } = await testApi(NO_POSITIONS, { compliance: registry });
  t.teardown(async () => {
    await app.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, registry };
}

export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  const body = ProblemSchema.parse(JSON.parse(res.body));
  if (body.status !== res.statusCode) throw new Error(`problem status ${body.status} != ${res.statusCode}`);
  return body;
}

export const siteFeature = (
  id: string,
  kind: 'origin' | 'disposal',
  lon: number,
  lat: number,
  name = id,
) => ({
  type: 'Feature',
  id,
  geometry: { type: 'Polygon', coordinates: squareFrom(lon, lat) },
  properties: { kind, name },
});
export const LINE: Position[] = [
  [117.2025, 31.8025],
  [117.25, 31.82],
  [117.3025, 31.8525],
];
export const routeFeature = {
  type: 'Feature',
  id: 'route-1',
  geometry: { type: 'LineString', coordinates: LINE },
  properties: { name: '繁华大道' },
};
export const PERMIT = PERMIT_BODY;

export async function seed(app: FastifyInstance) {
  for (const payload of [
    siteFeature('site-o', 'origin', 117.2, 31.8),
    siteFeature('site-d', 'disposal', 117.3, 31.85),
  ]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sites', headers: AUTH, payload });
    if (res.statusCode !== 201) throw new Error(res.body);
  }
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/routes',
    headers: AUTH,
    payload: routeFeature,
  });
  if (res.statusCode !== 201) throw new Error(res.body);
}
