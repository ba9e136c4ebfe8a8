/**
 * What the platform sends JT/T 808 terminals on its own, in the cluster (issues 14 and 16; the world of
 * test/support/cluster/jt808-cluster.ts: 3 NATS nodes, an API node, two edges serving JT/T 808, a worker,
 * real processes and real TCP terminals). The truck has three terminals: dev-c1 on edge A, dev-c4 on
 * edge B, dev-c5 connected nowhere. Edge A reaches NATS through relays the test cuts.
 *  - A permit approved through the API node: pushed to dev-c1 and dev-c4 by their edges, and the pushes
 *    to dev-c5 recorded `not_connected`, listed by the API node (no edge held it: no record before).
 *  - A violation opened while edge A is cut off from NATS: edge B texts dev-c4 at once; edge A, back,
 *    reads what it missed and texts dev-c1 (before, the workers' core NATS publish was lost for it and
 *    dev-c1 got no text); dev-c5's text is recorded `not_connected`. The same violation coming again (a
 *    replay) is texted to nobody, which a second violation published after it, texted to both, shows.
 *  - Edge A stopped with SIGTERM while a command waits for dev-c1's answer: edge A settles it
 *    (`cancelled`, with its reason) instead of leaving it to its deadline (before: `sent`, then `timeout`
 *    at the deadline; edge A's timeout here is a minute, and the verdict is the state, not a time).
 * The verdicts wait for events (a command received, a record stored), never for a time to pass.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EVENT_STREAM, EVENT_SUBJECT_PREFIX } from '../../cluster/jetstream.ts';
import { MSG } from '../../gateway/jt808/codec/ids.ts';
import { decode8300 } from '../../gateway/jt808/codec/msg-8300.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { payloadToLocation } from '../../simulators/shared/jt808-fix.ts';
import type { Jt808Terminal } from '../../simulators/shared/jt808-terminal.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { type Command, startCluster, WORLD, waitFor } from '../support/cluster/jt808-cluster.ts';
import { offRouteHaulFixes } from '../support/haul-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-jt808-platform-commands');

const TEXT = '您已偏离核准路线';
const texts = (term: Jt808Terminal) => term.commands.filter((m) => m.msgId === MSG.TEXT);

serial(
  'the platform’s own commands: recorded for a terminal held nowhere, texted once an edge cut off from NATS is back, settled by an edge stopped with SIGTERM',
  async (t) => {
    t.timeout(900_000);
    const c = await startCluster(t, {
      worker: true,
      moreTerminals: true,
      edgeACut: true,
      env: { JT808_VIOLATION_TEXTS: JSON.stringify({ OFF_ROUTE: TEXT }) },
    });
    const list = async (device: string) =>
      (await c.api('GET', `/devices/${device}/commands`)).body.items as Command[];
    const onA = await c.terminal(c.edgeA, 'dev-c1', WORLD.secret);
    const onB = await c.terminal(c.edgeB, 'dev-c4', WORLD.secret);

    // 1. the permit approved: pushed where a terminal is held, recorded not_connected where none is
    const applied = () =>
      c
        .worker!.output()
        .split('\n')
        .filter((l) => l.includes('"registry change applied"') && l.includes(`"id":"${WORLD.permit}"`))
        .length;
    const appliedBefore = applied();
    const approved = await c.api('POST', `/permits/${WORLD.permit}/status`, { status: 'approved' });
    t.is(approved.status, 200, JSON.stringify(approved.body));
    const pushes = ['0x8604', '0x8604', '0x8606'];
    for (const device of ['dev-c1', 'dev-c4']) {
      const items = await waitFor(`the three pushes to ${device} acknowledged`, async () => {
        const items = await list(device);
        return items.length === 3 && items.every((i) => i.state === 'acknowledged') ? items : undefined;
      });
      t.deepEqual(items.map((i) => i.msgId).sort(), pushes, device);
    }
    t.is(onA.commands.length, 3, 'dev-c1 got each push once');
    t.is(onB.commands.length, 3, 'dev-c4 got each push once');
    const nowhere = await waitFor('the pushes to dev-c5 recorded', async () => {
      const items = await list('dev-c5');
      return items.length === 3 ? items : undefined;
    });
    t.deepEqual(nowhere.map((i) => i.msgId).sort(), pushes);
    t.true(nowhere.every((i) => i.state === 'not_connected' && i.source === `permit:${WORLD.permit}`));

    // 2. edge A cut off from NATS; the truck's detour reported by dev-c4 on edge B once the worker
    // judges under the approval. The fixes run from 30 s ago: the violation is detected about now, well
    // inside the five minutes within which a driver is still told (platform/jt808.ts)
    await waitFor('the worker applying the approval', () => (applied() > appliedBefore ? true : undefined));
    c.edgeANats.cut();
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 30_000;
    for (const fix of offRouteHaulFixes(t0, { count: 10, offFrom: 2, offTo: 10 }))
      t.is(await onB.report(payloadToLocation(fix)), 0);
    await waitFor('the text at dev-c4 (edge B)', () => (texts(onB).length > 0 ? true : undefined));
    t.deepEqual(decode8300(texts(onB)[0]!.body, '2013'), { flags: 0b1100, text: TEXT });
    const [byB] = await waitFor('the text to dev-c4 acknowledged', async () => {
      const items = (await list('dev-c4')).filter((i) => i.msgId === '0x8300' && i.state === 'acknowledged');
      return items.length === 1 ? items : undefined;
    });
    const violation = byB!.source.replace(/^violation:/, '');
    t.regex(byB!.source, /^violation:./);
    const unsent = (device: string) =>
      waitFor(`the text to ${device} recorded not_connected`, async () =>
        (await list(device)).find((i) => i.source === byB!.source && i.state === 'not_connected'),
      );
    await unsent('dev-c5');
    const meanwhile = await unsent('dev-c1');
    t.is(texts(onA).length, 0, 'edge A, cut off, has sent no text');

    // edge A back: it reads the violation it missed and texts dev-c1, in the record edge B wrote
    c.edgeANats.restore();
    await waitFor('the text at dev-c1 (edge A, back)', () => (texts(onA).length > 0 ? true : undefined));
    t.deepEqual(decode8300(texts(onA)[0]!.body, '2013'), { flags: 0b1100, text: TEXT });
    const sentByA = await waitFor('the text to dev-c1 acknowledged', async () =>
      (await list('dev-c1')).find((i) => i.source === byB!.source && i.state === 'acknowledged'),
    );
    t.is(sentByA.id, meanwhile.id, 'the not_connected record became the text sent');
    t.like(
      (await list('dev-c5')).find((i) => i.source === byB!.source),
      { state: 'not_connected' },
    );

    // the same violation again (as a partition replayed after a takeover publishes it, past the stream's
    // duplicate window: another message id), then a second violation: only the second is texted. Both
    // are told as detected now (a replay keeps its detection time; here the five minutes must not be
    // what keeps the replay from being texted)
    const nc = await connect({ servers: [...c.natsUrls] });
    t.teardown(() => nc.close());
    const js = jetstream(nc);
    const subject = `${EVENT_SUBJECT_PREFIX}.violation`;
    const consumer = await js.consumers.get(EVENT_STREAM, { filter_subjects: subject });
    let opened: ViolationEvent | undefined;
    while (opened === undefined) {
      const m = await consumer.next({ expires: 5000 });
      if (m === null) throw new Error('the opened violation is not in the event stream');
      const e = m.json<ViolationEvent>();
      if (e.phase === 'opened' && e.violation.id === violation) opened = e;
    }
    const now = Date.now();
    const again = (id: string): ViolationEvent => ({
      ...opened!,
      violation: { ...opened!.violation, id, detectedTs: now },
    });
    await js.publish(subject, JSON.stringify(again(violation)), { msgID: `replay-${violation}` });
    await js.publish(subject, JSON.stringify(again(`${violation}-2`)), { msgID: `second-${violation}` });
    for (const [device, term] of [
      ['dev-c1', onA],
      ['dev-c4', onB],
    ] as const) {
      const second = await waitFor(`the second violation's text to ${device} acknowledged`, async () =>
        (await list(device)).find(
          (i) => i.source === `violation:${violation}-2` && i.state === 'acknowledged',
        ),
      );
      t.truthy(second);
      t.is(texts(term).length, 2, `${device}: the replay sent nothing, the second violation one text`);
      t.is((await list(device)).filter((i) => i.msgId === '0x8300').length, 2);
    }

    // 3. a command waiting for dev-c1's answer when edge A is stopped cleanly: settled by edge A
    onA.autoAnswer = false;
    const waiting = await c.send('dev-c1', { type: 'location_query' });
    await waitFor('the query at dev-c1', () =>
      onA.commands.some((m) => m.msgId === MSG.QUERY_LOCATION) ? true : undefined,
    );
    await c.edgeA.stop();
    t.is(await c.edgeA.exited, 0);
    const settled = (await c.api('GET', `/devices/dev-c1/commands/${waiting.id}`)).body;
    t.like(settled, { id: waiting.id, state: 'cancelled', msgId: '0x8201' });
    t.regex(settled.reason, /gateway stopped/);
  },
);
