/**
 * The live bus without a socket: the ring of events, the filters, a channel with a blocked sink and its replay (their world: test/support/api/live.ts).
 */

import { PassThrough } from 'node:stream';
import test from 'ava';
import { liveFilter } from '../../api/live.ts';
import { LiveChannel } from '../../delivery/live/channel.ts';
import { matches } from '../../delivery/live/filter.ts';
import { EventRing } from '../../delivery/live/ring.ts';
import { drain, meta } from '../support/api/live.ts';

// ---------------------------------------------------------------------------------------------------
// the pure parts

test('ring: ids are contiguous; capacity and retention evict the oldest; resumable ids', (t) => {
  const ring = new EventRing<string>({ capacity: 3, retentionMs: 1000, idBase: 100 });
  t.is(ring.lastId, 100);
  t.is(ring.firstId, 101);
  t.true(ring.canResumeAfter(100), 'nothing issued yet: nothing missed');
  for (const [i, at] of [0, 10, 20, 30].entries()) ring.append(`e${i}`, (id) => `frame ${id}`, at);
  t.is(ring.lastId, 104);
  t.is(ring.firstId, 102, 'capacity 3: the first event was evicted');
  t.is(ring.get(101), undefined);
  t.is(ring.get(102)?.meta, 'e1');
  t.is(ring.get(104)?.frame, 'frame 104');
  t.false(ring.canResumeAfter(100), 'the event after 100 is gone');
  t.true(ring.canResumeAfter(101));
  t.true(ring.canResumeAfter(104));
  t.false(ring.canResumeAfter(105), 'never issued');
  ring.evict(1015);
  t.is(ring.firstId, 103, 'older than 1000 ms at 1015: e1 (at 10) goes, e2 (at 20) stays');
  ring.evict(5000);
  t.is(ring.size, 0);
  t.is(ring.firstId, 105);
  t.true(ring.canResumeAfter(104), 'all evicted but none missed by a client that saw 104');
  t.false(ring.canResumeAfter(103));
});

test('filter: the key’s firm and the query combine with AND', (t) => {
  const firmKey = { keyId: 'k1', role: 'firm' as const, firm: 'firm-a', scopes: [] };
  const admin = { keyId: 'k2', role: 'admin' as const, scopes: [] };
  t.true(matches(liveFilter(firmKey, {}), meta()));
  t.false(matches(liveFilter(firmKey, {}), meta({ firm: 'firm-b' })));
  t.false(
    matches(liveFilter(firmKey, { firm: 'firm-b' }), meta({ firm: 'firm-b' })),
    'no way around tenancy',
  );
  t.false(matches(liveFilter(firmKey, { firm: 'firm-b' }), meta()));
  t.true(matches(liveFilter(admin, { firm: 'firm-b' }), meta({ firm: 'firm-b' })));
  const box = { minLon: 117, minLat: 31, maxLon: 118, maxLat: 32 };
  t.true(matches(liveFilter(admin, { bbox: box }), meta()));
  t.false(matches(liveFilter(admin, { bbox: box }), meta({ lat: 32.5 })));
  const across = { minLon: 170, minLat: -10, maxLon: -170, maxLat: 10 };
  t.true(matches(liveFilter(admin, { bbox: across }), meta({ lon: 179, lat: 0 })), 'antimeridian box');
  t.false(matches(liveFilter(admin, { bbox: across }), meta({ lon: 0, lat: 0 })));
  t.false(matches(liveFilter(admin, { code: ['OVERSPEED'] }), meta()), 'a position has no code');
  t.true(matches(liveFilter(admin, { code: ['OVERSPEED'] }), meta({ code: 'OVERSPEED' })));
});

test('channel: a blocked sink stops receiving, is dropped past maxLag and never blocks publishing', (t) => {
  const channel = new LiveChannel('positions', 'position', {
    capacity: 1000,
    retentionMs: 60_000,
    idBase: 0,
    maxLag: 10,
    dropGraceMs: 60_000,
    now: () => 0,
  });
  const sink = new PassThrough({ highWaterMark: 64 });
  channel.subscribe({ filter: {}, sink });
  const data = JSON.stringify({ pad: 'x'.repeat(100) });
  channel.publish([{ meta: meta(), data }]);
  t.is(channel.stats().subscribers, 1);
  // the sink's buffer is over its high-water mark now and nobody reads it
  for (let i = 0; i < 10; i++) channel.publish([{ meta: meta(), data }]);
  t.is(channel.stats().subscribers, 1, '10 behind is still within maxLag');
  channel.publish([{ meta: meta(), data }]);
  t.is(channel.stats().subscribers, 0, '11 behind: dropped');
  t.is(channel.stats().dropped, 1);
  for (let i = 0; i < 100; i++) channel.publish([{ meta: meta(), data }]);
  const text = drain(sink);
  t.is((text.match(/^event: position$/gm) ?? []).length, 1, 'only what fitted before it blocked');
  t.regex(text, /event: dropped\ndata: \{"reason":"slow-consumer"/);
  t.is(channel.stats().lastId, 112);
});

test('channel: replay after Last-Event-ID and the heartbeat comment', (t) => {
  const channel = new LiveChannel('violations', 'violation', {
    capacity: 100,
    retentionMs: 60_000,
    idBase: 0,
    maxLag: 100,
    now: () => 0,
  });
  channel.publish(
    [1, 2, 3].map((i) => ({ meta: meta({ code: i === 2 ? 'OVERSPEED' : 'OFF_ROUTE' }), data: `{"n":${i}}` })),
  );
  const sink = new PassThrough();
  channel.subscribe({ filter: { codes: new Set(['OFF_ROUTE']) }, sink, lastEventId: '1' });
  channel.heartbeat();
  t.is(drain(sink), 'id: 3\nevent: violation\ndata: {"n":3}\n\n: heartbeat\n\n');
});
