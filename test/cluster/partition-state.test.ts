/**
 * A cluster worker's judgement of one partition (cluster/partition-state.ts), without servers: the demo
 * scenario fleet (90 minutes, every rule exercised) split over partitions as the edges split it.
 *  - Stepped as the stream delivers it, the partitions give the violations and trips the single-process
 *    compliance service (compliance/service.ts) gives for the same fixes: same ids, phases and times.
 *  - A checkpoint taken anywhere and restored by another runner, fed the rest of the partition, gives
 *    the same events as the uninterrupted run, byte for byte (a takeover judges as if nothing happened).
 *  - A checkpoint of another engine version keeps its sequence but no states; a late fix is queued for
 *    the re-judging at the end of its batch (test/cluster/late-fixes.test.ts) and changes nothing
 *    before it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { pino } from 'pino';
import { newStepOutput, PartitionState, type StepOutput } from '../../cluster/partition-state.ts';
import { partitionOf } from '../../cluster/partitions.ts';
import { engineFingerprint } from '../../compliance/engine-state-codec.ts';
import { ComplianceService } from '../../compliance/service.ts';
import type { Fix } from '../../core/fix.ts';
import { withoutRetracted } from '../../geofence/backfill.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { canonicalJson } from '../../geofence/evidence.ts';
import { createJudge } from '../../geofence/judge.ts';
import type { RegistrySnapshot } from '../../geofence/model.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type { EventStore } from '../../store/events-port.ts';
import {
  scenarioFixes as scenarioFixesOf,
  scenarioSnapshot,
  withBlindAreas,
} from '../support/cluster/scenario.ts';
import { judgeInOneProcess, standingTrips, standingViolations } from '../support/cluster/worker.ts';

const PARTITIONS = 4;
const durationMs = 90 * 60_000;

const snapshot: RegistrySnapshot = scenarioSnapshot();
const world = compileWorld(snapshot);
const engine = createEngine(ALL_RULES, chinaCalendar);
const judge = createJudge(engine);
const fingerprint = engineFingerprint(engine);
const scenarioFixes = (): Fix[] => scenarioFixesOf(durationMs);

/** each partition's fixes in stream order, with their stream sequences */
function partitioned(fixes: readonly Fix[]): Map<number, { seq: number; fix: Fix }[]> {
  const out = new Map<number, { seq: number; fix: Fix }[]>();
  fixes.forEach((fix, i) => {
    const p = partitionOf(fix.vehicle, PARTITIONS);
    out.set(p, [...(out.get(p) ?? []), { seq: i + 1, fix }]);
  });
  return out;
}

const newOut = (): StepOutput => newStepOutput();
const serialized = (out: StepOutput) => [
  ...out.violations.map((e) => canonicalJson(e)),
  ...out.trips.map((e) => canonicalJson(e)),
];

async function storedEvents(events: EventStore) {
  const violations: string[] = [];
  for (const v of (await events.violations({ limit: 10_000 })).items)
    violations.push(`${v.id} ${v.code} ${v.vehicle} ${v.phase} ${v.startTs} ${v.endTs ?? '-'}`);
  const trips: string[] = [];
  for (const tr of (await events.trips({ limit: 10_000 })).items) trips.push(`${tr.id} ${tr.status}`);
  return { violations: violations.sort(), trips: trips.sort() };
}

async function withEventStore<T>(
  t: { teardown(fn: () => Promise<void>): void },
  use: (s: EventStore) => Promise<T>,
) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-partition-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  try {
    return await use(events);
  } finally {
    await events.close();
  }
}

test('the partitions judge the fleet as the single-process compliance service does: same violations and trips', async (t) => {
  t.timeout(300_000);
  const fixes = scenarioFixes();
  const cluster = await withEventStore(t, async (events) => {
    for (const [, stream] of partitioned(fixes)) {
      const state = new PartitionState(judge, fingerprint);
      const out = newOut();
      for (const { seq, fix } of stream) state.step(fix, seq, world, out);
      t.is(out.late, 0);
      await events.recordViolations(out.violations);
      await events.recordTrips(out.trips);
    }
    return storedEvents(events);
  });
  const reference = await withEventStore(t, async (events) => {
    const service = new ComplianceService({
      registry: { snapshot: () => snapshot, onChange: () => () => undefined },
      events,
      fixes: { track: async () => [] },
      publish: async () => undefined,
      logger: pino({ enabled: false }),
      // no silence ticks: a worker judges silence at the fix that ends it only
      now: () => Number.NaN,
    });
    service.eventStoreOpened();
    service.onFixes(fixes);
    await service.stop(60_000);
    return storedEvents(events);
  });
  const codes = new Set(reference.violations.map((v) => v.split(' ')[1]));
  t.true(codes.size >= 5, `violation codes seen: ${[...codes].join(', ')}`);
  t.true(reference.trips.length > 0, 'trips seen');
  t.deepEqual(cluster.violations, reference.violations);
  t.deepEqual(cluster.trips, reference.trips);
});

