import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Spool } from '../ingest/spool.ts';

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
