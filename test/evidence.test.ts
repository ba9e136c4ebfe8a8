import test from 'ava';
import { compileWorld } from '../geofence/compile.ts';
import { buildEvidence, canonicalJson, verifyEvidence } from '../geofence/evidence.ts';
import { DEFAULT_THRESHOLDS, type RegistrySnapshot } from '../geofence/model.ts';
import type { Violation } from '../geofence/types.ts';
import type { Fix } from '../ingest/fix.ts';

const T0 = Date.UTC(2026, 10, 20, 14, 0, 0);
const snapshot: RegistrySnapshot = {
  sites: [
    {
      id: 'site-o',
      version: 2,
      kind: 'origin',
      name: '工地',
      polygons: [
        [
          [
            [117.2, 31.8],
            [117.21, 31.8],
            [117.21, 31.81],
            [117.2, 31.81],
            [117.2, 31.8],
          ],
        ],
      ],
    },
  ],
  routes: [
    {
      id: 'route-1',
      version: 3,
      name: 'r',
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
      firm: 'f',
      vehicles: ['v1'],
      origins: ['site-o'],
      disposals: [],
      routes: ['route-1'],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      windows: ['22:00-06:00'],
      cargo: '建筑垃圾',
    },
  ],
  vehicles: [{ id: 'v1', version: 1, firm: 'f', kind: 'muck_truck', ratedLoadT: 18, reportIntervalS: 10 }],
  thresholds: { id: 'city', version: 5, values: DEFAULT_THRESHOLDS },
};

const fix = (i: number): Fix => ({
  vehicle: 'v1',
  device: 'd1',
  kind: 'muck_truck',
  firm: 'f',
  ts: T0 + i * 10_000,
  received: T0 + i * 10_000 + 500,
  lat: 31.806 + i * 0.0001,
  lon: 117.22,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  load: 'full',
});

const violation: Violation = {
  id: `v1:OFF_ROUTE:${T0 + 100_000}`,
  code: 'OFF_ROUTE',
  vehicle: 'v1',
  firm: 'f',
  permit: 'permit-1',
  startTs: T0 + 100_000,
  endTs: T0 + 200_000,
  durationMs: 100_000,
  level: 0,
  startPos: [117.22, 31.807],
  lastPos: [117.22, 31.808],
  refs: [
    { kind: 'thresholds', id: 'city', version: 5 },
    { kind: 'permit', id: 'permit-1', version: 1 },
    { kind: 'route', id: 'route-1', version: 3 },
  ],
  thresholds: { offRouteMinMs: 60_000 },
  ruleVersion: 1,
  details: { maxDeviationM: 180.5 },
};

test('canonical JSON sorts keys at every level and is independent of insertion order', (t) => {
  t.is(
    canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } }),
    '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}',
  );
  t.is(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  t.throws(() => canonicalJson({ a: Number.NaN }));
});

test('an evidence package carries the track window, the entities with versions, and a verifiable hash', (t) => {
  const world = compileWorld(snapshot);
  const track = Array.from({ length: 60 }, (_, i) => fix(i)).reverse();
  const pkg = buildEvidence(violation, track, world);
  t.is(pkg.fixes[0]?.ts, T0, 'the window starts 2 min before onset; the track starts later');
  t.is(pkg.fixes.at(-1)?.ts, T0 + 200_000 + 120_000);
  t.true(pkg.fixes.every((f, i, a) => i === 0 || a[i - 1]!.ts < f.ts));
  t.deepEqual(
    pkg.entities.map((e) => [
      e.ref.kind,
      e.ref.id,
      e.ref.version,
      (e.entity as { version?: number }).version,
    ]),
    [
      ['thresholds', 'city', 5, undefined],
      ['permit', 'permit-1', 1, 1],
      ['route', 'route-1', 3, 3],
    ],
  );
  t.regex(pkg.sha256, /^[0-9a-f]{64}$/);
  t.true(verifyEvidence(pkg));
  // Same inputs (track in another order, a new but equal world) → the same hash.
  const again = buildEvidence(violation, track.slice().reverse(), compileWorld(snapshot));
  t.is(again.sha256, pkg.sha256);
  // Any alteration breaks it.
  const tampered = structuredClone(pkg);
  tampered.fixes[3]!.lat += 0.0001;
  t.false(verifyEvidence(tampered));
});
