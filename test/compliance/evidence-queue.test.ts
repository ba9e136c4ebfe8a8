/**
 * The evidence queue (compliance/evidence-queue.ts) on its own, with real parts: the engine's own closed
 * TRACK_GAP violations, their due rows in a real engine-state SQLite file, the tracks in the embedded
 * fix store, the packages in the embedded event store. The stores are wrapped only to count the calls
 * and how many run at once.
 *
 * Issue 10: every closed violation started its own track query with retries and no limit (18,332 jobs
 * at once). Here: never more store calls than the bound, one track query per vehicle batch, a window of
 * due rows in memory, a stopped store costs a few calls (backoff), not one per job per retry, and
 * nothing is lost or built twice across a restart.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { EngineStateStore } from '../../compliance/engine-state-store.ts';
import {
  EvidenceQueue,
  type EvidenceQueueOptions,
  type FixProgress,
} from '../../compliance/evidence-queue.ts';
import type { Fix } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import type { EvidencePackage } from '../../geofence/evidence.ts';
import { buildEvidence, canonicalJson } from '../../geofence/evidence.ts';
import type { RegistrySnapshot } from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import type { ViolationEvent, World } from '../../geofence/types.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type { TrackQuery } from '../../store/port.ts';
import { eventually } from '../support/platform.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const T_END = Date.UTC(2026, 10, 20, 4, 0, 0);
const GAP_MS = 6 * 60_000; // > 5 min: every fix after the first closes a TRACK_GAP

function snapshot(vehicles: readonly string[]): RegistrySnapshot {
  return {
    sites: [],
    routes: [],
    zones: [],
    permits: [],
    vehicles: vehicles.map((id) => ({
      id,
      version: 1,
      firm: 'f',
      kind: 'muck_truck' as const,
      reportIntervalS: 10,
    })),
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
  };
}

/** `count` fixes of `vehicle`, GAP_MS apart, moving east at 30 km/h, the last at T_END. */
function gappyTrack(vehicle: string, count: number, lat: number): Fix[] {
  return Array.from({ length: count }, (_, i) => {
    const ts = T_END - (count - 1 - i) * GAP_MS;
    return {
      vehicle,
      device: `d-${vehicle}`,
      kind: 'muck_truck' as const,
      firm: 'f',
      ts,
      received: ts + 500,
      lat,
      lon: 117.2 + i * 0.03, // ~2.8 km per 6 min
      speed: 30,
      ign: true,
      load: 'empty' as const,
      valid: true,
      crsIn: 'WGS84' as const,
      late: false,
    };
  });
}

interface World0 {
  dir: string;
  world: World;
  fixes: EmbeddedStore;
  events: EmbeddedEventStore;
  state: EngineStateStore;
  /** the engine's closed violations, by id */
  closed: Map<string, ViolationEvent>;
  tracks: Map<string, Fix[]>;
}

/** Runs the real engine over the tracks; stores the fixes; commits every closed violation as due. */
async function stormWorld(vehicles: number, fixesEach: number): Promise<World0> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-evq-'));
  const ids = Array.from({ length: vehicles }, (_, i) => `v${String(i).padStart(3, '0')}`);
  const world = compileWorld(snapshot(ids));
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const fixes = new EmbeddedStore({ dir: path.join(dir, 'store') });
  await fixes.open();
  const events = new EmbeddedEventStore({ dir: path.join(dir, 'store') });
  await events.open();
  const state = new EngineStateStore({ file: path.join(dir, 'state.sqlite') });
  state.open('fp');
  const closed = new Map<string, ViolationEvent>();
  const tracks = new Map<string, Fix[]>();
  for (const [n, id] of ids.entries()) {
    const track = gappyTrack(id, fixesEach, 31.7 + n * 0.01);
    tracks.set(id, track);
    await fixes.writeFixes(track);
    let s = engine.initial(id);
    for (const fix of track) {
      const r = engine.step(s, fix, world);
      s = r.state;
      for (const e of r.events) if (e.phase === 'closed') closed.set(e.violation.id, e);
    }
  }
  return { dir, world, fixes, events, state, closed, tracks };
}

