import type { FastifyBaseLogger } from 'fastify';
import type { World } from '../../geofence/types.ts';
import type { ComplianceRegistry } from '../../registry/compliance.ts';
import type { Registry } from '../../registry/types.ts';
import {
  type EventStore,
  MAX_PAGE_LIMIT,
  type Page,
  type TripRecord,
  type ViolationRecord,
} from '../../store/events-port.ts';
import type { FixStore } from '../../store/port.ts';
import { storeUnavailable } from '../problem.ts';
import { computeScorecards, type FirmScorecard } from './compute.ts';
import type { MonthRange } from './month.ts';

/**
 * A month's records for the scorecards (api/scorecards.ts): the trips and violations read from the event
 * store, which firms are scored, and which units are sanitation vehicles or body cameras (their
 * violations go to the plan sections, api/scorecard/sections.ts).
 */

/** the plans and tracks behind the sections' coverage and duty figures */
export interface PlanSources {
  registry: Pick<ComplianceRegistry, 'list' | 'record'>;
  world: () => World;
  tracks: Pick<FixStore, 'track'>;
  now: () => number;
}

export interface ScorecardSources {
  events: Pick<EventStore, 'trips' | 'violations'>;
  registry: Pick<Registry, 'firm' | 'vehicles' | 'devices'>;
  /** without: violations only */
  plans?: PlanSources;
}

async function allPages<T>(page: (cursor?: string) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    out.push(...p.items);
    cursor = p.nextCursor;
  } while (cursor !== undefined);
  return out;
}

export interface Month {
  cards: FirmScorecard[];
  /** the violations of sanitation vehicles and body cameras, and which is which */
  planned: ViolationRecord[];
  units: PlanUnits;
}

/** Every card of the month (reads the whole month: a firm's rank needs every firm's figures). */
export async function readMonth(
  sources: ScorecardSources,
  log: FastifyBaseLogger,
  range: MonthRange,
  alsoFirm?: string,
): Promise<Month> {
  const { events, registry } = sources;
  const window = { from: range.fromMs, to: range.toMs - 1, limit: MAX_PAGE_LIMIT };
  let trips: TripRecord[];
  let allViolations: ViolationRecord[];
  try {
    [trips, allViolations] = await Promise.all([
      allPages((cursor) => events.trips({ ...window, ...(cursor ? { cursor } : {}) })),
      allPages((cursor) => events.violations({ ...window, ...(cursor ? { cursor } : {}) })),
    ]);
  } catch (cause) {
    throw storeUnavailable(log, 'event', cause);
  }
  const units = planUnits(sources);
  const firms = new Set<string>();
  for (const v of registry.vehicles()) if (v.kind === 'muck_truck') firms.add(v.firm);
  const violations: ViolationRecord[] = [];
  const planned: ViolationRecord[] = [];
  for (const v of allViolations) {
    if (units.kindOf.has(v.vehicle)) planned.push(v);
    else violations.push(v);
  }
  for (const t of trips) firms.add(t.firm);
  for (const v of violations) firms.add(v.firm);
  if (alsoFirm !== undefined) firms.add(alsoFirm);
  const cards = computeScorecards({ ...range, firms: [...firms], trips, violations });
  return { cards, planned, units };
}

export interface PlanUnits {
  /** unit -> its kind, for every sanitation vehicle and body camera (registered or named by a plan) */
  kindOf: Map<string, 'sanitation' | 'body_camera'>;
  /** firm -> its sanitation vehicles / cameras */
  sanitation: Map<string, Set<string>>;
  enforcement: Map<string, Set<string>>;
}

function planUnits({ registry, plans }: ScorecardSources): PlanUnits {
  const out: PlanUnits = { kindOf: new Map(), sanitation: new Map(), enforcement: new Map() };
  const add = (kind: 'sanitation' | 'body_camera', firm: string, unit: string) => {
    out.kindOf.set(unit, kind);
    const byFirm = kind === 'sanitation' ? out.sanitation : out.enforcement;
    const set = byFirm.get(firm) ?? new Set<string>();
    byFirm.set(firm, set);
    set.add(unit);
  };
  for (const v of registry.vehicles()) if (v.kind === 'sanitation') add('sanitation', v.firm, v.id);
  for (const d of registry.devices()) if (d.kind === 'body_camera') add('body_camera', d.firm, d.unit);
  if (plans !== undefined) {
    const r = plans.registry;
    for (const p of [...r.list('sweep_plan'), ...r.list('collection_point')]) {
      for (const v of p.vehicles) add('sanitation', p.firm, v);
    }
    for (const p of r.list('duty_plan')) for (const c of p.cameras) add('body_camera', p.firm, c);
  }
  return out;
}
