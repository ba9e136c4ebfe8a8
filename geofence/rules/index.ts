import type { RuleModule } from '../types.ts';
import { dutyOffline } from './duty-offline.ts';
import { illegalDump } from './illegal-dump.ts';
import { lateCollection } from './late-collection.ts';
import { lowBattery } from './low-battery.ts';
import { lowStorage } from './low-storage.ts';
import { missedCollection } from './missed-collection.ts';
import { noPermit } from './no-permit.ts';
import { notRecording } from './not-recording.ts';
import { notUploaded } from './not-uploaded.ts';
import { offHours } from './off-hours.ts';
import { offRoute } from './off-route.ts';
import { offline } from './offline.ts';
import { outOfArea } from './out-of-area.ts';
import { outOfGrid } from './out-of-grid.ts';
import { overload } from './overload.ts';
import { overspeed } from './overspeed.ts';
import { restrictedZone } from './restricted-zone.ts';
import { sos } from './sos.ts';
import { spillage } from './spillage.ts';
import { suspectedDump } from './suspected-dump.ts';
import { sweepCoverage } from './sweep-coverage.ts';
import { sweepOverspeed } from './sweep-overspeed.ts';
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
  // ignition on or permit hours; a body camera's silence on duty is duty-offline.ts (never both: it
  // leaves a camera whose last fix had the ignition on to this one)
  offline,
  trackGap,
  // sanitation (issue 15): judged against the plans in the registry; each declares appliesTo
  missedCollection,
  lateCollection,
  sweepOverspeed,
  sweepCoverage,
  outOfArea,
  // body cameras (issue 15)
  sos,
  notRecording,
  outOfGrid,
  lowBattery,
  lowStorage,
  notUploaded,
  dutyOffline,
];
