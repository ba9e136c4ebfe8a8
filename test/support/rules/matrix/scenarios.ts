/**
 * The rule matrix's scenarios: the clean 两点一线 trip and one triggering track per rule (two for
 * SPILLAGE), on the map of world.ts, each with the events its noiseless track must produce through
 * ALL_RULES (run.ts).
 */
import type { Fix } from '../../../../core/fix.ts';
import type { ViolationCode } from '../../../../geofence/model.ts';
import { type Item, local } from '../track-kit.ts';
import { EMPTY, FULL, loadAt, Trk, tip } from './tracks.ts';

export interface Scenario {
  name: string;
  /** the rule the track is built to trigger (null: the clean compliant trip) */
  code: ViolationCode | null;
  vehicle: string;
  items: Item[];
  /** `CODE:phase` of every event the noiseless track must produce, in order */
  expect: string[];
}

/** the clean 两点一线 trip: load in O1 at 23:00, R1 to D1 at 30 km/h, tip, return empty */
export function cleanTrip(vehicle = 'V1', start = local(23)): Trk {
  const tr = new Trk(vehicle, start, 0, 0, EMPTY);
  loadAt(tr);
  tr.drive(4000, 0, 30);
  tr.drive(4000, 3000, 30);
  tr.stay(60_000);
  tip(tr);
  return tr.drive(4000, 2000, 30);
}

const T1 = local(23, 10);

function offRouteTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  tr.drive(1500, 0, 30).drive(1500, 250, 30).drive(2000, 250, 30).drive(2000, 0, 30).drive(2600, 0, 30);
  return tr.fixes;
}

function offHoursTrack(): Fix[] {
  const tr = new Trk('V1', local(10), 1200, 0, FULL);
  return tr.drive(2400, 0, 30).stay(90_000).fixes;
}

function illegalDumpTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1500, 0, FULL);
  tr.drive(2000, 0, 30).stay(60_000);
  return tip(tr).drive(2600, 0, 30).fixes;
}

function suspectedDumpTrack(): Fix[] {
  return new Trk('V1', T1, 1500, 0, FULL).drive(2000, 0, 30).stay(420_000).drive(2600, 0, 30).fixes;
}

function spillageCoverTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  return tr
    .roll(3, 30)
    .roll(7, 30, 10_000, () => ({ cover: 'open' }))
    .roll(4, 30, 10_000, () => ({ cover: 'closed' })).fixes;
}

function spillageWeightTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  tr.roll(2, 30).roll(10, 30, 10_000, (i) => ({ weight: Math.round((28 - 0.1 * i) * 100) / 100 }));
  return tr.roll(3, 30).stay(30_000).fixes;
}

function wrongSiteTrack(): Fix[] {
  const tr = new Trk('V1', T1, 600, 0, EMPTY);
  tr.drive(1000, 0, 20);
  return loadAt(tr).drive(2600, 0, 30).fixes;
}

function overspeedTrack(): Fix[] {
  const tr = new Trk('V1', local(10), 500, 0, EMPTY);
  return tr.roll(3, 50, 5_000).roll(6, 75, 5_000).roll(3, 50, 5_000).fixes;
}

function restrictedTrack(): Fix[] {
  return new Trk('V1', local(23, 30), 2000, -2110, EMPTY).drive(2000, -900, 30).fixes;
}

function overloadTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL);
  return tr
    .roll(2, 30)
    .roll(12, 30, 10_000, () => ({ weight: 33 }))
    .roll(8, 30, 10_000, () => ({ weight: 29 })).fixes;
}

/** an empty truck parked by the road with the ignition on, silent for 11 min (over the 10 min allowance) */
function offlineItems(): Item[] {
  const tr = new Trk('V1', T1, 1200, 0, EMPTY).roll(3, 30).stay(20_000);
  const last = tr.t;
  const ticks: Item[] = [];
  for (let s = 30; s <= 660; s += 30) ticks.push({ tick: last + s * 1000 });
  const before = tr.fixes.slice();
  // still parked for 30 s after it: a swapped pair there judges a parked fix, never a jump
  tr.fix(690_000, 0).stay(30_000);
  tr.roll(3, 30);
  return [...before, ...ticks, ...tr.fixes.slice(before.length)];
}

function trackGapTrack(): Fix[] {
  const tr = new Trk('V1', T1, 1200, 0, FULL).roll(3, 30);
  tr.fix(400_000, 30, { x: tr.x + 1000 });
  return tr.roll(3, 30).fixes;
}

function noPermitTrack(): Fix[] {
  return cleanTrip('V2').fixes;
}

/** the clean trip and one triggering track per rule (two for SPILLAGE), all through ALL_RULES */
export function scenarios(): Scenario[] {
  const oc = ['opened', 'closed'];
  const s = (name: string, code: ViolationCode | null, items: Item[], expect: string[], vehicle = 'V1') => ({
    name,
    code,
    vehicle,
    items,
    expect,
  });
  const pair = (code: ViolationCode) => oc.map((p) => `${code}:${p}`);
  return [
    s('clean trip', null, cleanTrip().fixes, []),
    s('OFF_ROUTE', 'OFF_ROUTE', offRouteTrack(), pair('OFF_ROUTE')),
    s('OFF_HOURS', 'OFF_HOURS', offHoursTrack(), pair('OFF_HOURS')),
    s('NO_PERMIT', 'NO_PERMIT', noPermitTrack(), pair('NO_PERMIT'), 'V2'),
    s('ILLEGAL_DUMP', 'ILLEGAL_DUMP', illegalDumpTrack(), pair('ILLEGAL_DUMP')),
    s('SUSPECTED_DUMP', 'SUSPECTED_DUMP', suspectedDumpTrack(), pair('SUSPECTED_DUMP')),
    s('SPILLAGE (cover)', 'SPILLAGE', spillageCoverTrack(), pair('SPILLAGE')),
    s('SPILLAGE (weight)', 'SPILLAGE', spillageWeightTrack(), pair('SPILLAGE')),
    s('WRONG_SITE', 'WRONG_SITE', wrongSiteTrack(), pair('WRONG_SITE')),
    s('OVERSPEED', 'OVERSPEED', overspeedTrack(), pair('OVERSPEED')),
    s('RESTRICTED_ZONE', 'RESTRICTED_ZONE', restrictedTrack(), pair('RESTRICTED_ZONE')),
    s('OVERLOAD', 'OVERLOAD', overloadTrack(), pair('OVERLOAD')),
    s('OFFLINE', 'OFFLINE', offlineItems(), pair('OFFLINE')),
    s('TRACK_GAP', 'TRACK_GAP', trackGapTrack(), pair('TRACK_GAP')),
  ];
}
