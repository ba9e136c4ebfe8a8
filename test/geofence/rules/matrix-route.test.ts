import test from 'ava';
import { phases, run } from '../../support/rules/matrix/run.ts';
import { fixAt } from '../../support/rules/matrix/tracks.ts';
import { codesOf } from '../../support/rules/matrix-route.ts';
import { local } from '../../support/rules/track-kit.ts';

test('route and zone rules leave a body camera alone: 110 km/h through the school zone and RZ2 at noon', (t) => {
  const D = local(12);
  const cam = [
    ...Array.from({ length: 40 }, (_, i) =>
      fixAt('C1', D + i * 10_000, 2600 + i * 20, 0, { kind: 'body_camera', speed: 110 }),
    ),
    ...Array.from({ length: 10 }, (_, i) =>
      fixAt('C1', D + (40 + i) * 10_000, -1500, -1500, { kind: 'body_camera', speed: 110 }),
    ),
  ];
  // the jump from the school zone to RZ2 (about 5 km in 10 s) is the only thing found
  const r = run(cam);
  t.deepEqual(phases(r.events), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.is(r.events[0]!.violation.details.reason, 'speed');
  t.is(codesOf(r).length, 1);
});