function commitDue(w: World0, events: Iterable<ViolationEvent>): void {
  const evidenceDue = [...events].map((e) => ({ violationId: e.violation.id, body: JSON.stringify(e) }));
  w.state.commit({ states: [], outbox: [], acked: [], evidenceDue, evidenceDone: [] });
}

/** Commits what the queue stored, as the compliance service's flush does. */
function commitDone(w: World0, queue: EvidenceQueue): void {
  const done = queue.takeDone();
  if (done.length === 0) return;
  w.state.commit({ states: [], outbox: [], acked: [], evidenceDue: [], evidenceDone: done });
  queue.doneCommitted(done);
}

/** A real store, wrapped to count calls and the most running at once. */
class Counting {
  calls = 0;
  running = 0;
  peak = 0;
  async around<T>(work: () => Promise<T>): Promise<T> {
    this.calls++;
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      // a store call takes a moment: let others start meanwhile, so a missing bound would show
      await new Promise((r) => setTimeout(r, 2));
      return await work();
    } finally {
      this.running--;
    }
  }
}

function queueOver(
  w: World0,
  counting: { tracks: Counting; puts: Counting },
  over: Partial<EvidenceQueueOptions> = {},
): EvidenceQueue {
  return new EvidenceQueue({
    source: w.state,
    fixes: { track: (q: TrackQuery) => counting.tracks.around(() => w.fixes.track(q)) },
    events: { putEvidence: (pkg: EvidencePackage) => counting.puts.around(() => w.events.putEvidence(pkg)) },
    world: () => w.world,
    logger,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    ...over,
  });
}

async function cleanup(w: World0): Promise<void> {
  w.state.close();
  await w.fixes.close();
  await w.events.close();
  await fs.rm(w.dir, { recursive: true, force: true });
}

/** Runs commits every 20 ms (the service's flush) until the queue has nothing due. */
async function drain(w: World0, queue: EvidenceQueue, what: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    () => {
      commitDone(w, queue);
      return queue.status().due === 0 ? true : undefined;
    },
    what,
    timeoutMs,
  );
}

test('600 due packages: at most maxRunning store calls at once, one track query per vehicle batch, each package as built alone', async (t) => {
  const w = await stormWorld(60, 11);
  t.teardown(() => cleanup(w));
  t.is(w.closed.size, 600, 'the engine closed a TRACK_GAP per fix after the first');
  commitDue(w, w.closed.values());
  const counting = { tracks: new Counting(), puts: new Counting() };
  const queue = queueOver(w, counting, { maxRunning: 3, windowSize: 100 });
  let peakWindow = 0;
  const sampler = setInterval(() => {
    peakWindow = Math.max(peakWindow, queue.status().window);
  }, 1);
  queue.start();
  await drain(w, queue, 'every package stored');
  clearInterval(sampler);
  await queue.stop(Date.now());

  t.true(counting.tracks.peak <= 3, `track queries at once: ${counting.tracks.peak}`);
  t.true(counting.tracks.peak + counting.puts.peak <= 6);
  t.true(queue.status().peakRunning <= 3);
  t.true(queue.status().peakRunning >= 2, 'it did run store calls side by side');
  t.true(peakWindow <= 100, `window ${peakWindow}`);
  // 10 violations per vehicle over 64 min with their margins: two queries of at most an hour each
  t.true(counting.tracks.calls <= 120, `${counting.tracks.calls} track queries for 600 packages`);
  t.log(`${counting.tracks.calls} track queries for 600 packages`);
  t.is(counting.puts.calls, 600);
  t.is(queue.status().stored, 600);
  t.is(w.state.evidenceDueCount(), 0);
  for (const [id, event] of w.closed) {
    const stored = await w.events.evidence(id);
    const alone = buildEvidence(event.violation, w.tracks.get(event.violation.vehicle)!, w.world);
    t.is(canonicalJson(stored), canonicalJson(alone), id);
  }
});

