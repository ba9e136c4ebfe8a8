import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Spool } from '../../ingest/spool.ts';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'spool-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(spool: Spool, batch = 1000): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const b = await spool.read(batch);
    if (!b) return out;
    out.push(...b.records);
    await spool.commit(b.end, b.records.length);
  }
}

test('appended records are read back in order and the checkpoint survives a reopen', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir });
  await spool.open();
  await spool.append(['{"n":1}', '{"n":2}']);
  await spool.append(['{"n":3}']);
  const first = await spool.read(2);
  t.deepEqual(first?.records, ['{"n":1}', '{"n":2}']);
  await spool.commit(first!.end, 2);
  t.is(spool.stats().depthRecords, 1);
  await spool.close();

  const again = new Spool({ dir });
  await again.open();
  t.is(again.stats().depthRecords, 1);
  t.deepEqual(await readAll(again), ['{"n":3}']);
  t.is(again.stats().depthRecords, 0);
  t.is(again.stats().depthBytes, 0);
  await again.close();
});

test('uncommitted records are read again after a reopen (nothing lost if the store write never landed)', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir });
  await spool.open();
  await spool.append(['a', 'b', 'c']);
  const b = await spool.read(10);
  t.deepEqual(b?.records, ['a', 'b', 'c']);
  await spool.close(); // no commit
  const again = new Spool({ dir });
  await again.open();
  t.deepEqual(await readAll(again), ['a', 'b', 'c']);
  await again.close();
});

test('concurrent appends are group-committed: far fewer flushes than appends', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir });
  await spool.open();
  const n = 2000;
  await Promise.all(Array.from({ length: n }, (_, i) => spool.append([JSON.stringify({ i })])));
  const stats = spool.stats();
  t.is(stats.appendedRecords, n);
  t.true(stats.flushes < n / 10, `${stats.flushes} flushes for ${n} appends`);
  const records = await readAll(spool, 300);
  t.deepEqual(
    records.map((r) => (JSON.parse(r) as { i: number }).i),
    Array.from({ length: n }, (_, i) => i),
  );
  await spool.close();
});

test('segments rotate, are read across in order, and consumed segments are deleted', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir, segmentBytes: 1024 });
  await spool.open();
  for (let i = 0; i < 200; i++) await spool.append([JSON.stringify({ i, pad: 'x'.repeat(40) })]);
  const before = (await fs.readdir(dir)).filter((f) => f.startsWith('seg-'));
  t.true(before.length > 5, `${before.length} segments`);
  const records = await readAll(spool, 7);
  t.is(records.length, 200);
  t.deepEqual(
    records.map((r) => (JSON.parse(r) as { i: number }).i),
    Array.from({ length: 200 }, (_, i) => i),
  );
  const after = (await fs.readdir(dir)).filter((f) => f.startsWith('seg-'));
  t.is(after.length, 1, 'only the active segment remains');
  await spool.close();
});

test('a torn last line from a crash mid-write is cut off on open; whole records stay', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir });
  await spool.open();
  await spool.append(['{"ok":1}', '{"ok":2}']);
  await spool.close();
  const seg = (await fs.readdir(dir)).find((f) => f.startsWith('seg-'))!;
  await fs.appendFile(path.join(dir, seg), '{"torn":');
  const again = new Spool({ dir });
  await again.open();
  await again.append(['{"ok":3}']);
  t.deepEqual(await readAll(again), ['{"ok":1}', '{"ok":2}', '{"ok":3}']);
  await again.close();
});

test('reading while appending never returns a partial record', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir, segmentBytes: 4096 });
  await spool.open();
  const got: string[] = [];
  let writing = true;
  const reader = (async () => {
    while (writing || spool.stats().depthRecords > 0) {
      const b = await spool.read(13);
      if (!b) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      got.push(...b.records);
      await spool.commit(b.end, b.records.length);
    }
  })();
  for (let i = 0; i < 500; i++) await spool.append([JSON.stringify({ i })]);
  writing = false;
  await reader;
  t.is(got.length, 500);
  t.true(got.every((r, i) => (JSON.parse(r) as { i: number }).i === i));
  await spool.close();
});

test('append after close is refused instead of silently dropped', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir });
  await spool.open();
  await spool.close();
  await t.throwsAsync(spool.append(['x']), { message: /closed/ });
});

