/**
 * COMPLIANCE_CLOCK (compliance/clock.ts): silence (OFFLINE) judged by the wall clock, or, for
 * simulations and replays, by the fleet's own time read from its fixes. The clock alone (pure, with an
 * injected wall clock), the setting's validation, and the real platform judging a replayed fleet two
 * hours in the past both ways: over MQTT with device credentials, fixes through ingest and the engine.
 */
import test from 'ava';
import { createComplianceClock, MAX_LAG_COMPENSATION_MS } from '../../compliance/clock.ts';
import type { Fix } from '../../core/fix.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { telemetryTopic } from '../../ingest/payload.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { connectClient, endClient, eventually, publishQos1, startTestPlatform } from '../support/platform.ts';

const fix = (ts: number, device = 'dev-1') => ({ ts, device }) as Fix;

test("fleet clock: a device's newest fix accepted plus the wall time since, scaled; no time before the first fix", (t) => {
  let wall = 1_000_000;
  const clock = createComplianceClock('fleet', { speedup: 60, wallNow: () => wall });
  t.true(Number.isNaN(clock.now()));
  clock.observe([fix(5000), fix(9000), fix(7000)]);
  t.is(clock.now(), 9000);
  wall += 100;
  t.is(clock.now(), 9000 + 6000); // 100 ms of wall at 60x
  // an older fix (backfill, out of order) does not move it; a newer one re-anchors it
  clock.observe([fix(8000)]);
  t.is(clock.now(), 15_000);
  clock.observe([fix(20_000)]);
  t.is(clock.now(), 20_000);
  t.is(createComplianceClock('fleet', { wallNow: () => wall }).mode, 'fleet');
  t.throws(() => createComplianceClock('fleet', { speedup: 0 }));
});

test('fleet clock never runs ahead of the wall clock (a sped-up demo that caught up with the present)', (t) => {
  let wall = 1_000_000;
  const clock = createComplianceClock('fleet', { speedup: 20, wallNow: () => wall });
  clock.observe([fix(wall - 10)]);
  wall += 100; // 100 ms at 20x would be 2 s ahead of the newest fix, past the present
  t.is(clock.now(), wall);
  clock.observe([fix(wall - 5000)]); // older than the newest: no change
  t.is(clock.now(), wall);
});

test('fleet clock: one device whose clock runs 90 s ahead does not move the fleet time (issue 17)', (t) => {
  const T = 1_800_000_000_000;
  let wall = T + 3_600_000; // a replay of an hour ago
  const clock = createComplianceClock('fleet', { speedup: 120, wallNow: () => wall });
  // 15 trucks every 10 s, one of them (dev-skew) stamping its fixes 90 s ahead
  for (let s = 0; s <= 60; s += 10) {
    const fixes = Array.from({ length: 14 }, (_, i) => fix(T + s * 1000 + i * 100, `dev-${i}`));
    fixes.push(fix(T + s * 1000 + 90_000, 'dev-skew'));
    clock.observe(fixes);
    const now = clock.now();
    wall += 10_000 / 120; // a 120x replay
    // the bulk of the fleet: within the spread of the 14 honest clocks, never 90 s ahead
    t.true(
      now >= T + s * 1000 && now <= T + s * 1000 + 2_000,
      `at +${s} s the fleet time is +${now - T - s * 1000} ms`,
    );
  }
  // the newest timestamp of any device would have been 90 s ahead: every truck with a shorter allowance
  // (30 s at 10 s reports) would have looked silent
});

test('fleet clock: devices not heard from recently (asleep) drop out; a fleet-wide silence still runs on', (t) => {
  const T = 1_800_000_000_000;
  let wall = T + 86_400_000; // a replay of yesterday, sped up 60x
  const clock = createComplianceClock('fleet', { speedup: 60, wallNow: () => wall });
  // three trucks park and fall silent at T; two go on reporting for a minute of wall time
  clock.observe([fix(T, 'a'), fix(T, 'b'), fix(T, 'c'), fix(T, 'd'), fix(T, 'e')]);
  for (let w = 1; w <= 60; w++) {
    wall += 1000;
    clock.observe([fix(T + w * 60_000, 'd'), fix(T + w * 60_000, 'e')]);
  }
  // a, b and c (silent since 60 s of wall) no longer count: the fleet's time is d's and e's
  t.is(clock.now(), T + 60 * 60_000);
  // then nobody reports: the time runs on at the speed-up from the last value
  wall += 30_000;
  t.is(clock.now(), T + 60 * 60_000 + 30 * 60_000);
});

