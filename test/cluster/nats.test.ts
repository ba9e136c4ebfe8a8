/**
 * The NATS cluster harness and the cluster's JetStream resources (cluster/jetstream.ts) on a real
 * 3-node nats-server cluster: the fix stream is R3, a publish is acknowledged with the stream's leader
 * killed (once the others have elected a new one), a message id seen before is a duplicate, and the
 * killed node rejoins and catches up.
 */
import { openCluster } from '../../cluster/jetstream.ts';
import { fixMsgId, fixSubject } from '../../cluster/partitions.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';

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
  'an R3 stream takes writes again once its killed leader is replaced, drops a repeated message id, and the node rejoins',
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

    // Until the two nodes left have elected the stream's new leader (when the killed node led it), and
    // while the client reconnects to another node, a publish gets no answer from the stream ("no
    // responders", which the client reports as JetStreamNotEnabled) and nothing is stored: an edge's
    // device sends again, and so does this. A publish that timed out may have been stored, so the same
    // message id sent again may be a duplicate of it; only then.
    const publishUntilStored = async (i: number) => {
      let timedOut = false;
      for (let attempt = 1; ; attempt++) {
        try {
          const ack = await publish(i);
          return { duplicate: ack.duplicate, timedOut };
        } catch (err) {
          const message = (err as Error).message;
          if (/timeout/i.test(message)) timedOut = true;
          else if (!/no responders|not enabled/i.test(message)) throw err;
          if (attempt >= 120)
            throw new Error(`publish ${i} not stored after ${attempt} attempts: ${message}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };

    // kill -9 the node that leads the stream: the hardest case (the others must elect a new leader)
    const leaderName = (await conn.jsm.streams.info('CITYWATCH_FIXES')).cluster?.leader;
    const killed = nats.nodes.find((n) => n.name === leaderName);
    if (killed === undefined) throw new Error(`no node named ${leaderName} leads the stream`);
    await killed.kill9();
    for (let i = 50; i < 100; i++) {
      const { duplicate, timedOut } = await publishUntilStored(i);
      if (!timedOut) t.false(duplicate, `message ${i} stored once`);
    }
    const dup = await publish(10);
    t.true(dup.duplicate, 'the same message id within the duplicate window is a duplicate');

    await killed.restart();
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
