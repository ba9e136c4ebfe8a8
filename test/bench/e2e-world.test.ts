import test from 'ava';
import { pathOf } from '../../bench/e2e-world.ts';
import { FixFactory } from '../../simulators/load/fix-factory.ts';

// The e2e world builds each truck's permit around the line the load generator will drive it on; the
// path is read with FixFactory.advance()/position() instead of 600 payloads per truck. It must be the
// positions those payloads carry, or the permits miss the trucks (and OFF_ROUTE opens for all of them).
test('pathOf: the positions of the 1st and 599th payload the generator sends for that truck', (t) => {
  for (const seed of [1, 2]) {
    for (const index of [0, 1, 19, 499, 999]) {
      const factory = new FixFactory(seed * 100_003 + index);
      const payloads = Array.from(
        { length: 599 },
        () => JSON.parse(factory.next(0)) as { lon: number; lat: number },
      );
      const { a, b } = pathOf(seed, index);
      t.deepEqual(a, [payloads[0]!.lon, payloads[0]!.lat], `seed ${seed} truck ${index}: start`);
      t.deepEqual(b, [payloads[598]!.lon, payloads[598]!.lat], `seed ${seed} truck ${index}: turning point`);
    }
  }
});

test('FixFactory.advance moves as next() does: the payloads after it go on from where it left', (t) => {
  const a = new FixFactory(7);
  const b = new FixFactory(7);
  for (let n = 0; n < 1_300; n++) {
    const ts = a.advance(1_000 + n);
    const payload = JSON.parse(b.next(1_000 + n)) as { ts: number; lon: number; lat: number };
    t.is(ts, payload.ts);
    if (n % 97 === 0 || n === 599 || n === 600 || n === 1_199)
      t.deepEqual(a.position(), [payload.lon, payload.lat]);
  }
  t.is(a.next(0), b.next(0));
});
