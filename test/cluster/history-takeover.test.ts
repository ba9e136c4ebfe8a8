/**
 * A runner that dies between writing its units' histories and writing its checkpoint (or that lost its
 * partition and writes once more before its checkpoint is refused) leaves history in JetStream that is
 * ahead of the checkpoint its successor restores: fixes judged after it, and late fixes re-judged after
 * it. On a real 3-node NATS cluster (KV citywatch_history), one partition judged by two runner lives in
 * turn (cluster/partition-state.ts with cluster/history-store.ts, as cluster/partition-runner.ts drives
 * them): the first checkpoints before the blind areas, judges on past several of them, writes its
 * history and dies; the second restores the checkpoint and judges from there. The violations and trips
 * that stand in the event store (both lives stored theirs) are those of the single process.
 */
import { HistoryStore } from '../../cluster/history-store.ts';
import { newStepOutput, PartitionState } from '../../cluster/partition-state.ts';
import { engineFingerprint } from '../../compliance/engine-state-codec.ts';
import type { Fix } from '../../core/fix.ts';
import { withoutRetracted } from '../../geofence/backfill.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { createJudge } from '../../geofence/judge.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import type { EventStore } from '../../store/events-port.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { scenarioFixes, scenarioSnapshot, withBlindAreas } from '../support/cluster/scenario.ts';
import {
  judgeInOneProcess,
  standingTrips,
  standingViolations,
  startJudgementCluster,
} from '../support/cluster/worker.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-history-takeover');

const snapshot = scenarioSnapshot();
const world = compileWorld(snapshot);
const engine = createEngine(ALL_RULES, chinaCalendar);
const judge = createJudge(engine);
const fingerprint = engineFingerprint(engine);

/** judges stream[from, to) in batches as a runner does, storing what each batch publishes */
async function judgeRange(
  state: PartitionState,
  history: HistoryStore,
  stream: readonly { seq: number; fix: Fix }[],
  range: [number, number],
  events: EventStore,
): Promise<number> {
  let rejudged = 0;
  for (let i = range[0]; i < range[1]; i += 40) {
    const out = newStepOutput();
    for (const { seq, fix } of stream.slice(i, Math.min(i + 40, range[1]))) state.step(fix, seq, world, out);
    for (const [unit, late] of state.takeLate()) {
      await history.loadAll(state.historyOf(unit));
      if (state.rejudge(unit, late, world, out).rejudged) rejudged++;
    }
    const published = withoutRetracted(out.violations, out.trips);
    await events.recordViolations(published.violations);
    await events.recordTrips(published.trips);
  }
  return rejudged;
}

serial(
  "a successor restores a checkpoint older than its predecessor's history and judges as the single process",
  async (t) => {
    t.timeout(600_000);
    const { before, after } = withBlindAreas(scenarioFixes(90 * 60_000));
    const all = [...before, ...after];
    const stream = all.map((fix, i) => ({ seq: i + 1, fix }));
    const reference = await judgeInOneProcess(snapshot, all);
    const cluster = await startJudgementCluster(t, () => snapshot);
    const kv = cluster.conn.history;

    // the first life: checkpoint 200 fixes before the first blind area, then on past several of them
    const checkpointAt = before.length - 200;
    const diesAt = before.length + 600;
    const first = new PartitionState(judge, fingerprint);
    const firstHistory = new HistoryStore(kv, 0, fingerprint, first.historyView());
    await judgeRange(first, firstHistory, stream, [0, checkpointAt], cluster.events);
    await firstHistory.write(first.allHistories(), first.seq);
    const checkpoint = first.encode();
    first.checkpointed();
    const rejudgedByFirst = await judgeRange(
      first,
      firstHistory,
      stream,
      [checkpointAt, diesAt],
      cluster.events,
    );
    t.true(rejudgedByFirst >= 2, `blind areas re-judged before the crash: ${rejudgedByFirst}`);
    // its history written for the next checkpoint, which it does not live to write
    t.true((await firstHistory.write(first.allHistories(), first.seq)) > 0);

    const second = new PartitionState(judge, fingerprint);
    t.deepEqual(second.restore(checkpoint), { stale: false });
    const secondHistory = new HistoryStore(kv, 0, fingerprint, second.historyView());
    await secondHistory.loadNewest(second.newestFixes());
    const rejudged = await judgeRange(
      second,
      secondHistory,
      stream,
      [checkpointAt, stream.length],
      cluster.events,
    );
    t.true(rejudged >= 5, `re-judgings by the successor: ${rejudged}`);

    t.deepEqual(await standingViolations(cluster.events), reference.violations);
    t.deepEqual(await standingTrips(cluster.events), reference.trips);
  },
);
