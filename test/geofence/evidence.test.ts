import test from 'ava';
import { compileWorld } from '../../geofence/compile.ts';
import { buildEvidence, canonicalJson, verifyEvidence } from '../../geofence/evidence.ts';
import { evidenceSnapshot, offRoute, T0, trackFix } from '../support/evidence-world.ts';

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

/**
 * A package body with the values that could tell two canonical forms apart (Chinese text, escapes,
 * control characters, exponents, -0, keys that sort differently by code point and by UTF-16 unit), and
 * the sha256 the hand-written canonical JSON gave it before the platform took the `canonicalize`
 * package: evidence sealed then must still verify.
 */
function sealedBefore(lone: boolean) {
  const body = {
    format: 'citywatch-evidence/1',
    violation: {
      id: 'v-1',
      code: 'ROUTE_DEVIATION',
      vehicle: '粤B12345',
      startTs: 1_765_000_000_000,
      endTs: undefined,
      refs: [{ kind: 'route', id: 'r1', version: 3 }],
      details: { maxOffM: 123.456789, ratio: 1e-7, big: 1e21, neg: -0, n: [1, 2.5, -3.25e-10, 0.1 + 0.2] },
    },
    fixes: [
      {
        ts: 1,
        lat: 22.543096,
        lon: 114.057865,
        speed: 42.1,
        heading: 359.9,
        valid: true,
        extra: undefined,
        note: 'line\nbreak "quoted" \\ tab\t ctrl\u0001',
      },
    ],
    entities: [
      {
        ref: { kind: 'site', id: 's1' },
        entity: {
          name: '消纳场 A',
          Zeta: 1,
          alpha: 2,
          ä: 3,
          '\u{1F600}': 4,
          '\uFB01': 5,
          '': 6,
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [114.1, 22.5],
                [114.2, 22.5],
                [114.2, 22.6],
                [114.1, 22.5],
              ],
            ],
          },
        },
      },
    ],
    ...(lone ? { lone: '\uD800 lone surrogate' } : {}),
  };
  const sha256 = lone
    ? '8d8e11490adeb1d2be6d55e5b4a5a52f3080e7a59250aa7d094d039998e9d100'
    : 'aa041ec7fe355292f741b2b3406d9f1f23b104c0daecf8f3105167c69a793c1f';
  // as the stores keep it: canonical JSON text, parsed back when read
  return JSON.parse(JSON.stringify({ ...body, sha256 })) as Parameters<typeof verifyEvidence>[0];
}

test('evidence sealed with the hand-written canonical JSON before the canonicalize package still verifies', (t) => {
  t.true(verifyEvidence(sealedBefore(false)));
  const altered = sealedBefore(false);
  (altered.violation as { vehicle: string }).vehicle = '粤B12346';
  t.false(verifyEvidence(altered), 'and a changed package does not');
});

test('a string with a lone surrogate (RFC 8785 refuses it) is still sealed, as before: escaped', (t) => {
  t.true(verifyEvidence(sealedBefore(true)));
  t.is(canonicalJson({ b: '\uDC00', a: ['x\uD800'] }), '{"a":["x\\ud800"],"b":"\\udc00"}');
  t.is(canonicalJson({ '\uD800': 1 }), '{"\\ud800":1}');
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
