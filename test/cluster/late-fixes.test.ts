/**
 * Late fixes in the cluster (issue 16, as issue 17 for the single process): terminals coming out of a
 * blind area send their current position first and the buffered minutes after it (JT/T 808 0x0704
 * type 1). On a real 3-node NATS cluster, workers (cluster/worker.ts) judge the demo's 13 scenario
 * trucks (90 minutes) with such blind areas: the violations and trips that stand are those of the
 * single-process compliance service judging the same fixes in the same order (same ids, phases, times),
 * and the late fixes reach back past a takeover: the first worker stops between the live fixes and
 * their blind areas, and the second re-judges them from the history the first one left in JetStream.
 */
import { partitionOf } from '../../cluster/partitions.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { scenarioFixes, scenarioSnapshot, withBlindAreas } from '../support/cluster/scenario.ts';
import {
  judgeInOneProcess,
  PARTITIONS,
  standingTrips,
  standingViolations,
  startJudgementCluster,
  waitFor,
} from '../support/cluster/worker.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-late-fixes');

const snapshot = scenarioSnapshot();

serial('late fixes are re-judged by the workers as by the single process, across a takeover', async (t) => {
  t.timeout(900_000);
  const { before, after } = withBlindAreas(scenarioFixes(90 * 60_000));
  const all = [...before, ...after];
  const reference = await judgeInOneProcess(snapshot, all);
  // the blind areas change the verdicts: without re-judging the cluster would stand by others
  t.true(reference.late.rejudgings >= 5, `re-judgings in the single process: ${reference.late.rejudgings}`);
  t.true(reference.late.published >= 1, `events the re-judgings published: ${reference.late.published}`);

  const cluster = await startJudgementCluster(t, () => snapshot);
  const first = await cluster.worker('w1');
  await waitFor(
    'the first worker holding every partition',
    () => first.ownedPartitions().length === PARTITIONS,
  );
  await cluster.publish(before);
  await waitFor('the first worker judging the live fixes', () => first.stats.fixesJudged === before.length);
  t.is(first.stats.lateReceived, 0, 'nothing late before the blind areas');
  // a clean stop: checkpoints and histories written, the leases given back
  await first.stop();

  const second = await cluster.worker('w2');
  await cluster.publish(after);
  await waitFor(
    'the second worker judging the rest',
    () => second.stats.fixesJudged === after.length,
    300_000,
  );
  const used = new Set(all.map((f) => partitionOf(f.vehicle, PARTITIONS)));
  t.is(second.stats.restored, used.size, 'the second worker restored every partition with units');
  const late = after.filter((f) => f.late).length;
  t.is(second.stats.lateReceived, late);
  t.is(second.stats.lateBeyondHistory, 0, 'every blind area re-judged from the history in JetStream');
  t.true(second.stats.rejudgings >= 5, `re-judgings: ${second.stats.rejudgings}`);

  t.deepEqual(await standingViolations(cluster.events), reference.violations);
  t.deepEqual(await standingTrips(cluster.events), reference.trips);
});
