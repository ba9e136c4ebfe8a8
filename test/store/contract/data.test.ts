/**
 * The FixStore contract (store/port.ts), what is written is what is read: every kind and every optional
 * field round-trips, rewrites and late fixes keep the right latest, the filters and track ranges, awkward
 * text and injection-like ids, a large batch. Each case runs against every adapter
 * (test/support/store/fix-contract.ts: embedded, influxdb-v1); durability is in durability.test.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import {
  cameraFix,
  eachFixStore,
  everythingFix,
  minimalFix,
  muckFix,
  OPTIONAL_KEYS,
  sanitationFix,
  sorted,
  T0,
} from '../../support/store/fix-contract.ts';

eachFixStore(({ name, h, title }) => {
  test(title('round trip of all three kinds with all optional fields is deep-equal'), async (t) => {
    const store = await h().fresh();
    t.is(store.name, name);
    const fixes = [
      muckFix({ vehicle: 'truck-1', ts: T0 }),
      sanitationFix({ vehicle: 'sweeper-1', ts: T0 + 1 }),
      cameraFix({ vehicle: 'cam-1', ts: T0 + 2 }),
      everythingFix({ vehicle: 'all-1', ts: T0 + 3 }),
    ];
    const all = fixes.find((f) => f.vehicle === 'all-1')!;
    for (const key of OPTIONAL_KEYS) t.not(all[key], undefined, `fixture lacks ${key}`);
    await store.writeFixes(fixes);
    for (const fix of fixes) {
      t.deepEqual(await store.latestOf(fix.vehicle), fix);
      t.deepEqual(await store.track({ vehicle: fix.vehicle, from: fix.ts, to: fix.ts }), [fix]);
    }
    t.deepEqual(sorted(await store.latest()), sorted(fixes));
  });

  test(title('absent optional fields stay absent (no undefined or null keys)'), async (t) => {
    const store = await h().fresh();
    const fix = minimalFix({ vehicle: 'bare-1', ts: T0 });
    await store.writeFixes([fix]);
    const reads = [
      await store.latestOf('bare-1'),
      ...(await store.latest()),
      ...(await store.track({ vehicle: 'bare-1', from: T0, to: T0 })),
    ];
    t.is(reads.length, 3);
    for (const got of reads) {
      t.deepEqual(got, fix);
      t.deepEqual(Object.keys(got!).sort(), Object.keys(fix).sort());
      for (const key of OPTIONAL_KEYS) t.false(key in got!, `${key} should be absent`);
    }
  });

  test(title('rewriting the same (vehicle, ts) keeps one fix and the later write wins'), async (t) => {
    const store = await h().fresh();
    const batch = [0, 1, 2].map((i) => muckFix({ vehicle: 'rw-1', ts: T0 + i * 10_000 }));
    await store.writeFixes(batch);
    await store.writeFixes(batch); // a spool retry of the same batch
    t.is(await store.count('rw-1', T0, T0 + 20_000), 3);
    t.deepEqual(await store.track({ vehicle: 'rw-1', from: T0, to: T0 + 20_000 }), batch);

    // A different version of the middle and newest fix, with optional fields dropped and added.
    const { speed: _s, cover: _c, ...middleRest } = batch[1]!;
    const middle: Fix = { ...middleRest, weight: 0, load: 'empty', received: T0 + 99_000 };
    const { speed: _s2, ...newestRest } = batch[2]!;
    const newest: Fix = { ...newestRest, lat: 30.5, officer: 'X' };
    await store.writeFixes([middle, newest]);
    t.is(await store.count('rw-1', T0, T0 + 20_000), 3);
    t.deepEqual(await store.track({ vehicle: 'rw-1', from: T0, to: T0 + 20_000 }), [
      batch[0]!,
      middle,
      newest,
    ]);
    t.deepEqual(await store.latestOf('rw-1'), newest);
    t.deepEqual(await store.latest(), [newest]);

    // Duplicates inside one batch: the later one wins.
    const first = muckFix({ vehicle: 'rw-2', ts: T0, speed: 1 });
    const second = cameraFix({ vehicle: 'rw-2', ts: T0, kind: 'muck_truck', firm: 'firm-a', speed: 2 });
    await store.writeFixes([first, second]);
    t.is(await store.count('rw-2', T0, T0), 1);
    t.deepEqual(await store.latestOf('rw-2'), second);
  });

  test(title('latest stays the newest fix when an older one arrives later'), async (t) => {
    const store = await h().fresh();
    const newer = muckFix({ vehicle: 'ooo-1', ts: T0 + 20_000, speed: 20 });
    const older = muckFix({ vehicle: 'ooo-1', ts: T0 + 10_000, speed: 10, late: true });
    const other = sanitationFix({ vehicle: 'ooo-2', ts: T0 + 5_000 });
    await store.writeFixes([newer]);
    await store.writeFixes([older, other]); // blind-area backfill
    t.deepEqual(await store.latestOf('ooo-1'), newer);
    t.deepEqual(sorted(await store.latest()), sorted([newer, other]));
    t.deepEqual(await store.track({ vehicle: 'ooo-1', from: T0, to: T0 + 60_000 }), [older, newer]);
    // and an even older one inside the same batch as a newer one
    const newest = muckFix({ vehicle: 'ooo-1', ts: T0 + 30_000 });
    const oldest = muckFix({ vehicle: 'ooo-1', ts: T0 - 30_000 });
    await store.writeFixes([newest, oldest]);
    t.deepEqual(await store.latestOf('ooo-1'), newest);
    t.is(await store.latestOf('nobody'), undefined);
  });

  test(title('latest filters by firm, kind and vehicle list'), async (t) => {
    const store = await h().fresh();
    const a1 = muckFix({ vehicle: 'a-truck-1', ts: T0, firm: 'firm-a' });
    const a2 = muckFix({ vehicle: 'a-truck-2', ts: T0 + 1, firm: 'firm-a' });
    const aSweep = sanitationFix({ vehicle: 'a-sweeper', ts: T0 + 2, firm: 'firm-a' });
    const b1 = muckFix({ vehicle: 'b-truck-1', ts: T0 + 3, firm: 'firm-b' });
    const cam = cameraFix({ vehicle: 'cam-9', ts: T0 + 4, firm: 'firm-b' });
    // older fixes that must not show up as "latest"
    const stale = [a1, a2, aSweep, b1, cam].map((f) => ({ ...f, ts: f.ts - 60_000, speed: 99 }));
    await store.writeFixes([...stale, a1, a2, aSweep, b1, cam]);

    t.deepEqual(sorted(await store.latest({ firm: 'firm-a' })), sorted([a1, a2, aSweep]));
    t.deepEqual(sorted(await store.latest({ kind: 'muck_truck' })), sorted([a1, a2, b1]));
    t.deepEqual(await store.latest({ kind: 'body_camera' }), [cam]);
    t.deepEqual(sorted(await store.latest({ firm: 'firm-b', kind: 'muck_truck' })), [b1]);
    t.deepEqual(sorted(await store.latest({ vehicles: ['a-truck-2', 'cam-9', 'ghost'] })), sorted([a2, cam]));
    t.deepEqual(await store.latest({ vehicles: ['a-truck-2', 'cam-9'], firm: 'firm-a' }), [a2]);
    t.deepEqual(await store.latest({ vehicles: [] }), []);
    t.deepEqual(await store.latest({ firm: 'firm-zzz' }), []);
    t.deepEqual(await store.latest({ firm: 'firm' }), [], 'firm filter is exact, not a prefix');
    t.deepEqual(sorted(await store.latest({})), sorted([a1, a2, aSweep, b1, cam]));
  });

  test(title('track: inclusive range, oldest first, only that vehicle; limit; count'), async (t) => {
    const store = await h().fresh();
    const mine = Array.from({ length: 10 }, (_, i) =>
      muckFix({ vehicle: 'V1', ts: T0 + i * 1_000, speed: i }),
    );
    // neighbours with similar ids and the same instants
    const others = [
      ...mine.map((f) => ({ ...f, vehicle: 'V10' })),
      ...mine.map((f) => ({ ...f, vehicle: 'v1' })),
      ...mine.map((f) => ({ ...f, vehicle: 'V' })),
    ];
    const shuffled = [...mine].reverse();
    [shuffled[2], shuffled[7]] = [shuffled[7]!, shuffled[2]!];
    await store.writeFixes([...others, ...shuffled]);

    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 2_000, to: T0 + 5_000 }), mine.slice(2, 6));
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 3_000, to: T0 + 3_000 }), [mine[3]!]);
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 2_001, to: T0 + 4_999 }), mine.slice(3, 5));
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 - 1e9, to: T0 + 1e9 }), mine);
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 5_000, to: T0 + 2_000 }), []);
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 20_000, to: T0 + 30_000 }), []);
    t.deepEqual(await store.track({ vehicle: 'nobody', from: T0, to: T0 + 10_000 }), []);

    t.deepEqual(await store.track({ vehicle: 'V1', from: T0, to: T0 + 9_000, limit: 3 }), mine.slice(0, 3));
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0 + 4_000, to: T0 + 9_000, limit: 1 }), [mine[4]!]);
    t.deepEqual(await store.track({ vehicle: 'V1', from: T0, to: T0 + 9_000, limit: 100 }), mine);

    t.is(await store.count('V1', T0, T0 + 9_000), 10);
    t.is(await store.count('V1', T0 + 2_000, T0 + 5_000), 4);
    t.is(await store.count('V1', T0 + 2_001, T0 + 2_999), 0);
    t.is(await store.count('V1', T0 + 9_000, T0 + 9_000), 1);
    t.is(await store.count('V10', T0, T0 + 9_000), 10);
    t.is(await store.count('nobody', T0, T0 + 9_000), 0);
  });

  test(title('quotes, commas, spaces, equals, backslashes and Chinese survive'), async (t) => {
    const store = await h().fresh();
    const firm = '合肥市 "渣土" 运输,有限=公司 a\\b';
    const fixes = [
      muckFix({ vehicle: '皖A 12345', ts: T0, firm }),
      cameraFix({
        vehicle: 'cam,=1 "x" \\y',
        ts: T0 + 1,
        firm,
        device: 'dev "q" , = \\ 设备',
        officer: '张 "三", O\'Brien = x\\y \\',
      }),
      cameraFix({ vehicle: "cam-'single'", ts: T0 + 2, firm: 'firm=b,c d', officer: '李四\t(队长)' }),
    ];
    await store.writeFixes(fixes);
    for (const fix of fixes) t.deepEqual(await store.latestOf(fix.vehicle), fix);
    t.deepEqual(sorted(await store.latest({ firm })), sorted(fixes.slice(0, 2)));
    t.deepEqual(await store.latest({ firm: 'firm=b,c d' }), [fixes[2]!]);
    t.deepEqual(await store.latest({ vehicles: ['cam,=1 "x" \\y'] }), [fixes[1]!]);
    t.deepEqual(await store.track({ vehicle: '皖A 12345', from: T0, to: T0 }), [fixes[0]!]);
    t.is(await store.count("cam-'single'", T0, T0 + 10), 1);
  });

  test(title('ids that look like InfluxQL injection are just ids'), async (t) => {
    const store = await h().fresh();
    const normal = muckFix({ vehicle: 'normal', ts: T0 });
    const evil = [
      "x' OR '1'='1",
      'y" OR "vehicle" =~ /.*/',
      "z\\' OR vehicle =~ /.*/ --",
      "'; DROP DATABASE x; --",
      "w' ; DROP MEASUREMENT fix; SELECT * FROM fix WHERE vehicle = 'w",
    ];
    const evilFixes = evil.map((vehicle, i) =>
      muckFix({ vehicle, ts: T0 + 100 + i, firm: `${vehicle} firm` }),
    );
    await store.writeFixes([normal, ...evilFixes]);
    for (const fix of evilFixes) {
      t.deepEqual(await store.latestOf(fix.vehicle), fix);
      t.deepEqual(await store.track({ vehicle: fix.vehicle, from: T0, to: T0 + 1_000 }), [fix]);
      t.is(await store.count(fix.vehicle, T0, T0 + 1_000), 1);
      t.deepEqual(await store.latest({ vehicles: [fix.vehicle] }), [fix]);
      t.deepEqual(await store.latest({ firm: fix.firm }), [fix]);
    }
    t.is(await store.latestOf("nobody' OR '1'='1"), undefined);
    t.is(await store.count("nobody' OR ''='", T0, T0 + 1_000), 0);
    t.deepEqual(await store.latest({ firm: "x' OR 'a'='a" }), []);
    // nothing was dropped
    t.deepEqual(await store.latestOf('normal'), normal);
    t.is((await store.latest()).length, 1 + evil.length);
  });

  test(title('a batch of 5,000 fixes'), async (t) => {
    const store = await h().fresh();
    const vehicles = 50;
    const perVehicle = 100;
    const fixes: Fix[] = [];
    for (let i = 0; i < perVehicle; i++) {
      for (let v = 0; v < vehicles; v++) {
        const make = v % 3 === 0 ? muckFix : v % 3 === 1 ? sanitationFix : cameraFix;
        fixes.push(
          make({ vehicle: `bulk-${v}`, ts: T0 + i * 10_000 + v, lat: 31 + i / 1000, lon: 117 + v / 1000 }),
        );
      }
    }
    t.is(fixes.length, 5_000);
    const started = Date.now();
    await store.writeFixes(fixes);
    t.log(`5,000 fixes written in ${Date.now() - started} ms`);
    for (const v of [0, 17, 49]) {
      t.is(await store.count(`bulk-${v}`, T0, T0 + 10_000_000), perVehicle);
    }
    const mine = fixes.filter((f) => f.vehicle === 'bulk-17');
    t.deepEqual(await store.track({ vehicle: 'bulk-17', from: T0, to: T0 + 10_000_000 }), mine);
    const latest = await store.latest();
    t.is(latest.length, vehicles);
    const expected = Array.from({ length: vehicles }, (_, v) => fixes[(perVehicle - 1) * vehicles + v]!);
    t.deepEqual(latest, sorted(expected));
  });
});
