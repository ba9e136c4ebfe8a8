/**
 * The admission queue in front of ingest (ingest/backpressure.ts): the fill of the spool against its
 * limits, the delay it gives a message, and the order in which waiting messages go on. The queue runs on
 * an injected clock and fill; its timers only poll (a verdict never depends on how fast they fire).
 */
import test from 'ava';
import {
  admissionDelayMs,
  Backpressure,
  MAX_DELAY_MS,
  SLOW_AT,
  spoolPressure,
} from '../../ingest/backpressure.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';

const MiB = 1024 * 1024;
const limits = { maxBytes: 100 * MiB, maxAgeMs: 600_000, minFreeBytes: 256 * MiB };
const NOW = Date.UTC(2026, 0, 1);

test('fill: the larger of bytes over the limit and age over the age limit; the free-space floor is full', (t) => {
  const at = (bytes: number, ageMs?: number, freeBytes = 10_000 * MiB) =>
    spoolPressure(
      { bytes, oldestAppendedAt: ageMs === undefined ? undefined : NOW - ageMs, freeBytes },
      limits,
      NOW,
    );
  t.deepEqual(at(0), { fill: 0 });
  t.deepEqual(at(50 * MiB, 60_000), { fill: 0.5 }, 'below 80 %: no reason given');
  const bytes = at(90 * MiB, 60_000);
  t.is(bytes.fill, 0.9);
  t.regex(bytes.reason ?? '', /90\.0 MiB of its 100\.0 MiB \(SPOOL_MAX_BYTES\)/);
  const age = at(10 * MiB, 570_000);
  t.is(age.fill, 0.95);
  t.regex(age.reason ?? '', /570 s of at most 600 \(SPOOL_MAX_AGE_S\)/);
  const floor = at(1 * MiB, undefined, 200 * MiB);
  t.is(floor.fill, 1);
  t.regex(floor.reason ?? '', /SPOOL_MIN_FREE_BYTES/);
  t.is(at(120 * MiB).fill, 1.2);
  // no age limit: age does not count; an unknown free space is no floor
  t.is(
    spoolPressure(
      { bytes: 0, oldestAppendedAt: NOW - 1e9, freeBytes: undefined },
      { ...limits, maxAgeMs: 0 },
      NOW,
    ).fill,
    0,
  );
});

test('delay: none below 80 %, growing to MAX_DELAY_MS towards the limit, held at it', (t) => {
  t.is(admissionDelayMs(0), 0);
  t.is(admissionDelayMs(SLOW_AT - 0.001), 0);
  t.is(admissionDelayMs(SLOW_AT), 0);
  t.is(admissionDelayMs(0.9), MAX_DELAY_MS / 2);
  t.true(admissionDelayMs(0.999) < MAX_DELAY_MS);
  t.is(admissionDelayMs(1), Number.POSITIVE_INFINITY);
});

test('below the slow-down level a message goes on at once, without a promise', (t) => {
  const bp = new Backpressure(() => ({ fill: 0.5 }));
  t.is(bp.admit(), undefined);
  t.deepEqual(bp.stats(), { fill: 0.5, waiting: 0, slowed: 0, held: 0 });
});

test('at the limit messages wait, in arrival order, until room is made; later ones never overtake', async (t) => {
  let fill = 1;
  const bp = new Backpressure(() => ({ fill, reason: 'test' }));
  const order: number[] = [];
  const waits = [0, 1, 2].map((i) => bp.admit()?.then(() => order.push(i)));
  t.true(
    waits.every((w) => w !== undefined),
    'every message waits',
  );
  t.is(bp.stats().waiting, 3);
  t.is(bp.stats().held, 3);
  // the negative ("none went on while full"), confirmed once the queue has been evaluated: poke() sets
  // a 0 ms timer for the release, and a 0 ms timer set after it fires after it
  bp.poke();
  await new Promise((r) => setTimeout(r, 0));
  t.deepEqual(order, []);
  // room: a message arriving now queues behind the waiting ones even though it could go on at once
  fill = 0.5;
  const late = bp.admit();
  t.not(late, undefined, 'no overtaking while others wait');
  void late?.then(() => order.push(3));
  bp.poke();
  await Promise.all([...waits, late]);
  t.deepEqual(order, [0, 1, 2, 3]);
  t.is(bp.stats().waiting, 0);
  t.is(bp.admit(), undefined, 'an empty queue below the level: at once again');
});

