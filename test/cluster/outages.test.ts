/**
 * The cluster's own outages (cluster/outages.ts) on a real 3-node NATS cluster: the platform never
 * charges a firm for its own downtime. Two outages of the intake happen for real: the only edge's
 * heartbeat stops (the edge died) and another edge starts after the lease time; then all three NATS
 * nodes are killed with kill -9 and restarted (no quorum: no edge could write a fix). The edge that finds
 * the heartbeat gap records each outage in the KV bucket. A worker started afterwards (as a takeover
 * would be) reads them from there and judges a truck whose silences straddle them: no OFFLINE for a
 * silence an outage overlaps, and an OFFLINE for a silence after them (the positive that shows the
 * truck is judged at all). Fix times are set from the recorded outages, so no verdict rests on speed.
 */
import { pino } from 'pino';
import { GapStore } from '../../cluster/gap-store.ts';
import { type ClusterOutage, IntakeHeartbeat, OutageView } from '../../cluster/outages.ts';
import type { Fix } from '../../core/fix.ts';
import type { RegistrySnapshot } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import {
  DEMO_COMPLIANCE_IDS,
  demoComplianceSeed,
  demoVehicleProfiles,
} from '../../simulators/demo/compliance.ts';
import { demoScenarioFleet, generateScenarioFixes } from '../../simulators/demo/scenario-trucks.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { LEASE_MS, startJudgementCluster, waitFor } from '../support/cluster/worker.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-outages');

const start = Date.UTC(2025, 5, 2, 0, 0, 0);
// a silence of a truck with its ignition on is OFFLINE after max(1 x its report interval, 1 s)
const snapshot: RegistrySnapshot = {
  ...demoComplianceSeed(start),
  vehicles: demoVehicleProfiles(),
  thresholds: {
    id: DEMO_COMPLIANCE_IDS.thresholds,
    version: 1,
    values: { ...DEFAULT_THRESHOLDS, offlineFactor: 1, offlineMinMs: 1000 },
  },
};
const GRACE_MS = 1000;

/** one scenario truck's first fix, as a template: standing still with its ignition on */
function truckFix(): (ts: number) => Fix {
  const fleet = demoScenarioFleet();
  const d = fleet.devices.find((x) => x.kind === 'muck_truck')!;
  const m = generateScenarioFixes({ seed: 3, startTs: start, durationMs: 60_000, devices: [d] })[0]!;
  const template = normalizeFix(
    m.payload,
    { id: d.id, kind: d.kind, unit: d.vehicle ?? d.id, firm: d.firm, reportIntervalS: 10, enabled: true },
    m.ts,
  );
  return (ts) => ({ ...template, ts, received: ts, speed: 0, ign: true, late: false });
}