test('wall clock: the machine time, held back by the intake lag (median, capped, only while fresh)', (t) => {
  let wall = 1_000_000;
  const clock = createComplianceClock('wall', { wallNow: () => wall });
  t.is(clock.now(), wall, 'no fixes: the machine time');
  const at = (ts: number, late = false) => ({ ts, received: wall, late }) as Fix;
  // a device clock ahead of the platform does not move it forward
  clock.observe([at(wall + 5000)]);
  t.is(clock.now(), wall);
  // the intake 20 s behind (fixes waited in the platform's queues): silence is judged 20 s back
  clock.observe(Array.from({ length: 600 }, () => at(wall - 20_000)));
  t.is(clock.now(), wall - 20_000);
  // a few devices' stored backlogs (late) and a handful of old fixes do not move the median
  clock.observe([at(wall - 3_600_000, true), at(wall - 3_600_000, true), at(wall - 90_000)]);
  t.is(clock.now(), wall - 20_000);
  // hours behind (a fleet with wrong clocks) is held back by at most a minute
  clock.observe(Array.from({ length: 600 }, () => at(wall - 7_200_000)));
  t.is(clock.now(), wall - MAX_LAG_COMPENSATION_MS);
  // nothing accepted for over 10 s: the lag says nothing about now, a fleet-wide silence is judged as one
  wall += 10_001;
  t.is(clock.now(), wall);
});

test('COMPLIANCE_CLOCK and COMPLIANCE_CLOCK_SPEEDUP: defaults, and bad values named', (t) => {
  const env = loadConfig({}).env;
  t.is(env.COMPLIANCE_CLOCK, 'wall');
  t.is(env.COMPLIANCE_CLOCK_SPEEDUP, 1);
  t.like(loadConfig({ COMPLIANCE_CLOCK: 'fleet', COMPLIANCE_CLOCK_SPEEDUP: '60' }).env, {
    COMPLIANCE_CLOCK: 'fleet',
    COMPLIANCE_CLOCK_SPEEDUP: 60,
  });
  const bad = t.throws(() => loadConfig({ COMPLIANCE_CLOCK: 'sim', COMPLIANCE_CLOCK_SPEEDUP: '0' }), {
    instanceOf: ConfigError,
  });
  t.regex(bad?.message ?? '', /COMPLIANCE_CLOCK: .*"sim"/);
  t.regex(bad?.message ?? '', /COMPLIANCE_CLOCK_SPEEDUP: /);
});

/**
 * Two trucks replay fixes from two hours ago (ignition on, nominal interval 10 s: OFFLINE after
 * max(30 s, 10 min) of silence). Truck A reports every minute of its time for 12 minutes; truck B once,
 * at the start.
 */
async function replay(clock: 'wall' | 'fleet') {
  const tp = await startTestPlatform({ COMPLIANCE_CLOCK: clock });
  const reg = tp.platform.registry;
  reg.upsertFirm({ id: 'firm-r', name: 'Replay Co.' });
  const secret = 'replay-secret-0123456789';
  for (const x of ['a', 'b']) {
    reg.upsertVehicle({ id: `veh-${x}`, plate: `皖A·R000${x}`, kind: 'muck_truck', firm: 'firm-r' });
    await reg.putDevice({
      id: `dev-${x}`,
      secret,
      kind: 'muck_truck',
      vehicle: `veh-${x}`,
      firm: 'firm-r',
      reportIntervalS: 10,
    });
  }
  tp.platform.complianceService.recompile();
  const offline: ViolationEvent[] = [];
  tp.platform.complianceService.bus.on('violation', (e: ViolationEvent) => {
    if (e.violation.code === 'OFFLINE' && e.phase === 'opened') offline.push(e);
  });
  const t0 = Date.now() - 2 * 3_600_000;
  const send = async (x: 'a' | 'b', ts: number) => {
    const c = await connectClient(tp.mqttUrl, {
      clientId: `dev-${x}`,
      username: `dev-${x}`,
      password: secret,
    });
    await publishQos1(
      c,
      telemetryTopic(`dev-${x}`),
      JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 0, ign: true }),
    );
    await endClient(c);
  };
  await send('b', t0);
  for (let s = 0; s <= 720; s += 60) await send('a', t0 + s * 1000);
  return { tp, offline, t0 };
}

