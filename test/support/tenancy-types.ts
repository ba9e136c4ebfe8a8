import type { World } from './identity-world.ts';

/** The tenancy table's row shapes (tenancy-table.ts, tenancy-plans.ts). */
export type Target = 'own' | 'other' | 'missing';

export interface RouteRequest {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

export interface RouteSpec {
  expect: readonly [admin: number, monitor: number, firmOwn: number, firmOther: number];
  req?: (target: Target, w: World) => RouteRequest | Promise<RouteRequest>;
  lists?: boolean;
  stream?: boolean;
}
