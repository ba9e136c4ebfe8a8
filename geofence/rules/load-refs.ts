import type { EntityRef, Permit, Position, Site, Thresholds } from '../model.ts';
import type { LoadEvent, RuleContext } from '../types.ts';
import { baseRefs } from './lifecycle.ts';

/**
 * What the load-driven rules (NO_PERMIT, ILLEGAL_DUMP, WRONG_SITE, SUSPECTED_DUMP, SPILLAGE, OVERLOAD,
 * OFF_HOURS, OFF_ROUTE) share around the load detector's verdicts (load-events.ts): the thresholds a
 * transition rests on, the references a violation records, the sites named by the permits, near a
 * position or at a transition's onset, and where "no longer loaded" ends a violation.
 */

/** The thresholds the detection applies, recorded in every violation that rests on a transition. */
export function loadThresholds(t: Thresholds): Partial<Thresholds> {
  return {
    dumpWeightDropT: t.dumpWeightDropT,
    suspectedDumpSpeedKmh: t.suspectedDumpSpeedKmh,
    sensorConfirmMs: t.sensorConfirmMs,
  };
}

export function siteRef(site: Pick<Site, 'id' | 'version'>): EntityRef {
  return { kind: 'site', id: site.id, version: site.version };
}

/**
 * The base references (city thresholds, permit in force) plus every other permit the judgement used and
 * the sites involved, each once, in a stable order.
 */
export function refsWith(
  ctx: Pick<RuleContext, 'facts' | 'world'>,
  permits: readonly Permit[],
  sites: readonly Pick<Site, 'id' | 'version'>[],
): EntityRef[] {
  const refs = baseRefs(ctx);
  const seen = new Set(refs.map((r) => `${r.kind}:${r.id}`));
  const add = (r: EntityRef) => {
    const key = `${r.kind}:${r.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    refs.push(r);
  };
  for (const p of permits) add({ kind: 'permit', id: p.id, version: p.version });
  for (const s of sites) add(siteRef(s));
  return refs;
}

/** Site ids named by the permits for one role, deduplicated, in permit order. */
export function namedSites(permits: readonly Permit[], role: 'origins' | 'disposals'): string[] {
  const out: string[] = [];
  for (const p of permits) for (const id of p[role]) if (!out.includes(id)) out.push(id);
  return out;
}

/**
 * Whether the position is within the GNSS accuracy floor of (or inside) one of the given sites: the
 * benefit of the doubt for a fix next to a boundary. Returns the nearest such site id and distance.
 */
export function nearestSite(
  ctx: Pick<RuleContext, 'world' | 'facts'>,
  siteIds: readonly string[],
  pos: Position = ctx.facts.pos,
): { id: string; distanceM: number } | null {
  let best: { id: string; distanceM: number } | null = null;
  for (const id of siteIds) {
    const d = ctx.world.siteBoundaryDistance(id, pos);
    if (!Number.isFinite(d)) continue;
    if (best === null || d < best.distanceM) best = { id, distanceM: d };
  }
  return best;
}

/** Where a transition began (its onset), and the sites there (the fix's own when it is the onset). */
export function onsetOf(
  ctx: Pick<RuleContext, 'world' | 'facts' | 'fix'>,
  event: LoadEvent,
): { pos: Position; sites: readonly Site[] } {
  if (event.ts === ctx.fix.ts) return { pos: ctx.facts.pos, sites: ctx.facts.sites };
  const pos: Position = [event.lon, event.lat];
  return { pos, sites: ctx.world.sitesAt(pos) };
}

/**
 * Where a violation that ends because the truck is no longer loaded ends: at the onset of the confirmed
 * change (`facts.loadChangeTs`), not before `startTs`, not after the fix.
 */
export function unloadedAt(ctx: Pick<RuleContext, 'facts' | 'fix'>, startTs: number): number {
  const at = ctx.facts.loadChangeTs;
  return Math.max(startTs, at >= 0 ? Math.min(at, ctx.fix.ts) : ctx.fix.ts);
}