test.serial(
  'COMPLIANCE_CLOCK=fleet on the platform: the truck the fleet left behind is OFFLINE, the reporting one is not',
  async (t) => {
    const { tp, offline, t0 } = await replay('fleet');
    t.teardown(() => tp.stop());
    // the fleet's time passed B's last fix + 10 min when A's fix at +11 min was accepted
    await eventually(() => (offline.length > 0 ? true : undefined), 'OFFLINE of truck B');
    t.deepEqual(
      offline.map((e) => [e.violation.vehicle, e.violation.startTs]),
      [['veh-b', t0 + 600_000]],
    );
    const now = tp.platform.complianceService.clockNow();
    t.true(
      now >= t0 + 720_000 && now < t0 + 750_000,
      `the clock follows the fixes: ${now - t0} ms after the first`,
    );
  },
);

test.serial('COMPLIANCE_CLOCK=wall (the default) on the same replay: both trucks look silent', async (t) => {
  const { tp, offline } = await replay('wall');
  t.teardown(() => tp.stop());
  // (the replayed fixes are two hours old: for the 10 s they stay the latest, the intake looks a minute
  // behind and silence is judged a minute back; then by the wall clock)
  await eventually(() => (offline.length >= 2 ? true : undefined), 'OFFLINE of both trucks', 40_000);
  t.deepEqual(offline.map((e) => e.violation.vehicle).sort(), ['veh-a', 'veh-b']);
});

test('wall clock: behind its own queues only when the lag past a minute is seen on many devices', (t) => {
  const wall = 5_000_000;
  const clock = createComplianceClock('wall', { wallNow: () => wall });
  const at = (device: string, lagMs: number) =>
    ({ device, ts: wall - lagMs, received: wall, late: false }) as Fix;
  t.is(clock.behindSince(), undefined, 'no fixes: not behind');
  // one device sending its 20-minute backlog in order (no live fix first): the device's age, not ours
  clock.observe(Array.from({ length: 100 }, () => at('dev-backlog', 20 * 60_000)));
  t.is(clock.behindSince(), undefined);
  // ninety seconds behind on a dozen devices: the platform is behind from the fixes it has not seen
  clock.observe(Array.from({ length: 200 }, (_, i) => at(`dev-${i % 12}`, 90_000)));
  t.is(clock.behindSince(), wall - 90_000);
  t.is(clock.now(), wall - MAX_LAG_COMPENSATION_MS, 'the clock itself holds back a minute at most');
  // caught up
  clock.observe(Array.from({ length: 512 }, (_, i) => at(`dev-${i % 12}`, 200)));
  t.is(clock.behindSince(), undefined);
  t.is(
    createComplianceClock('fleet', { wallNow: () => wall }).behindSince(),
    undefined,
    'never for the fleet clock',
  );
});

test('BACKFILL_HISTORY_HOURS: unset by default (the whole MAX_FIX_AGE_DAYS), bad values named', (t) => {
  t.is(loadConfig({}).env.BACKFILL_HISTORY_HOURS, undefined);
  t.is(loadConfig({ BACKFILL_HISTORY_HOURS: '24' }).env.BACKFILL_HISTORY_HOURS, 24);
  const bad = t.throws(() => loadConfig({ BACKFILL_HISTORY_HOURS: '0' }), { instanceOf: ConfigError });
  t.regex(bad?.message ?? '', /BACKFILL_HISTORY_HOURS: /);
});