test('between 80 % and the limit messages are delayed, in order, by the clock', async (t) => {
  let clock = 1000;
  const bp = new Backpressure(
    () => ({ fill: 0.9 }),
    () => clock,
  );
  const done: number[] = [];
  const a = bp.admit();
  const b = bp.admit();
  t.not(a, undefined);
  void a?.then(() => done.push(1));
  void b?.then(() => done.push(2));
  t.is(bp.stats().slowed, 2);
  bp.poke();
  await new Promise((r) => setTimeout(r, 0)); // after the release that poke() scheduled
  t.deepEqual(done, [], 'not before their release time on the injected clock');
  clock += MAX_DELAY_MS / 2; // the delay at 90 %
  bp.poke();
  await Promise.all([a, b]);
  t.deepEqual(done, [1, 2]);
});

test('close() rejects the waiting messages and every later one (not acknowledged: they come again)', async (t) => {
  const bp = new Backpressure(() => ({ fill: 1 }));
  const waiting = bp.admit();
  bp.close(new Error('platform stopping'));
  await t.throwsAsync(waiting as Promise<void>, { message: 'platform stopping' });
  await t.throwsAsync(bp.admit() as Promise<void>, { message: 'platform stopping' });
});

test('settings: SPOOL_MAX_BYTES, SPOOL_MAX_AGE_S, SPOOL_MIN_FREE_BYTES validated with the variable named', (t) => {
  const env = loadConfig({}).env;
  t.is(env.SPOOL_MAX_BYTES, 4 * 1024 ** 3);
  t.is(env.SPOOL_MAX_AGE_S, 0, 'no age limit unless set');
  t.is(env.SPOOL_MIN_FREE_BYTES, 256 * 1024 ** 2);
  t.like(loadConfig({ SPOOL_MAX_BYTES: '1048576', MAX_PAYLOAD_BYTES: '4096', SPOOL_MAX_AGE_S: '600' }).env, {
    SPOOL_MAX_BYTES: 1048576,
    SPOOL_MAX_AGE_S: 600,
  });
  const small = t.throws(() => loadConfig({ SPOOL_MAX_BYTES: '1048576' }), { instanceOf: ConfigError });
  t.regex(
    small?.message ?? '',
    /SPOOL_MAX_BYTES: must be at least 64 x MAX_PAYLOAD_BYTES \(16777216 with MAX_PAYLOAD_BYTES 262144\)/,
  );
  const bad = t.throws(() => loadConfig({ SPOOL_MAX_AGE_S: '-1', SPOOL_MIN_FREE_BYTES: 'lots' }), {
    instanceOf: ConfigError,
  });
  t.regex(bad?.message ?? '', /SPOOL_MAX_AGE_S/);
  t.regex(bad?.message ?? '', /SPOOL_MIN_FREE_BYTES/);
});

test('messages delayed on arrival that meet a full spool while they wait are counted as held', async (t) => {
  let fill = 0.9;
  const bp = new Backpressure(() => ({ fill }));
  const waits = [bp.admit(), bp.admit()];
  t.is(bp.stats().slowed, 2);
  t.is(bp.stats().held, 0);
  fill = 1;
  bp.poke();
  await new Promise((r) => setTimeout(r, 0)); // after the release that poke() scheduled
  t.is(bp.stats().held, 2, 'both waited at a full spool');
  bp.poke();
  await new Promise((r) => setTimeout(r, 0));
  t.is(bp.stats().held, 2, 'each counted once');
  fill = 0.5;
  bp.poke();
  await Promise.all(waits);
  t.is(bp.stats().waiting, 0);
});
