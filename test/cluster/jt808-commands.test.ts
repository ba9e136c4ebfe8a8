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
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MSG } from '../../gateway/jt808/codec/ids.ts';
import { decode8300 } from '../../gateway/jt808/codec/msg-8300.ts';
import { decode8604 } from '../../gateway/jt808/codec/msg-8604.ts';
import { decode8606 } from '../../gateway/jt808/codec/msg-8606.ts';
import { dwordId } from '../../gateway/jt808/permit-push.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { payloadToLocation } from '../../simulators/shared/jt808-fix.ts';
import { Jt808Terminal } from '../../simulators/shared/jt808-terminal.ts';
import { type ClusterPart, spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { freePort } from '../../testkit/servers/ports.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { offRouteHaulFixes, seedHaulWorld } from '../support/haul-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-jt808-commands');

const ADMIN_TOKEN = 'cluster-jt808-admin-token';
const WORLD = {
  firm: 'firm-c',
  firmName: '合肥运输',
  vehicle: 'veh-c1',
  plate: '皖A·C0001',
  device: 'dev-c1',
  secret: 'terminal-code-c1-long',
  origin: { id: 'site-co', name: '工地' },
  disposal: { id: 'site-cd', name: '消纳场' },
  route: { id: 'route-c', name: '核准路线' },
  permit: 'permit-c',
  permitState: 'submitted' as const,
};
/** dev-c1 answers; dev-c2 stays silent; dev-c3 never connects */
const PHONES = { 'dev-c1': '13900000801', 'dev-c2': '13900000802', 'dev-c3': '13900000803' };
const SILENT_SECRET = 'terminal-code-c2-long';
const EDGE_A_TIMEOUT_S = 60;

const waitFor = async <T>(
  what: string,
  value: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(value)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** one DATA_DIR with the haul world (the permit submitted) and three bound terminals, copied per node */
async function seedDirs(n: number): Promise<string[]> {
  const seed = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-808-'));
  const registry = new SqliteRegistry({ dir: path.join(seed, 'registry') });
  const compliance = new ComplianceRegistry({
    dir: path.join(seed, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
  });
  await seedHaulWorld({ registry, compliance }, WORLD);
  registry.upsertVehicle({ id: 'veh-c2', plate: '皖A·C0002', kind: 'muck_truck', firm: WORLD.firm });
  for (const id of ['dev-c2', 'dev-c3'] as const)
    await registry.putDevice({
      id,
      secret: SILENT_SECRET,
      kind: 'muck_truck',
      vehicle: 'veh-c2',
      firm: WORLD.firm,
    });
  for (const [id, phone] of Object.entries(PHONES)) registry.setJt808Binding(id, { phone });
  compliance.close();
  registry.close();
  const dirs = [seed];
  for (let i = 1; i < n; i++) {
    const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-808-'));
    await fs.cp(seed, copy, { recursive: true });
    dirs.push(copy);
  }
  return dirs;
}

interface Command {
  id: string;
  device: string;
  source: string;
  type: string;
  msgId: string;
  state: string;
  createdAt: string;
  answeredAt?: string;
  location?: { lat: number; lon: number };
}

async function startCluster(
  t: { teardown(fn: () => unknown): void; log(...v: unknown[]): void },
  opts: { worker: boolean; env?: Record<string, string> },
) {
  const nats = await startNatsCluster();
  t.teardown(() => nats.destroy());
  const dirs = await seedDirs(opts.worker ? 4 : 3);
  t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
  const env = {
    SIMULATE: '0',
    CLUSTER_NATS_URLS: nats.urls.join(','),
    CLUSTER_PARTITIONS: '4',
    CLUSTER_LEASE_S: '3',
    CLUSTER_CHECKPOINT_S: '1',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const edgeEnv = async (dir: string, commandTimeoutS: number) => ({
    ...env,
    DATA_DIR: dir,
    JT808_PORT: String(await freePort()),
    JT808_COMMAND_TIMEOUT_S: String(commandTimeoutS),
    // a connection ends because another edge says so, not because it went quiet
    JT808_IDLE_TIMEOUT_S: '3600',
  });
  const parts: ClusterPart[] = [];
  t.teardown(() => Promise.all(parts.map((p) => p.kill9())).then(() => undefined));
  const started = await Promise.all([
    spawnClusterPart('api', { ...env, DATA_DIR: dirs[0]!, ADMIN_TOKEN, PARTS: 'api' }),
    // edge A is killed while a command waits: long enough for the kill to come first on any machine
    spawnClusterPart('edge', await edgeEnv(dirs[1]!, EDGE_A_TIMEOUT_S)),
    // the silent terminal's command on edge B times out
    spawnClusterPart('edge', await edgeEnv(dirs[2]!, 3)),
    ...(opts.worker ? [spawnClusterPart('worker', { ...env, DATA_DIR: dirs[3]! })] : []),
  ]);
  parts.push(...started);
  t.teardown(() => {
    if (!process.env.CLUSTER_TEST_DUMP) return;
    for (const p of parts) t.log(`--- ${p.child.pid}\n${p.output().slice(-6000)}`);
  });
  const [apiNode, edgeA, edgeB, worker] = started as [ClusterPart, ClusterPart, ClusterPart, ClusterPart?];
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${apiNode.apiUrl}/api/v1${url}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
    return { status: res.status, body: (await res.json()) as any };
  };
  const terminal = async (edge: ClusterPart, device: keyof typeof PHONES, secret: string) => {
    const term = new Jt808Terminal({ host: '127.0.0.1', port: edge.jt808Port, phone: PHONES[device] });
    await term.connect();
    t.teardown(() => term.destroy());
    if ((await term.authenticate(secret)) !== 0) throw new Error(`${device} not authenticated`);
    return term;
  };
  /**
   * A command through the API node, asked again while it is `not_connected`: the edge's subscription
   * for a terminal that just authenticated reaches the API node's NATS server a moment later.
   */
  const send = (device: string, body: unknown) =>
    waitFor(`a command to ${device} sent`, async () => {
      const r = await api('POST', `/devices/${device}/commands`, body);
      if (r.status !== 202) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
      return r.body.state === 'sent' ? (r.body as Command) : undefined;
    });
  /** its outcome, read from the API node once it is no longer `sent` */
  const outcome = (device: string, id: string) =>
    waitFor(`the outcome of ${id}`, async () => {
      const r = await api('GET', `/devices/${device}/commands/${id}`);
      return r.status === 200 && r.body.state !== 'sent' ? (r.body as Command) : undefined;
    });
  return { api, terminal, send, outcome, edgeA, edgeB, worker };
}

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
