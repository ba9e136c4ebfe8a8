/**
 * Live streams (Server-Sent Events) against the running platform over real sockets: fixes published over
 * MQTT come out of GET /api/v1/live/positions, violations of the compliance engine out of
 * /api/v1/live/violations; resuming with Last-Event-ID, reset, filters, tenancy and slow clients.
 * Negative filter checks use fences: a matching event published after the non-matching ones must be the
 * next event received, so nothing is asserted by waiting.
 *
 * The last part tests the pure pieces (ring, channel over a real PassThrough, filter) without sockets.
 */
import { PassThrough } from 'node:stream';
import test from 'ava';
import { liveFilter } from '../../api/live.ts';
import { LiveChannel } from '../../api/live-channel.ts';
import { type EventMeta, matches } from '../../api/live-filter.ts';
import { EventRing } from '../../api/live-ring.ts';
import { PositionDtoSchema, ProblemSchema } from '../../api/schemas.ts';
import { ADMIN, createKey, type FleetUnit, registerFleet, TestDevice } from '../support/live-fleet.ts';
import { eventually, startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { SseClient, type SseEvent } from '../support/sse.ts';

const UNITS: FleetUnit[] = [
  { unit: 'veh-a1', device: 'dev-a1', secret: 'secret-a1', kind: 'muck_truck', firm: 'firm-a' },
  { unit: 'veh-a2', device: 'dev-a2', secret: 'secret-a2', kind: 'sanitation', firm: 'firm-a' },
  { unit: 'veh-b1', device: 'dev-b1', secret: 'secret-b1', kind: 'muck_truck', firm: 'firm-b' },
  { unit: 'veh-v1', device: 'dev-v1', secret: 'secret-v1', kind: 'muck_truck', firm: 'firm-a' },
  { unit: 'veh-v2', device: 'dev-v2', secret: 'secret-v2', kind: 'muck_truck', firm: 'firm-b' },
];

/** Where each unit reports: a1 and a2 in one part of town, b1 in another (for the bbox filter). */
const PLACE: Record<string, { lat: number; lon: number }> = {
  'veh-a1': { lat: 31.8, lon: 117.2 },
  'veh-a2': { lat: 31.85, lon: 117.25 },
  'veh-b1': { lat: 31.95, lon: 117.45 },
  'veh-v1': { lat: 31.8, lon: 117.3 },
  'veh-v2': { lat: 31.9, lon: 117.3 },
};

let tp: TestPlatform;
const devices = new Map<string, TestDevice>();
/** per unit, the ts of its next fix: every fix of a device is later than the one before */
const clock = new Map<string, number>();

test.before(async () => {
  tp = await startTestPlatform();
  await registerFleet(tp, UNITS);
  // the compliance engine learns of the new vehicles now, not on their first fix
  tp.platform.complianceService.recompile();
  for (const u of UNITS) devices.set(u.unit, await TestDevice.connect(tp, u));
});

test.after.always(async () => {
  for (const d of devices.values()) await d.close();
  // ComplianceService.stop() waits for evidence jobs on unref'd timers: with nothing else left alive the
  // worker would exit mid-stop, so let the evidence of the violations above be built first.
  if (tp) {
    await eventually(
      () => (tp.platform.complianceService.status().pendingEvidence === 0 ? true : undefined),
      'evidence jobs to finish',
      60_000,
    );
  }
  await tp?.stop();
});

/** n fixes of a unit, 10 s apart (or `stepMs`), continuing its clock; `over` is merged into each. */
function fixes(unit: string, n: number, over: Record<string, unknown> = {}, stepMs = 10_000) {
  const out: Array<Record<string, unknown> & { ts: number }> = [];
  let ts = clock.get(unit) ?? Date.now() - 6 * 3_600_000;
  for (let i = 0; i < n; i++) {
    out.push({ ts, ...PLACE[unit], speed: 20, ...over });
    ts += stepMs;
  }
  clock.set(unit, ts);
  return out;
}

async function send(unit: string, batch: Record<string, unknown>[]): Promise<void> {
  await devices.get(unit)!.send(batch);
}

const url = (path: string) => `${tp.httpUrl}/api/v1${path}`;
const position = (e: SseEvent) => PositionDtoSchema.parse(JSON.parse(e.data));
const iso = (ms: number) => new Date(ms).toISOString();

function idsIncrease(t: { true(v: boolean, m?: string): void }, events: readonly SseEvent[]): void {
  const ids = events.map((e) => Number(e.id));
  t.true(
    ids.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > (ids[i - 1] as number))),
    `ids increase: ${ids.join(',')}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// positions

test.serial('positions: an event stream of Position events with increasing ids', async (t) => {
  const s = await SseClient.connect(url('/live/positions?vehicle=veh-a1'), ADMIN);
  t.teardown(() => s.close());
  t.regex(String(s.response.headers['content-type']), /^text\/event-stream/);
  t.is(s.response.headers['cache-control'], 'no-store');

  await send('veh-b1', fixes('veh-b1', 2));
  const sent = fixes('veh-a1', 3, { load: 'empty', heading: 90 });
  await send('veh-a1', sent);
  const got = await s.take(3);
  t.deepEqual(
    got.map((e) => e.event),
    ['position', 'position', 'position'],
  );
  idsIncrease(t, got);
  const dtos = got.map(position);
  t.deepEqual(
    dtos.map((p) => p.vehicle),
    ['veh-a1', 'veh-a1', 'veh-a1'],
    'veh-b1 was published first and filtered out',
  );
  t.deepEqual(
    dtos.map((p) => p.ts),
    sent.map((f) => iso(f.ts)),
  );
  t.is(dtos[0]?.plate, '皖A·veh-a1');
  t.is(dtos[0]?.firm, 'firm-a');
  t.is(dtos[0]?.load, 'empty');
  t.true(s.comments.includes('connected'));
});

test.serial('positions: Last-Event-ID resumes with exactly the missed events', async (t) => {
  const first = await SseClient.connect(url('/live/positions?vehicle=veh-a2'), ADMIN);
  const batch1 = fixes('veh-a2', 5, { task: 'sweeping' });
  await send('veh-a2', batch1);
  const seen = await first.take(2);
  first.close();
  // published while no client is connected
  const batch2 = fixes('veh-a2', 4, { task: 'collecting' });
  await send('veh-a2', batch2);

  const resumed = await SseClient.connect(url('/live/positions?vehicle=veh-a2'), {
    ...ADMIN,
    'last-event-id': seen[1]!.id!,
  });
  t.teardown(() => resumed.close());
  const missed = await resumed.take(7);
  t.deepEqual(
    missed.map((e) => position(e).ts),
    [...batch1.slice(2), ...batch2].map((f) => iso(f.ts)),
    'every event after the given id, in order, none twice',
  );
  idsIncrease(t, [...seen, ...missed]);
  // and then live again, without repeating anything
  const later = fixes('veh-a2', 1);
  await send('veh-a2', later);
  const next = await resumed.next();
  t.is(position(next).ts, iso(later[0]!.ts));
  t.true(Number(next.id) > Number(missed.at(-1)!.id));

  // resuming from the newest id gives nothing old: the next event is the next fix
  const current = await SseClient.connect(url('/live/positions?vehicle=veh-a2'), {
    ...ADMIN,
    'last-event-id': next.id!,
  });
  t.teardown(() => current.close());
  const newer = fixes('veh-a2', 1);
  await send('veh-a2', newer);
  t.is(position(await current.next()).ts, iso(newer[0]!.ts));
});

test.serial('positions: filters by kind, bbox and firm combine with AND', async (t) => {
  const byKind = await SseClient.connect(url('/live/positions?kind=sanitation'), ADMIN);
  const byBox = await SseClient.connect(url('/live/positions?bbox=117.4,31.9,117.5,32'), ADMIN);
  const byFirm = await SseClient.connect(url('/live/positions?firm=firm-b'), ADMIN);
  const both = await SseClient.connect(url('/live/positions?firm=firm-a&kind=muck_truck'), ADMIN);
  const listed = await SseClient.connect(url('/live/positions?vehicle=veh-b1,veh-a2'), ADMIN);
  t.teardown(() =>
    [byKind, byBox, byFirm, both, listed].forEach((s) => {
      s.close();
    }),
  );

  await send('veh-a1', fixes('veh-a1', 1));
  await send('veh-a2', fixes('veh-a2', 1));
  await send('veh-b1', fixes('veh-b1', 1));
  await send('veh-a1', fixes('veh-a1', 1));

  t.is(position(await byKind.next()).vehicle, 'veh-a2', 'the muck truck before it was filtered out');
  t.is(position(await byBox.next()).vehicle, 'veh-b1');
  t.is(position(await byFirm.next()).vehicle, 'veh-b1');
  t.deepEqual(
    (await both.take(2)).map((e) => position(e).vehicle),
    ['veh-a1', 'veh-a1'],
  );
  t.deepEqual(
    (await listed.take(2)).map((e) => position(e).vehicle),
    ['veh-a2', 'veh-b1'],
  );
});

test.serial('positions: a firm key streams its own units only; no key is a 401', async (t) => {
  const firmA = await createKey(tp, { role: 'firm', firm: 'firm-a' });
  const monitor = await createKey(tp, { role: 'monitor' });
  const own = await SseClient.connect(url('/live/positions'), firmA);
  const all = await SseClient.connect(url('/live/positions'), monitor);
  t.teardown(() =>
    [own, all].forEach((s) => {
      s.close();
    }),
  );

  const b = fixes('veh-b1', 1);
  const a = fixes('veh-a1', 1);
  await send('veh-b1', b);
  await send('veh-a1', a);
  const mine = position(await own.next());
  t.is(mine.vehicle, 'veh-a1', 'firm-b’s fix, published first, never reached the firm-a key');
  t.is(mine.ts, iso(a[0]!.ts));
  t.deepEqual(
    (await all.take(2)).map((e) => position(e).vehicle),
    ['veh-b1', 'veh-a1'],
  );

  const narrow = await createKey(tp, { role: 'monitor', scopes: ['violations:read'] });
  const noScope = await SseClient.open(url('/live/positions'), narrow);
  t.false(noScope instanceof SseClient);
  if (!(noScope instanceof SseClient)) {
    t.is(noScope.status, 403);
    t.regex(noScope.body, /positions:read/);
  }
  const violationsOnly = await SseClient.connect(url('/live/violations'), narrow);
  violationsOnly.close();

  const denied = await SseClient.open(url('/live/positions'));
  t.false(denied instanceof SseClient);
  if (!(denied instanceof SseClient)) {
    t.is(denied.status, 401);
    t.regex(String(denied.headers['content-type']), /^application\/problem\+json/);
  }
});

test.serial('positions and violations: an invalid query is a 400 problem naming the parameter', async (t) => {
  for (const [path, pointer] of [
    ['/live/positions?bbox=1,2,3', '/bbox'],
    ['/live/positions?kind=tractor', '/kind'],
    ['/live/positions?code=TRACK_GAP', '/code'],
    ['/live/violations?code=NOPE', '/code/0'],
  ] as const) {
    const res = await SseClient.open(url(path), ADMIN);
    if (res instanceof SseClient) {
      res.close();
      t.fail(`${path} was accepted`);
      continue;
    }
    t.is(res.status, 400, path);
    const problem = ProblemSchema.parse(JSON.parse(res.body));
    t.deepEqual(
      problem.errors?.map((e) => [e.in, e.pointer]),
      [['querystring', pointer]],
      path,
    );
  }
});

// ---------------------------------------------------------------------------------------------------
// violations

test.serial(
  'violations: engine events stream live, filtered by code, vehicle and the key’s firm',
  async (t) => {
    const firmA = await createKey(tp, { role: 'firm', firm: 'firm-a' });
    const all = await SseClient.connect(url('/live/violations'), ADMIN);
    const gaps = await SseClient.connect(url('/live/violations?code=TRACK_GAP&vehicle=veh-v1'), ADMIN);
    const own = await SseClient.connect(url('/live/violations'), firmA);
    t.teardown(() =>
      [all, gaps, own].forEach((s) => {
        s.close();
      }),
    );

    // veh-v2 (firm-b): a 6 min silence between two fixes is a TRACK_GAP, opened and closed at once
    await send('veh-v2', fixes('veh-v2', 2, {}, 6 * 60_000));
    // veh-v1 (firm-a): loads with no permit (NO_PERMIT, once the load reading has persisted a minute),
    // then drives off and falls silent for 6 min while moving (TRACK_GAP)
    const loading = [
      ...fixes('veh-v1', 1, { load: 'empty', speed: 0 }),
      ...fixes('veh-v1', 1, { load: 'full', speed: 0 }),
    ];
    await send('veh-v1', loading);
    await send('veh-v1', fixes('veh-v1', 2, { load: 'full', speed: 20 }, 6 * 60_000));

    const events: SseEvent[] = [];
    const has = (vehicle: string, code: string, phase: string) =>
      events.some((e) => {
        const d = JSON.parse(e.data);
        return d.violation.vehicle === vehicle && d.violation.code === code && d.phase === phase;
      });
    while (!has('veh-v1', 'TRACK_GAP', 'closed')) events.push(await all.next());
    t.true(events.every((e) => e.event === 'violation'));
    idsIncrease(t, events);
    for (const e of events) {
      const d = JSON.parse(e.data);
      t.true(['opened', 'updated', 'closed'].includes(d.phase));
      t.is(typeof d.violation.id, 'string');
      t.is(typeof d.violation.startTs, 'number');
      t.is(d.violation.lastPos.length, 2);
    }
    t.true(has('veh-v2', 'TRACK_GAP', 'opened'));
    t.true(has('veh-v1', 'NO_PERMIT', 'opened'), 'loading without a permit');

    // code + vehicle: veh-v2's gap and veh-v1's NO_PERMIT came first and were filtered out
    const gap = JSON.parse((await gaps.next()).data);
    t.is(gap.violation.vehicle, 'veh-v1');
    t.is(gap.violation.code, 'TRACK_GAP');
    t.is(gap.phase, 'opened');
    // the firm-a key: veh-v2 (firm-b) came first and was filtered out
    const first = JSON.parse((await own.next()).data);
    t.is(first.violation.vehicle, 'veh-v1');
    t.is(first.violation.firm, 'firm-a');
    t.is(first.violation.code, 'NO_PERMIT');

    // resuming a filtered stream replays the missed events that match its filter, and no others
    const allIds = events.map((e) => e.id);
    const resumed = await SseClient.connect(url('/live/violations?code=TRACK_GAP'), {
      ...ADMIN,
      'last-event-id': allIds[0]!,
    });
    t.teardown(() => resumed.close());
    const replay = await resumed.take(3);
    t.deepEqual(
      replay.map((e) => e.id),
      events
        .filter((e, i) => i > 0 && JSON.parse(e.data).violation.code === 'TRACK_GAP')
        .map((e) => e.id)
        .slice(0, 3),
      'a replay applies the filter too',
    );
  },
);

// ---------------------------------------------------------------------------------------------------
// reset and slow clients: platforms of their own, with small limits

test.serial(
  'reset: an id older than the replay window gets `reset`, then every retained event',
  async (t) => {
    const small = await startTestPlatform({ LIVE_MAX_EVENTS: '4' });
    t.teardown(() => small.stop());
    const unit: FleetUnit = {
      unit: 'veh-r1',
      device: 'dev-r1',
      secret: 'secret-r1',
      kind: 'muck_truck',
      firm: 'firm-r',
    };
    await registerFleet(small, [unit]);
    const device = await TestDevice.connect(small, unit);
    t.teardown(() => device.close());
    const t0 = Date.now() - 3_600_000;
    const fix = (i: number) => ({ ts: t0 + i * 10_000, lat: 31.8, lon: 117.2, speed: i });
    const streamUrl = `${small.httpUrl}/api/v1/live/positions`;

    const first = await SseClient.connect(streamUrl, ADMIN);
    await device.send([0, 1].map(fix));
    const seen = await first.take(2);
    first.close();
    await device.send([2, 3, 4, 5, 6, 7].map(fix));

    // 8 events so far; the ring keeps the last 4 (ids of fixes 4..7): those after fix 0 are partly lost
    const resumed = await SseClient.connect(streamUrl, { ...ADMIN, 'last-event-id': seen[0]!.id! });
    t.teardown(() => resumed.close());
    const reset = await resumed.next();
    t.is(reset.event, 'reset');
    t.is(reset.id, undefined, 'a reset has no id: the client’s Last-Event-ID stays its last real event');
    const info = JSON.parse(reset.data);
    t.is(info.reason, 'events-lost');
    t.is(info.oldestRetainedId, Number(seen[0]!.id) + 4);
    const retained = await resumed.take(4);
    t.deepEqual(
      retained.map((e) => position(e).speed),
      [4, 5, 6, 7],
    );
    t.is(retained[0]!.id, String(info.oldestRetainedId));

    // an id that is not a number, or that this server never issued (a restart, a typo), is a reset too
    for (const [id, reason] of [
      ['abc', 'unknown-event-id'],
      [String(Number(retained.at(-1)!.id) + 1000), 'events-lost'],
    ] as const) {
      const s = await SseClient.connect(streamUrl, { ...ADMIN, 'last-event-id': id });
      const e = await s.next();
      s.close();
      t.is(e.event, 'reset', id);
      t.is(JSON.parse(e.data).reason, reason, id);
    }
    // the id of the newest event is no reset: nothing was missed
    const upToDate = await SseClient.connect(streamUrl, { ...ADMIN, 'last-event-id': retained.at(-1)!.id! });
    t.teardown(() => upToDate.close());
    await device.send([fix(8)]);
    const next = await upToDate.next();
    t.is(next.event, 'position');
    t.is(position(next).speed, 8);
  },
);

test.serial(
  'slow client: dropped with a reason once it falls behind; it resumes without a gap',
  async (t) => {
    const slow = await startTestPlatform({
      LIVE_CLIENT_BUFFER_BYTES: '1024',
      LIVE_CLIENT_MAX_LAG: '100',
      LIVE_MAX_EVENTS: '200000',
    });
    t.teardown(() => slow.stop());
    const unit: FleetUnit = {
      unit: 'veh-s1',
      device: 'dev-s1',
      secret: 'secret-s1',
      kind: 'muck_truck',
      firm: 'firm-s',
    };
    await registerFleet(slow, [unit]);
    const device = await TestDevice.connect(slow, unit);
    t.teardown(() => device.close());
    const streamUrl = `${slow.httpUrl}/api/v1/live/positions?vehicle=veh-s1`;

    const client = await SseClient.connect(streamUrl, ADMIN);
    t.teardown(() => client.close());
    client.pause();
    // Publish until the server gives up on the client: the socket buffers fill first, then the stream's
    // own buffer, then the client falls behind by more than LIVE_CLIENT_MAX_LAG events.
    const t0 = Date.now() - 23 * 3_600_000;
    const sent: number[] = [];
    for (let batch = 0; batch < 60 && slow.platform.live.stats().positions.dropped === 0; batch++) {
      const fixesOfBatch = Array.from({ length: 1000 }, (_, i) => {
        const ts = t0 + (batch * 1000 + i) * 1000;
        sent.push(ts);
        return { ts, lat: 31.8, lon: 117.2, speed: 30, load: 'full' };
      });
      await device.send(fixesOfBatch);
    }
    t.is(slow.platform.live.stats().positions.dropped, 1, 'the paused client was dropped');
    t.is(slow.platform.live.stats().positions.subscribers, 0);
    // ingest went on while the client was stuck: the last fix was accepted and is in the ring
    t.is(slow.platform.live.stats().positions.retained, sent.length);

    client.resume();
    await client.closed();
    const last = client.events.at(-1)!;
    t.is(last.event, 'dropped');
    const why = JSON.parse(last.data);
    t.is(why.reason, 'slow-consumer');
    t.regex(why.detail, /behind/);
    const delivered = client.events.slice(0, -1);
    t.log(`dropped after ${sent.length} fixes published, ${delivered.length} delivered`);
    t.true(delivered.length > 0);
    t.true(delivered.length < sent.length);
    t.deepEqual(
      delivered.map((e) => position(e).ts),
      sent.slice(0, delivered.length).map(iso),
      'what it got before the drop is a gapless prefix',
    );
    t.is(String(why.lastEventId), client.lastEventId ?? '');

    // reconnecting with its last id, it gets the rest: every fix exactly once across both connections
    const again = await SseClient.connect(streamUrl, { ...ADMIN, 'last-event-id': client.lastEventId! });
    t.teardown(() => again.close());
    const rest = await again.take(sent.length - delivered.length);
    t.deepEqual(
      [...delivered, ...rest].map((e) => position(e).ts),
      sent.map(iso),
    );
    idsIncrease(t, [...delivered, ...rest]);
  },
);

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

const meta = (over: Partial<EventMeta> = {}): EventMeta => ({
  firm: 'firm-a',
  vehicle: 'veh-1',
  kind: 'muck_truck',
  lon: 117.2,
  lat: 31.8,
  ...over,
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

/** Reads everything a PassThrough holds, as text. */
function drain(stream: PassThrough): string {
  let out = '';
  for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) out += chunk.toString();
  return out;
}

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
