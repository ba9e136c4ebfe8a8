/**
 * Child of test/ingest/spool-emfile.test.ts, run under a small `ulimit -n`: the real Spool, StorePump and
 * embedded store, in a process that then uses up its own file descriptors (opening /dev/null until
 * open() fails with EMFILE). Appends still succeed (the spool's files are open already); the pump's
 * first read of the spool cannot open it. Then the descriptors are given back and the pump must catch
 * up on its own. Prints one JSON line: fixes acknowledged and stored, the pump's state while starved,
 * and whether it drained.
 *
 * argv: <dir> <fixes>
 */
import fs from 'node:fs';
import path from 'node:path';
import { Registry as MetricsRegistry } from 'prom-client';
import type { Fix } from '../../core/fix.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { StorePump } from '../../ingest/pump.ts';
import { Spool } from '../../ingest/spool.ts';
import { EmbeddedStore } from '../../store/embedded.ts';

const [dir, count] = [process.argv[2]!, Number(process.argv[3])];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const spool = new Spool({ dir: path.join(dir, 'spool') });
await spool.open();
const store = new EmbeddedStore({ dir: path.join(dir, 'store') });
await store.open();
const pump = new StorePump({
  spool,
  store,
  metrics: createIngestMetrics(new MetricsRegistry()),
  batchSize: 100,
  initialBackoffMs: 50,
  maxBackoffMs: 200,
});

// use up every descriptor left, before the appends and before the pump starts: an open() the pump
// started earlier would run on the thread pool while this loop runs and might get a descriptor before
// they are gone (it did, on a loaded machine: the pump then read 100 fixes while "starved")
const fillers: number[] = [];
/** Opens /dev/null until open() fails; returns the error code of the failure. */
function useUpDescriptors(): string {
  for (;;) {
    try {
      fillers.push(fs.openSync('/dev/null', 'r'));
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }
}
const exhausted = useUpDescriptors();

const t0 = Date.UTC(2026, 0, 1);
const fixes: Fix[] = Array.from({ length: count }, (_, i) => ({
  vehicle: `v-${i % 5}`,
  device: `d-${i % 5}`,
  kind: 'muck_truck',
  firm: 'f',
  ts: t0 + i * 1000,
  received: t0 + i * 1000 + 100,
  lat: 31.8,
  lon: 117.2,
  valid: true,
  crsIn: 'WGS84',
  late: false,
}));
let acked = 0;
for (let i = 0; i < fixes.length; i += 50) {
  const chunk = fixes.slice(i, i + 50);
  await spool.append(chunk.map((f) => JSON.stringify(f)));
  acked += chunk.length;
}

// A descriptor something else in the process closed after the first pass (it happened on a loaded
// machine: the pump then read one batch of 100 while "starved") is taken too, and only then does the
// pump start: the appends above needed no new descriptor, so they were all acknowledged while starved.
useUpDescriptors();
pump.start();

// the pump meets EMFILE and keeps retrying (a few backoff periods, while still starved)
let starved = pump.status();
for (let i = 0; i < 100 && starved.spoolOk; i++) {
  await sleep(20);
  starved = pump.status();
}
// "nothing drained while starved", confirmed by later positive events: two more failed passes of the
// pump (each a retry after its backoff) while the descriptors are still taken
const failuresBefore = starved.spoolFailures;
for (let i = 0; i < 200 && pump.status().spoolFailures < failuresBefore + 2; i++) await sleep(20);
const stillStarved = pump.status();
const depthWhileStarved = spool.stats().depthRecords;

for (const fd of fillers) fs.closeSync(fd);
let drained = false;
for (let i = 0; i < 200 && !drained; i++) {
  await sleep(50);
  drained = spool.stats().depthRecords === 0;
}
let stored = 0;
for (let v = 0; v < 5; v++) stored += await store.count(`v-${v}`, t0, t0 + count * 1000);
const after = pump.status();
await pump.stop(1000);
process.stdout.write(
  `${JSON.stringify({ exhausted, fillers: fillers.length, acked, starved, stillStarved, depthWhileStarved, drained, stored, after })}\n`,
);
await spool.close();
await store.close();