/** Resolves when `cond` holds, checked after every change the spool reports (a positive event). */
function whenSpool(spool: Spool, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const off = spool.onChange(() => {
      if (cond()) {
        off();
        resolve();
      }
    });
  });
}

async function segmentFilesBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir))
    if (name.endsWith('.jsonl')) total += (await fs.stat(path.join(dir, name))).size;
  return total;
}

test('maxBytes: appends past the limit wait unacknowledged until commits free room; the disk never holds more', async (t) => {
  const dir = await tempDir(t);
  const limit = 1024 * 1024;
  const spool = new Spool({ dir, maxBytes: limit });
  await spool.open();
  const record = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(980) });
  const acked: number[] = [];
  const appends = Array.from({ length: 1500 }, (_, i) => spool.append([record(i)]).then(() => acked.push(i)));
  // the positive event: the spool says it waits for room (everything that fitted has been written)
  await whenSpool(spool, () => spool.stats().waitingForRoom);
  const bytesPerRecord = record(0).length + 1;
  const fitted = acked.length;
  t.true(fitted > 0 && fitted <= Math.floor(limit / bytesPerRecord), `${fitted} acknowledged`);
  t.deepEqual(acked, [...Array(fitted).keys()], 'acknowledged in order, the rest wait');
  t.true(spool.stats().diskBytes <= limit);
  t.true((await segmentFilesBytes(dir)) <= limit, 'the segment files on disk');

  // the store pump's part: read, commit, which frees whole segments and lets the waiting appends in
  const read: number[] = [];
  while (read.length < 1500) {
    const b = await spool.read(200);
    if (b === undefined) {
      await whenSpool(spool, () => spool.stats().depthRecords > 0);
      continue;
    }
    for (const r of b.records) read.push((JSON.parse(r) as { i: number }).i);
    await spool.commit(b.end, b.records.length);
    t.true((await segmentFilesBytes(dir)) <= limit);
  }
  await Promise.all(appends);
  t.deepEqual(read, [...Array(1500).keys()], 'every record once, in order');
  t.true(spool.stats().peakDiskBytes <= limit, `peak ${spool.stats().peakDiskBytes} <= ${limit}`);
  t.true(spool.stats().peakDiskBytes > limit * 0.8, 'the limit was reached, not just approached');
  await spool.close();
});

test('maxBytes: closing while appends wait for room refuses them (never acknowledged) and keeps the rest', async (t) => {
  const dir = await tempDir(t);
  const spool = new Spool({ dir, maxBytes: 512 * 1024 });
  await spool.open();
  const results = await (async () => {
    const pending = Array.from({ length: 800 }, (_, i) =>
      spool.append([JSON.stringify({ i, pad: 'y'.repeat(1000) })]).then(
        () => 'acked' as const,
        () => 'refused' as const,
      ),
    );
    await whenSpool(spool, () => spool.stats().waitingForRoom);
    await spool.close();
    return Promise.all(pending);
  })();
  const acked = results.filter((r) => r === 'acked').length;
  t.true(acked > 0 && acked < 800);
  t.deepEqual(results.slice(acked), Array(800 - acked).fill('refused'), 'the refused are the last ones');
  const again = new Spool({ dir, maxBytes: 512 * 1024 });
  await again.open();
  t.is((await readAll(again)).length, acked, 'exactly the acknowledged records are in the spool');
  await again.close();
});

test('the age of the backlog: when the oldest record not yet committed was appended', async (t) => {
  const dir = await tempDir(t);
  let clock = 1_000_000;
  const spool = new Spool({ dir, now: () => clock });
  await spool.open();
  t.is(spool.level().oldestAppendedAt, undefined, 'nothing waits');
  await spool.append(['{"n":1}']);
  clock += 5000;
  await spool.append(['{"n":2}']);
  t.is(spool.level().oldestAppendedAt, 1_000_000);
  const first = await spool.read(1);
  await spool.commit(first!.end, 1);
  t.is(spool.level().oldestAppendedAt, 1_005_000, 'the first record is stored: the second is the oldest');
  const second = await spool.read(1);
  await spool.commit(second!.end, 1);
  t.is(spool.level().oldestAppendedAt, undefined);
  await spool.close();
});
