/**
 * The FixStore contract (store/port.ts), durability: data survives a restart and a crash of the storage,
 * and a write is refused promptly while the backend is down, then works again. Each case runs against
 * every adapter (test/support/store/fix-contract.ts: embedded, influxdb-v1). These cases stop or restart
 * the backend: they are serial, and ava runs serial cases before the concurrent ones of the same file.
 */
import test from 'ava';
import {
  cameraFix,
  eachFixStore,
  muckFix,
  sanitationFix,
  sorted,
  T0,
} from '../../support/store/fix-contract.ts';

eachFixStore(({ h, title }) => {
  test.serial(title('data survives a restart of the storage'), async (t) => {
    let store = await h().fresh();
    const before = [muckFix({ vehicle: 'keep-1', ts: T0 }), cameraFix({ vehicle: 'keep-2', ts: T0 + 1 })];
    await store.writeFixes(before);
    store = await h().restart(store, 'graceful');
    t.deepEqual(sorted(await store.latest()), sorted(before));
    t.deepEqual(await store.track({ vehicle: 'keep-1', from: T0, to: T0 }), [before[0]!]);
    // writing still works afterwards, and latest is still maintained
    const after = muckFix({ vehicle: 'keep-1', ts: T0 + 5_000 });
    await store.writeFixes([after]);
    t.deepEqual(await store.latestOf('keep-1'), after);
    t.is(await store.count('keep-1', T0, T0 + 5_000), 2);
  });

  test.serial(title('an acknowledged write survives a crash of the storage'), async (t) => {
    let store = await h().fresh();
    const fixes = Array.from({ length: 200 }, (_, i) =>
      sanitationFix({ vehicle: 'crash-1', ts: T0 + i * 1_000 }),
    );
    await store.writeFixes(fixes);
    store = await h().restart(store, 'crash');
    t.is(await store.count('crash-1', T0, T0 + 1_000_000), 200);
    t.deepEqual(await store.latestOf('crash-1'), fixes[199]);
  });

  test.serial(title('write rejects promptly when the backend is down, and works again after'), async (t) => {
    const store = await h().fresh();
    const outage = h().outage;
    const fix = muckFix({ vehicle: 'down-1', ts: T0 });
    if (!outage) {
      // No server: the equivalent failure is a closed store.
      await store.close();
      await t.throwsAsync(store.writeFixes([fix]));
      t.false((await store.health()).ok);
      await store.open();
      await store.writeFixes([fix]);
      t.deepEqual(await store.latestOf('down-1'), fix);
      return;
    }
    t.true((await store.health()).ok);
    await outage.down();
    try {
      const started = Date.now();
      const err = await t.throwsAsync(store.writeFixes([fix]));
      const elapsed = Date.now() - started;
      t.true(elapsed < 3_000, `rejected after ${elapsed} ms`);
      t.regex(err?.message ?? '', /InfluxDB write failed/);
      const health = await store.health();
      t.false(health.ok);
      t.truthy(health.detail);
    } finally {
      await outage.up();
    }
    t.true((await store.health()).ok);
    await store.writeFixes([fix]);
    t.deepEqual(await store.latestOf('down-1'), fix);
  });
});
