/**
 * The event outbox (compliance/event-outbox.ts) with real parts: the outbox rows in a real engine-state
 * SQLite file, the events in the embedded event store. Issue 10 had 43,098 violation events in memory
 * during a storm and read the whole outbox back at the next start: here memory holds at most a window
 * per kind, the rest is read back page by page, in order, nothing lost or written twice, and a failing
 * store is retried after a backoff rather than at every flush.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { EngineStateStore } from '../../compliance/engine-state-store.ts';
import { EventOutbox } from '../../compliance/event-outbox.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type { EventStore } from '../../store/events-port.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const T0 = Date.UTC(2026, 10, 20, 4, 0, 0);

/** an instantaneous violation, opened and closed, of vehicle i */
function gap(i: number): [ViolationEvent, ViolationEvent] {
  const v = {
    id: `v${i % 50}:TRACK_GAP:${T0 + i * 1000}`,
    code: 'TRACK_GAP' as const,
    vehicle: `v${i % 50}`,
    firm: 'f',
    startTs: T0 + i * 1000,
    level: 0,
    startPos: [117.2, 31.8] as [number, number],
    lastPos: [117.2, 31.8] as [number, number],
    refs: [],
    thresholds: {},
    ruleVersion: 1,
    details: { i },
  };
  const closed = {
    ...v,
    endTs: v.startTs + 400_000,
    durationMs: 400_000,
    lastPos: [117.25, 31.8] as [number, number],
  };
  return [
    { phase: 'opened', violation: v },
    { phase: 'closed', violation: closed },
  ];
}

async function world(t: import('ava').ExecutionContext) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-outbox-'));
  const state = new EngineStateStore({ file: path.join(dir, 'state.sqlite') });
  state.open('fp');
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  t.teardown(async () => {
    if (state.isOpen) state.close();
    await events.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { dir, state, events };
}

/** Commits events to the outbox and hands them to the outbox with their seqs, as persist() does. */
function commit(
  state: EngineStateStore,
  outbox: EventOutbox,
  violations: ViolationEvent[],
  trips: TripEvent[] = [],
) {
  const seqs = state.commit({
    states: [],
    outbox: [
      ...violations.map((e) => ({ kind: 'violation' as const, body: JSON.stringify(e) })),
      ...trips.map((e) => ({ kind: 'trip' as const, body: JSON.stringify(e) })),
    ],
    acked: outbox.takeAcked(),
    evidenceDue: [],
    evidenceDone: [],
  });
  outbox.add(violations, trips, seqs);
}

function ackCommit(state: EngineStateStore, outbox: EventOutbox) {
  state.commit({ states: [], outbox: [], acked: outbox.takeAcked(), evidenceDue: [], evidenceDone: [] });
}

test('4,000 events: at most the window in memory, all stored in order, the outbox emptied', async (t) => {
  const { state, events } = await world(t);
  const outbox = new EventOutbox({ events, pages: state, logger, batchSize: 50, windowSize: 100 });
  const all: ViolationEvent[] = [];
  for (let i = 0; i < 2000; i++) all.push(...gap(i));
  // produced in bursts while writes go on, as during a storm
  for (let i = 0; i < all.length; i += 400) {
    commit(state, outbox, all.slice(i, i + 400));
    const flushing = outbox.flush();
    commit(state, outbox, []); // a commit in the middle of a write
    await flushing;
    ackCommit(state, outbox);
  }
  while (outbox.pendingViolations > 0) {
    await outbox.flush();
    ackCommit(state, outbox);
  }
  t.true(outbox.peakWindowed <= 100, `${outbox.peakWindowed} events in memory`);
  t.true(outbox.peakWindowed >= 50);
  t.is(outbox.durablePending, 0);
  t.is(state.outboxSize(), 0);
  const stored = await events.violations({ limit: 10_000 });
  t.is(stored.items.length, 2000);
  for (const i of [0, 777, 1999]) {
    const phases = await events.violationPhases(gap(i)[0].violation.id);
    t.deepEqual(
      phases.map((p) => p.phase),
      ['opened', 'closed'],
    );
  }
});

test('after a restart: nothing read up front, the rows come back page by page and are stored once', async (t) => {
  const { state, events } = await world(t);
  const first = new EventOutbox({ events, pages: state, logger, batchSize: 50, windowSize: 100 });
  const all: ViolationEvent[] = [];
  for (let i = 0; i < 500; i++) all.push(...gap(i));
  commit(state, first, all); // the event store never took them (down), the process ends
  t.is(first.windowed, 100);
  const file = state.file;
  state.close();

  const reopened = new EngineStateStore({ file });
  const restored = reopened.open('fp');
  t.deepEqual(restored.outbox, { violation: 1000, trip: 0 });
  const second = new EventOutbox({ events, pages: reopened, logger, batchSize: 50, windowSize: 100 });
  second.restored(restored.outbox);
  t.is(second.windowed, 0, 'nothing read up front');
  t.is(second.pendingViolations, 1000);
  while (second.pendingViolations > 0) {
    await second.flush();
    reopened.commit({ states: [], outbox: [], acked: second.takeAcked(), evidenceDue: [], evidenceDone: [] });
  }
  t.true(second.peakWindowed <= 100);
  t.is(reopened.outboxSize(), 0);
  t.is((await events.violations({ limit: 10_000 })).items.length, 500);
  t.is((await events.violationPhases(gap(499)[0].violation.id)).length, 2);
  reopened.close();
});

test('a failing store: retried after a backoff, not at every flush; everything once it works', async (t) => {
  const { state, events } = await world(t);
  let calls = 0;
  let down = true;
  const store: Pick<EventStore, 'recordViolations' | 'recordTrips'> = {
    recordViolations: (batch) => {
      calls++;
      // a real failure: the embedded store refuses calls while closed
      return down
        ? events.close().then(() => events.recordViolations(batch))
        : events.recordViolations(batch);
    },
    recordTrips: (batch) => events.recordTrips(batch),
  };
  const outbox = new EventOutbox({
    events: store,
    pages: state,
    logger,
    initialBackoffMs: 200,
    maxBackoffMs: 200,
  });
  commit(state, outbox, gap(1));
  await outbox.flush();
  t.false(outbox.ok);
  t.regex(outbox.error ?? '', /not open/);
  // the compliance service flushes every 200 ms; within the backoff a flush does not call the store
  const before = calls;
  for (let i = 0; i < 20; i++) await outbox.flush();
  t.is(calls, before, 'no call within the backoff');
  await events.open();
  down = false;
  await new Promise((r) => setTimeout(r, 250));
  await outbox.flush();
  t.true(outbox.ok);
  t.is(outbox.pendingViolations, 0);
  t.is((await events.violationPhases(gap(1)[0].violation.id)).length, 2);
});
