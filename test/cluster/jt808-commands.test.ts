/**
 * JT/T 808 commands in the cluster (issues 14 and 16): real processes on loopback, a 3-node NATS cluster,
 * an API node and two edges serving JT/T 808, each with a DATA_DIR of its own, and real TCP terminals.
 *  - A command asked for through the API node reaches the edge that holds the terminal's connection; the
 *    terminal's 0x0001 (or 0x0201) answer, or the timeout when it stays silent, is the outcome the API
 *    node shows; a terminal connected nowhere is `not_connected` at once.
 *  - What the platform sends on its own: a permit approved through the API node has its route and sites
 *    pushed by the edge holding its truck's terminal; a violation a worker opens on that truck has the
 *    driver's text sent by that edge (JT808_VIOLATION_TEXTS).
 * The verdicts wait for events (an answer stored, a command received), never for a time to pass.
 */
import { MSG } from '../../gateway/jt808/codec/ids.ts';
import { decode8300 } from '../../gateway/jt808/codec/msg-8300.ts';
import { decode8604 } from '../../gateway/jt808/codec/msg-8604.ts';
import { decode8606 } from '../../gateway/jt808/codec/msg-8606.ts';
import { dwordId } from '../../gateway/jt808/permit-push.ts';
import { payloadToLocation } from '../../simulators/shared/jt808-fix.ts';
import { NATS_SERVER_BIN } from '../../testkit/servers/nats.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import {
  type Command,
  EDGE_A_TIMEOUT_S,
  SILENT_SECRET,
  startCluster,
  WORLD,
  waitFor,
} from '../support/cluster/jt808-cluster.ts';
import { offRouteHaulFixes } from '../support/haul-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-jt808-commands');

serial(
  'a command through an API node reaches the terminal on an edge; its answer or timeout shows there',
  async (t) => {
    t.timeout(900_000);
    const c = await startCluster(t, { worker: false });
    // a connection of dev-c1 left at edge A (one the truck gave up on) is ended by edge A once dev-c1
    // authenticates at edge B, so that its commands go to edge B (the idle timeout is an hour here)
    const stale = await c.terminal(c.edgeA, 'dev-c1', WORLD.secret);
    let staleClosed = false;
    void stale.closed.then(() => {
      staleClosed = true;
    });
    // dev-c1 on edge B answers its commands; dev-c2, also on edge B, stays silent
    const answering = await c.terminal(c.edgeB, 'dev-c1', WORLD.secret);
    await waitFor('edge A ending the older connection', () => (staleClosed ? true : undefined));
    const at = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    t.is(
      await answering.report({ ts: at, lat: 31.82, lon: 117.25, speed: 20, heading: 90, status: 0b11 }),
      0,
    );
    const silent = await c.terminal(c.edgeB, 'dev-c2', SILENT_SECRET);
    silent.autoAnswer = false;

    // connected nowhere: not_connected at once, and kept
    const nowhere = await c.api('POST', '/devices/dev-c3/commands', { type: 'location_query' });
    t.is(nowhere.status, 202);
    t.like(nowhere.body, { device: 'dev-c3', state: 'not_connected', msgId: '0x8201', source: 'api' });
    t.like((await c.api('GET', `/devices/dev-c3/commands/${nowhere.body.id}`)).body, {
      state: 'not_connected',
    });

    // a text through the API node to the terminal on edge B: readable at once, then acknowledged
    const text = await c.send('dev-c1', { type: 'text', text: '请减速慢行' });
    t.like(text, { device: 'dev-c1', type: 'text', msgId: '0x8300', source: 'api' });
    t.like((await c.api('GET', `/devices/dev-c1/commands/${text.id}`)).body, { id: text.id });
    t.like(await c.outcome('dev-c1', text.id), { state: 'acknowledged' });
    const received = answering.commands.filter((m) => m.msgId === MSG.TEXT);
    t.is(received.length, 1, 'the text reached the terminal once');
    t.deepEqual(decode8300(received[0]!.body, '2013'), { flags: 0b1100, text: '请减速慢行' });

    // a location query: the terminal's 0x0201 in the record
    const query = await c.send('dev-c1', { type: 'location_query' });
    const answered = await c.outcome('dev-c1', query.id);
    t.is(answered.state, 'acknowledged');
    t.deepEqual([answered.location?.lat, answered.location?.lon], [31.82, 117.25]);

    // the silent terminal: its edge times the command out
    const lost = await c.send('dev-c2', { type: 'report_interval', seconds: 15 });
    t.like(await c.outcome('dev-c2', lost.id), { state: 'timeout', msgId: '0x8103' });
    t.true(
      silent.commands.some((m) => m.msgId === MSG.SET_PARAMETERS),
      'the command reached the silent terminal',
    );

    // the list, newest first, from the API node (with the not_connected ones of the first asks)
    const items = (await c.api('GET', '/devices/dev-c1/commands')).body.items as Command[];
    t.deepEqual(
      items.filter((i) => i.state !== 'not_connected').map((i) => [i.id, i.state]),
      [
        [query.id, 'acknowledged'],
        [text.id, 'acknowledged'],
      ],
    );
    // dev-c3 silent on edge A, killed while its command waits: no edge settles it, and once the instant
    // its edge would have timed it out has passed, the API node shows it timed out then
    const orphan = await c.terminal(c.edgeA, 'dev-c3', SILENT_SECRET);
    orphan.autoAnswer = false;
    const waiting = await c.send('dev-c3', { type: 'location_query' });
    await c.edgeA.kill9();
    // written to the terminal before the edge answered the request
    await waitFor('the command at the terminal', () =>
      orphan.commands.some((m) => m.msgId === MSG.QUERY_LOCATION) ? true : undefined,
    );
    const orphaned = await c.outcome('dev-c3', waiting.id);
    t.is(orphaned.state, 'timeout');
    t.is(Date.parse(orphaned.answeredAt!) - Date.parse(orphaned.createdAt), EDGE_A_TIMEOUT_S * 1000);
    // a text GBK cannot hold is refused by the API node itself
    t.is((await c.api('POST', '/devices/dev-c1/commands', { type: 'text', text: '😀' })).status, 400);
  },
);

