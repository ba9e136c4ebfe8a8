/**
 * The world and helpers of the permit-workflow tests (test/registry/permit-workflow*.test.ts).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../../api/schemas.ts';
import type { Fix } from '../../../core/fix.ts';
import { chinaCalendar } from '../../../geofence/calendar.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { createEngine } from '../../../geofence/engine.ts';
import { ALL_RULES } from '../../../geofence/rules/index.ts';
import type { ViolationEvent } from '../../../geofence/types.ts';
import { ComplianceRegistry } from '../../../registry/compliance.ts';
import { testApi } from '../api-fixtures.ts';
import { squareFrom } from '../geometry.ts';
import { as, KEYS } from '../role-keys.ts';
import { PERMIT_BODY } from './compliance.ts';

/**
 * The permit approval workflow (registry/permit-workflow.ts) through the API with one key per role, on a
 * real registry; and the engine's view of it: only approved permits are enforced.
 */

export const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** 12:00 local (04:00Z) on 15 November 2026, inside the permits' validity */
export const NOV_15 = Date.parse('2026-11-15T04:00:00Z');

export const PERMIT = { ...PERMIT_BODY, windows: ['00:00-24:00'] };

export function world(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-permit-workflow-'));
  const clock = { now: NOV_15 };
  const registry = new ComplianceRegistry({
    dir,
    now: () => clock.now,
    vehicles: () => [{ id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', reportIntervalS: 10 }],
  });
  t.teardown(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  registry.put('site', {
    id: 'site-o',
    kind: 'origin',
    name: '蜀山工地',
    polygons: [squareFrom(117.2, 31.8)],
  });
  registry.put('site', {
    id: 'site-d',
    kind: 'disposal',
    name: '肥西消纳场',
    polygons: [squareFrom(117.3, 31.85)],
  });
  registry.put('route', {
    id: 'route-1',
    name: '繁华大道',
    line: [
      [117.2025, 31.8025],
      [117.3025, 31.8525],
    ],
  });
  return { registry, clock };
}

export async function api(t: ExecutionContext) {
  const w = world(t);
  const { app } = await testApi(NO_POSITIONS, { compliance: w.registry, keys: KEYS });
  t.teardown(() => app.close());
  return { app, ...w };
}

export type Res = { statusCode: number; headers: Record<string, unknown>; body: string };

export function problem(res: Res) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  return ProblemSchema.parse(JSON.parse(res.body));
}

export const decide = (app: FastifyInstance, who: Parameters<typeof as>[0], id: string, body: object) =>
  app.inject({ method: 'POST', url: `/api/v1/permits/${id}/status`, headers: as(who), payload: body });

// ---------------------------------------------------------------------------------------------------
// The engine enforces only approved permits

/**
 * veh-1 parked empty inside site-o, then loaded there: a loading at 12:01 local on 15 November (the load
 * reading stays full for 80 s: a change counts once it persisted a minute, geofence/rules/confirm.ts).
 */
export function loadingAtOrigin(): Fix[] {
  return Array.from({ length: 12 }, (_, i) => ({
    vehicle: 'veh-1',
    device: 'dev-1',
    kind: 'muck_truck' as const,
    firm: 'firm-a',
    ts: NOV_15 + i * 10_000,
    received: NOV_15 + i * 10_000,
    lat: 31.8025,
    lon: 117.2025,
    speed: 0,
    valid: true,
    crsIn: 'WGS84' as const,
    late: false,
    load: i < 4 ? ('empty' as const) : ('full' as const),
  }));
}

export function noPermitEvents(registry: ComplianceRegistry): ViolationEvent[] {
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const w = compileWorld(registry.snapshot());
  let state = engine.initial('veh-1');
  const out: ViolationEvent[] = [];
  for (const fix of loadingAtOrigin()) {
    const r = engine.step(state, fix, w);
    state = r.state;
    out.push(...r.events.filter((e) => e.violation.code === 'NO_PERMIT'));
  }
  return out;
}