test('a job waits until the pump has stored the fixes accepted before it', async (t) => {
  const w = await stormWorld(2, 3);
  t.teardown(() => cleanup(w));
  const progress: FixProgress = { accepted: 100, stored: 40 };
  const counting = { tracks: new Counting(), puts: new Counting() };
  const queue = queueOver(w, counting, { fixProgress: () => progress });
  queue.start();
  commitDue(w, w.closed.values());
  queue.rowsCommitted();
  t.is(queue.status().window, 4, 'loaded');
  // still behind: a later event (the pump moving on) shows nothing was queried meanwhile
  progress.stored = 99;
  await new Promise((r) => setTimeout(r, 300));
  t.is(counting.tracks.calls, 0);
  progress.stored = 100;
  progress.accepted = 130;
  await drain(w, queue, 'built once the fixes are stored');
  t.is(counting.puts.calls, 4);
  await queue.stop(Date.now());
});

test('a stopped store: a few calls with backoff instead of one per job and retry; everything once it is back', async (t) => {
  const w = await stormWorld(40, 6);
  t.teardown(() => cleanup(w));
  commitDue(w, w.closed.values());
  await w.fixes.close(); // calls now fail for real ("not open")
  const counting = { tracks: new Counting(), puts: new Counting() };
  const queue = queueOver(w, counting, { maxRunning: 4, initialBackoffMs: 50, maxBackoffMs: 400 });
  queue.start();
  await eventually(() => (queue.status().storeOk ? undefined : true), 'the failure noticed');
  await new Promise((r) => setTimeout(r, 1500));
  // 200 due jobs: without the shared backoff each would retry on its own
  t.true(counting.tracks.calls < 40, `${counting.tracks.calls} track calls while the store was down`);
  t.is(queue.status().due, 200, 'nothing dropped');
  await w.fixes.open();
  await drain(w, queue, 'drained after the store returned');
  t.is(counting.puts.calls, 200);
  t.true(queue.status().storeOk);
  await queue.stop(Date.now());
});

test('rows committed while it runs, before and after the sweep cursor, are all built, once', async (t) => {
  const w = await stormWorld(30, 6);
  t.teardown(() => cleanup(w));
  // last ids first: most rows land behind the sweep's cursor
  const all = [...w.closed.values()].sort((a, b) => (a.violation.id < b.violation.id ? 1 : -1));
  const counting = { tracks: new Counting(), puts: new Counting() };
  const queue = queueOver(w, counting, { maxRunning: 2, windowSize: 16 });
  queue.start();
  for (let i = 0; i < all.length; i += 7) {
    commitDue(w, all.slice(i, i + 7));
    queue.rowsCommitted();
    commitDone(w, queue);
    await new Promise((r) => setTimeout(r, 3));
  }
  await drain(w, queue, 'every row built');
  t.is(counting.puts.calls, all.length, 'each package stored once');
  for (const e of all) t.truthy(await w.events.evidence(e.violation.id));
  await queue.stop(Date.now());
});

test('a restart on the same file: only what was not done, at the same bound', async (t) => {
  const w = await stormWorld(20, 11);
  t.teardown(() => cleanup(w));
  commitDue(w, w.closed.values());
  const counting = { tracks: new Counting(), puts: new Counting() };
  const first = queueOver(w, counting, { maxRunning: 2 });
  first.start();
  await eventually(() => (counting.puts.calls >= 50 ? true : undefined), 'some packages stored');
  await first.stop(Date.now() + 5000);
  commitDone(w, first); // the service's last commit at stop
  const left = w.state.evidenceDueCount();
  t.true(left > 0 && left < 200, `${left} left`);
  t.is(first.status().stored + left, 200);

  const again = { tracks: new Counting(), puts: new Counting() };
  const second = queueOver(w, again, { maxRunning: 2 });
  second.start();
  await drain(w, second, 'the rest after the restart');
  t.is(again.puts.calls, left, 'the stored ones are not built again');
  t.true(again.tracks.peak <= 2);
  await second.stop(Date.now());
});