serial(
  'a permit approved through an API node is pushed, and a violation texted, by the edge holding the truck',
  async (t) => {
    t.timeout(900_000);
    const c = await startCluster(t, {
      worker: true,
      env: { JT808_VIOLATION_TEXTS: JSON.stringify({ OFF_ROUTE: '您已偏离核准路线' }) },
    });
    const term = await c.terminal(c.edgeB, 'dev-c1', WORLD.secret);

    // approved through the API node: edge B applies it and pushes the route and both sites
    const applied = () =>
      c
        .worker!.output()
        .split('\n')
        .filter((l) => l.includes('"registry change applied"') && l.includes(`"id":"${WORLD.permit}"`))
        .length;
    const appliedBefore = applied();
    const approved = await c.api('POST', `/permits/${WORLD.permit}/status`, { status: 'approved' });
    t.is(approved.status, 200, JSON.stringify(approved.body));
    await waitFor('the route and two areas', () => (term.commands.length >= 3 ? true : undefined));
    const route = decode8606(term.commands.find((m) => m.msgId === MSG.SET_ROUTE)!.body, '2013');
    t.is(route.id, dwordId(WORLD.route.id));
    const areas = term.commands
      .filter((m) => m.msgId === MSG.SET_POLYGON)
      .map((m) => decode8604(m.body, '2013'));
    t.deepEqual(areas.map((a) => a.id).sort(), [dwordId(WORLD.origin.id), dwordId(WORLD.disposal.id)].sort());
    const pushed = await waitFor('the three pushes acknowledged, seen from the API node', async () => {
      const items = (await c.api('GET', '/devices/dev-c1/commands')).body.items as Command[];
      return items.length === 3 && items.every((i) => i.state === 'acknowledged') ? items : undefined;
    });
    t.true(pushed.every((i) => i.source === `permit:${WORLD.permit}`));
    t.deepEqual(pushed.map((i) => i.msgId).sort(), ['0x8604', '0x8604', '0x8606']);

    // the worker judges under the approved permit once it applied it: then the truck's detour
    await waitFor('the worker applying the approval', () => (applied() > appliedBefore ? true : undefined));
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 4 * 60_000;
    for (const fix of offRouteHaulFixes(t0)) t.is(await term.report(payloadToLocation(fix)), 0);
    const text = await waitFor('the violation text', () => term.commands.find((m) => m.msgId === MSG.TEXT));
    t.deepEqual(decode8300(text.body, '2013'), { flags: 0b1100, text: '您已偏离核准路线' });
    const record = await waitFor('the text acknowledged, seen from the API node', async () => {
      const items = (await c.api('GET', '/devices/dev-c1/commands')).body.items as Command[];
      return items.find((i) => i.msgId === '0x8300' && i.state === 'acknowledged');
    });
    t.regex(record.source, /^violation:/);
  },
);
