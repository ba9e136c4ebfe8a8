/**
 * Live streams (Server-Sent Events) against the running platform over real sockets: fixes published over
 * MQTT come out of GET /api/v1/live/positions, violations of the compliance engine out of
 * /api/v1/live/violations; resuming with Last-Event-ID, reset, filters, tenancy and slow clients.
 * Negative filter checks use fences: a matching event published after the non-matching ones must be the
 * next event received, so nothing is asserted by waiting.
 *
 * The last part tests the pure pieces (ring, channel over a real PassThrough, filter) without sockets.
 */
import test from 'ava';
import { ProblemSchema } from '../../api/schemas.ts';
import { fixes, idsIncrease, iso, position, send, setUp, tp, url } from '../support/api/live.ts';
import { ADMIN, createKey, type FleetUnit, registerFleet, TestDevice } from '../support/live-fleet.ts';
import { startTestPlatform } from '../support/platform.ts';
import { SseClient, type SseEvent } from '../support/sse.ts';

setUp();

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