serial(
  "a worker does not charge the cluster's own outages: no edge alive, all NATS nodes restarted",
  async (t) => {
    t.timeout(900_000);
    const cluster = await startJudgementCluster(t, () => snapshot);
    const logger = pino({ level: process.env.CLUSTER_TEST_LOG_LEVEL ?? 'silent' });
    const heartbeat = (name: string) => {
      const h = new IntakeHeartbeat({
        kv: cluster.conn.outages,
        leaseMs: LEASE_MS,
        keepMs: 7 * 86_400_000,
        graceMs: GRACE_MS,
        logger: logger.child({ edge: name }),
      });
      t.teardown(() => h.stop());
      return h;
    };
    const view = new OutageView(cluster.conn.outages, LEASE_MS);
    const recorded = async (n: number): Promise<ClusterOutage[]> => {
      await waitFor(`${n} outages recorded`, async () => {
        await view.refresh();
        return view.all().length >= n;
      });
      return [...view.all()];
    };

    // outage 1: the only edge dies (its heartbeat stops with it); another starts after the lease time
    const edgeA = heartbeat('A');
    await edgeA.beat();
    edgeA.start();
    await new Promise((r) => setTimeout(r, LEASE_MS));
    await edgeA.stop();
    const diedAt = Date.now();
    await waitFor('the lease time gone by', () => Date.now() - diedAt > 2 * LEASE_MS);
    const edgeB = heartbeat('B');
    await edgeB.beat();
    edgeB.start();
    const [first] = await recorded(1);
    t.true(first!.end > first!.start + LEASE_MS, JSON.stringify(first));

    // outage 2: the whole NATS cluster restarted under the running edge (a while after the first ended)
    await new Promise((r) => setTimeout(r, 10_000));
    await Promise.all(cluster.nats.nodes.map((n) => n.kill9()));
    const downAt = Date.now();
    await waitFor('the lease time gone by', () => Date.now() - downAt > 2 * LEASE_MS);
    await Promise.all(cluster.nats.nodes.map((n) => n.restart()));
    const outages = await recorded(2);
    t.is(outages.length, 2, JSON.stringify(outages));
    const second = outages[1]!;
    t.true(second.start >= first!.end - GRACE_MS, 'the second outage begins after the first');
    t.true(edgeB.recorded >= 2, 'the running edge recorded both gaps');

    // a worker that starts now learns them from the bucket; a truck whose silences straddle them
    const fixAt = truckFix();
    const allowanceMs = 10_000; // max(1 x 10 s, 1 s)
    const control = second.end + 5_000;
    // between the outages the truck reports every 5 s (whatever time went by between them here)
    const between: Fix[] = [];
    for (let ts = first!.end + 8_000; ts < second.start - 2_000; ts += 5_000) between.push(fixAt(ts));
    const fixes = [
      fixAt(first!.start - 2_000),
      // the silence overlaps outage 1: the allowance ran out while no fix could come in
      fixAt(first!.end + 3_000),
      ...between,
      fixAt(second.start - 2_000),
      fixAt(second.end + 3_000),
      // a silence after both: the truck's own
      fixAt(control),
      fixAt(control + 9 * allowanceMs),
    ];
    // judged once the last fix is in the past by far: an outage under way now cannot reach back to it
    await waitFor('the fixes in the past', () => Date.now() > control + 9 * allowanceMs + 20_000, 300_000);
    const worker = await cluster.worker('w1');
    await cluster.publish(fixes);
    await waitFor('the fixes judged', () => worker.stats.fixesJudged === fixes.length);
    const vehicle = fixes[0]!.vehicle;
    const offline = (await cluster.events.violations({ limit: 100 })).items.filter(
      (v) => v.vehicle === vehicle && v.code === 'OFFLINE',
    );
    t.deepEqual(
      offline.map((v) => [v.startTs, v.endTs]),
      [[control + allowanceMs, control + 9 * allowanceMs]],
      'one OFFLINE: the silence after the outages',
    );
    t.is(worker.stats.platformGaps, 2, 'the two silences in the outages are platform gaps');

    // stored for the API nodes (cluster/gap-store.ts), one under each outage
    const gaps = new GapStore(cluster.conn.gaps);
    const listed = async () =>
      Promise.all(
        outages.map(async (o) => {
          const g = await gaps.listFor(o.start, 100);
          return [g.count, ...g.gaps.map((x) => [x.vehicle, x.code, x.fromTs])];
        }),
      );
    const expected = [
      [1, [vehicle, 'OFFLINE', first!.start - 2_000]],
      [1, [vehicle, 'OFFLINE', second.start - 2_000]],
    ];
    t.deepEqual(await listed(), expected, 'each outage lists the silence it voided');

    // a successor that replays the partition from the start (the worker died before any checkpoint:
    // here its checkpoints are deleted) finds the same gaps again and lists none twice
    await worker.stop();
    for await (const key of await cluster.conn.checkpoints.keys()) await cluster.conn.checkpoints.delete(key);
    const successor = await cluster.worker('w2');
    await waitFor('the fixes judged again', () => successor.stats.fixesJudged === fixes.length);
    t.is(successor.stats.platformGaps, 2, 'the replay found the two gaps again');
    t.deepEqual(await listed(), expected, 'and each is listed once');

    // the device sends what it recorded during the first outage (backfill): its silence there is filled,
    // so the re-judging replaces the truck's gap under the first outage with none
    const backfill: Fix[] = [];
    for (let ts = first!.start + 3_000; ts < first!.end + 2_000; ts += 5_000) backfill.push(fixAt(ts));
    await cluster.publish(backfill);
    await waitFor(
      'the backfill re-judged',
      () => successor.stats.fixesJudged === fixes.length + backfill.length,
    );
    t.true(successor.stats.rejudgings >= 1);
    t.deepEqual(await listed(), [[0], expected[1]], 'the filled silence is no gap any more');
  },
);
