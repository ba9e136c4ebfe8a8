import type { RuleModule } from '../types.ts';
import { illegalDump } from './illegal-dump.ts';
import { noPermit } from './no-permit.ts';
import { offHours } from './off-hours.ts';
import { offRoute } from './off-route.ts';
import { offline } from './offline.ts';
import { overload } from './overload.ts';
import { overspeed } from './overspeed.ts';
import { restrictedZone } from './restricted-zone.ts';
import { spillage } from './spillage.ts';
import { suspectedDump } from './suspected-dump.ts';
import { trackGap } from './track-gap.ts';
import { wrongSite } from './wrong-site.ts';

/**
 * The 两点一线 rules judge construction-waste transport: muck trucks only. A sweeper emptying its hopper
 * at a break is not an illegal dump (the demo fleet showed exactly that false accusation).
 */
// biome-ignore lint/suspicious/noExplicitAny: each rule owns its own state slice type
function muckTrucksOnly(rule: RuleModule<any>): RuleModule<any> {
  return { ...rule, appliesTo: ['muck_truck'] };
}

/**
 * The rule registry: every violation rule of the engine, one module each. Adding a rule is a new file in
 * this folder and a line here. The order is the order of each fix's events (kept stable for replays).
 */
// biome-ignore lint/suspicious/noExplicitAny: each rule owns its own state slice type
export const ALL_RULES: readonly RuleModule<any>[] = [
  muckTrucksOnly(offRoute),
  muckTrucksOnly(offHours),
  muckTrucksOnly(noPermit),
  muckTrucksOnly(illegalDump),
  muckTrucksOnly(suspectedDump),
  muckTrucksOnly(spillage),
  muckTrucksOnly(wrongSite),
  overspeed,
  restrictedZone,
  muckTrucksOnly(overload),
  offline,
  trackGap,
];
