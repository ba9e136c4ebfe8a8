import test from 'ava';
import { compileWorld } from '../geofence/compile.ts';
import { buildEvidence, canonicalJson, verifyEvidence } from '../geofence/evidence.ts';
import { evidenceSnapshot, offRoute, T0, trackFix } from './support/evidence-world.ts';

const snapshot = evidenceSnapshot();
const violation = offRoute(T0 + 100_000, T0 + 200_000);

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
  const track = Array.from({ length: 60 }, (_, i) => trackFix(i)).reverse();
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
