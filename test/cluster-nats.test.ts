/**
 * The NATS cluster harness and the cluster's JetStream resources (cluster/jetstream.ts) on a real
 * 3-node nats-server cluster: the fix stream is R3, a publish is acknowledged with one node killed, a
 * message id seen before is a duplicate, and the killed node rejoins and catches up.
 */
import { openCluster } from '../cluster/jetstream.ts';
import { fixMsgId, fixSubject } from '../cluster/partitions.ts';
import { NATS_SERVER_BIN, startNatsCluster } from './servers/nats.ts';
import { testsNeeding } from './servers/required.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-nats');

const settings = (urls: readonly string[]) => ({
  urls,
  partitions: 8,
  replicas: 3,
  leaseMs: 5_000,
  dedupeWindowMs: 120_000,
  streamMaxAgeMs: 3_600_000,
  name: 'cluster-nats-test',
});

serial(
  'an R3 stream takes writes with one node killed, drops a repeated message id, and the node rejoins',
  async (t) => {
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const conn = await openCluster(settings(nats.urls));
    t.teardown(() => conn.close());
    // a second process opening the same resources changes nothing
    const again = await openCluster(settings(nats.urls));
    await again.close();

    const info = await conn.jsm.streams.info('CITYWATCH_FIXES');
    t.is(info.config.num_replicas, 3);

    const publish = (i: number) =>
      conn.js.publish(fixSubject(i % 8), JSON.stringify({ i }), {
        msgID: fixMsgId('dev-1', i),
        timeout: 10_000,
      });
    for (let i = 0; i < 50; i++) t.false((await publish(i)).duplicate);

    // kill -9 one node (whichever it is: leader or follower of the stream)
    await nats.nodes[0]!.kill9();
    for (let i = 50; i < 100; i++) t.false((await publish(i)).duplicate);
    const dup = await publish(10);
    t.true(dup.duplicate, 'the same message id within the duplicate window is a duplicate');

    await nats.nodes[0]!.restart();
    const state = await conn.jsm.streams.info('CITYWATCH_FIXES');
    t.is(state.state.messages, 100);
    // the restarted node catches up: every replica current again
    // a bound a stall cannot reach (catching up 100 messages takes well under a second)
    const deadline = Date.now() + 180_000;
    for (;;) {
      const s = await conn.jsm.streams.info('CITYWATCH_FIXES');
      const replicas = s.cluster?.replicas ?? [];
      if (replicas.length === 2 && replicas.every((r) => r.current)) break;
      if (Date.now() > deadline)
        throw new Error(`replicas not current after 180 s: ${JSON.stringify(s.cluster)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    t.pass();
  },
);
