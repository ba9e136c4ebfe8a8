/**
 * openSqlite (store/sqlite-file.ts), the one way the platform opens its SQLite files: durable settings,
 * a schema version it refuses when newer, and no handle left behind by a failed open.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openSqlite } from '../../store/sqlite-file.ts';

test('creates the folder, opens durable (WAL, synchronous FULL) and stamps the schema version', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sqlite-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'nested', 'a.db');
  const { db, value } = openSqlite(file, { schemaVersion: 3 }, (db) => {
    db.exec('CREATE TABLE t (x)');
    return 'ready';
  });
  t.is(value, 'ready');
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.is(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.is(db.pragma('user_version', { simple: true }), 3);
  db.close();

  // newer code stamped it 4: this code (3) refuses it, untouched, and leaves no open handle
  const newer = openSqlite(file, {}, (db) => db.pragma('user_version = 4'));
  newer.db.close();
  let initRan = false;
  const err = t.throws(() =>
    openSqlite(file, { schemaVersion: 3 }, () => {
      initRan = true;
    }),
  );
  t.regex(err?.message ?? '', /schema version 4 is newer than this code \(3\)/);
  t.false(initRan, 'nothing touched the newer file');

  // a failing init closes the file: it can be opened again at once, and nothing half-done was stamped
  t.throws(
    () =>
      openSqlite(join(dir, 'b.db'), { schemaVersion: 1 }, () => {
        throw new Error('bad migration');
      }),
    { message: 'bad migration' },
  );
  const again = openSqlite(join(dir, 'b.db'), {}, (db) => db.pragma('user_version', { simple: true }));
  t.is(again.value, 0);
  again.db.close();
});

test(':memory: opens a private database without a folder', (t) => {
  const { db } = openSqlite(':memory:', { schemaVersion: 1 }, (db) => db.exec('CREATE TABLE t (x)'));
  t.is(db.pragma('user_version', { simple: true }), 1);
  db.close();
});