test('a checkpoint restored by another runner and fed the rest of the stream gives the same events, byte for byte', (t) => {
  const streams = partitioned(scenarioFixes());
  let compared = 0;
  for (const [p, stream] of streams) {
    const whole = new PartitionState(judge, fingerprint);
    const wholeOut = newOut();
    for (const { seq, fix } of stream) whole.step(fix, seq, world, wholeOut);
    // checkpoints at a third and two thirds of the partition: three runners one after the other
    const cuts = [Math.floor(stream.length / 3), Math.floor((2 * stream.length) / 3), stream.length];
    const pieces = newOut();
    let checkpoint: Uint8Array | undefined;
    let from = 0;
    for (const cut of cuts) {
      const runner = new PartitionState(judge, fingerprint);
      if (checkpoint !== undefined) {
        t.deepEqual(runner.restore(checkpoint), { stale: false });
        t.is(runner.seq, stream[from - 1]!.seq, 'the checkpoint covers the stream up to its sequence');
      }
      for (const { seq, fix } of stream.slice(from, cut)) runner.step(fix, seq, world, pieces);
      checkpoint = runner.encode();
      from = cut;
    }
    t.deepEqual(serialized(pieces), serialized(wholeOut), `partition ${p}`);
    if (wholeOut.violations.length > 0) compared++;
  }
  t.true(compared >= 2, 'several partitions with violations compared');
});

test('a checkpoint of another engine version keeps its sequence, not its states; a late fix is queued and changes nothing before its re-judging', (t) => {
  const [, stream] = [...partitioned(scenarioFixes())][0]!;
  const rest = stream.slice(201);
  t.true(rest.length > 100);
  const withLate = new PartitionState(judge, fingerprint);
  const without = new PartitionState(judge, fingerprint);
  for (const { seq, fix } of stream.slice(0, 200)) {
    withLate.step(fix, seq, world, newOut());
    without.step(fix, seq, world, newOut());
  }
  // a late fix (an earlier instant of a unit, sent again): queued for the end of the batch, no events
  const late = newOut();
  withLate.step({ ...stream[50]!.fix }, stream[200]!.seq, world, late);
  t.is(late.late, 1);
  t.deepEqual([late.violations, late.trips], [[], []]);
  t.is(withLate.seq, stream[200]!.seq, 'its sequence is covered all the same');
  // ... and the judgement goes on as if it had not come
  const a = newOut();
  const b = newOut();
  for (const { seq, fix } of rest) {
    withLate.step(fix, seq, world, a);
    without.step(fix, seq, world, b);
  }
  t.deepEqual(serialized(a), serialized(b));

  const foreign = gzipSync(JSON.stringify({ engine: 'another-engine', seq: 4242, units: [] }));
  const other = new PartitionState(judge, fingerprint);
  t.deepEqual(other.restore(foreign), { stale: true });
  t.is(other.seq, 4242);
  t.is(other.units, 0);
});

test('the evidence due is part of the checkpoint: a package not stored before a takeover is built by the next runner', (t) => {
  const streams = partitioned(scenarioFixes());
  const runner = new PartitionState(judge, fingerprint);
  const closing = new Map<string, string>();
  for (const [, stream] of streams) {
    const out = newOut();
    for (const { seq, fix } of stream) runner.step(fix, seq, world, out);
    // as the worker does once the batch is stored
    runner.evidenceDue(out.violations);
    for (const e of out.violations)
      if (e.phase === 'closed' || e.phase === 'withdrawn') closing.set(e.violation.id, JSON.stringify(e));
  }
  t.true(closing.size >= 5, `${closing.size} violations closed`);
  t.deepEqual(new Map(runner.dueEvidence()), closing);
  // half of the packages stored; a done report for an older event of a violation leaves its row
  const ids = [...closing.keys()].sort();
  const stored = ids.filter((_, i) => i % 2 === 0);
  for (const id of stored) t.true(runner.evidenceStored(id, closing.get(id)!));
  const kept = ids.find((_, i) => i % 2 === 1)!;
  t.false(runner.evidenceStored(kept, '{"an":"older event"}'));
  const next = new PartitionState(judge, fingerprint);
  t.deepEqual(next.restore(runner.encode()), { stale: false });
  t.deepEqual(
    [...next.dueEvidence()].map(([id]) => id).sort(),
    ids.filter((_, i) => i % 2 === 1),
  );
  t.is(next.dueCount, ids.length - stored.length);
  // a checkpoint written before the workers built evidence: nothing due
  const older = gzipSync(JSON.stringify({ engine: fingerprint, seq: 7, units: [] }));
  const fromOlder = new PartitionState(judge, fingerprint);
  t.deepEqual(fromOlder.restore(older), { stale: false });
  t.is(fromOlder.dueCount, 0);
});

test('late fixes re-judged at the end of their batch give the violations and trips of the single process', async (t) => {
  t.timeout(300_000);
  const { before, after } = withBlindAreas(scenarioFixes());
  const all = [...before, ...after];
  const reference = await judgeInOneProcess(snapshot, all);
  t.true(reference.late.rejudgings >= 5, `re-judgings: ${reference.late.rejudgings}`);
  const cluster = await withEventStore(t, async (events) => {
    let rejudged = 0;
    for (const [, stream] of partitioned(all)) {
      const state = new PartitionState(judge, fingerprint);
      // batches of 40 fixes, as a runner fetches them
      for (let i = 0; i < stream.length; i += 40) {
        const out = newOut();
        for (const { seq, fix } of stream.slice(i, i + 40)) state.step(fix, seq, world, out);
        for (const [unit, late] of state.takeLate())
          if (state.rejudge(unit, late, world, out).rejudged) rejudged++;
        const published = withoutRetracted(out.violations, out.trips);
        await events.recordViolations(published.violations);
        await events.recordTrips(published.trips);
      }
    }
    t.true(rejudged >= reference.late.rejudgings, `re-judgings here: ${rejudged}`);
    return { violations: await standingViolations(events), trips: await standingTrips(events) };
  });
  t.deepEqual(cluster.violations, reference.violations);
  t.deepEqual(cluster.trips, reference.trips);
});
