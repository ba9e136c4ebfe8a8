/**
 * The cluster's JT/T 808 command tests' world (test/cluster/jt808-commands.test.ts,
 * jt808-platform-commands.test.ts): a 3-node NATS cluster, an API node and two edges serving JT/T 808
 * (a worker too when asked), real processes on loopback, each with a DATA_DIR of its own holding the
 * haul world (the permit submitted) and bound terminals; real TCP terminals.
 * With `edgeACut`, edge A reaches NATS through relays the test can cut (tcp-cut.ts): edge A cut off from
 * NATS and nothing else (its terminals stay connected).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../../registry/compliance.ts';
import { SqliteRegistry } from '../../../registry/sqlite.ts';
import { Jt808Terminal } from '../../../simulators/shared/jt808-terminal.ts';
import { type ClusterPart, spawnClusterPart } from '../../../testkit/cluster-parts.ts';
import { startNatsCluster } from '../../../testkit/servers/nats.ts';
import { freePort } from '../../../testkit/servers/ports.ts';
import { seedHaulWorld } from '../haul-world.ts';
import { startTcpCut, type TcpCut } from './tcp-cut.ts';

export const ADMIN_TOKEN = 'cluster-jt808-admin-token';
export const WORLD = {
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
/**
 * dev-c1 answers; dev-c2 stays silent; dev-c3 never connects; with `moreTerminals`, dev-c4 and dev-c5
 * are terminals of WORLD.vehicle too (secret WORLD.secret)
 */
export const PHONES = {
  'dev-c1': '13900000801',
  'dev-c2': '13900000802',
  'dev-c3': '13900000803',
  'dev-c4': '13900000804',
  'dev-c5': '13900000805',
};
export const SILENT_SECRET = 'terminal-code-c2-long';
export const EDGE_A_TIMEOUT_S = 60;

export const waitFor = async <T>(
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
async function seedDirs(n: number, moreTerminals: boolean): Promise<string[]> {
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
  const bound = ['dev-c1', 'dev-c2', 'dev-c3'];
  if (moreTerminals) {
    for (const id of ['dev-c4', 'dev-c5'] as const) {
      await registry.putDevice({
        id,
        secret: WORLD.secret,
        kind: 'muck_truck',
        vehicle: WORLD.vehicle,
        firm: WORLD.firm,
      });
      bound.push(id);
    }
  }
  for (const id of bound) registry.setJt808Binding(id, { phone: PHONES[id as keyof typeof PHONES] });
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

export interface Command {
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

export async function startCluster(
  t: { teardown(fn: () => unknown): void; log(...v: unknown[]): void },
  opts: { worker: boolean; env?: Record<string, string>; moreTerminals?: boolean; edgeACut?: boolean },
) {
  const nats = await startNatsCluster({ noAdvertise: opts.edgeACut ?? false });
  t.teardown(() => nats.destroy());
  let cuts: TcpCut[] = [];
  if (opts.edgeACut) {
    cuts = await Promise.all(nats.nodes.map((n) => startTcpCut({ host: '127.0.0.1', port: n.port })));
    t.teardown(() => Promise.all(cuts.map((c) => c.close())).then(() => undefined));
  }
  const dirs = await seedDirs(opts.worker ? 4 : 3, opts.moreTerminals ?? false);
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
    spawnClusterPart('edge', {
      ...(await edgeEnv(dirs[1]!, EDGE_A_TIMEOUT_S)),
      ...(opts.edgeACut
        ? { CLUSTER_NATS_URLS: cuts.map((c) => `nats://127.0.0.1:${c.port}`).join(',') }
        : {}),
    }),
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
  /** edge A cut off from NATS (`edgeACut`), and back */
  const edgeANats = {
    cut: () => {
      for (const c of cuts) c.cut();
    },
    restore: () => {
      for (const c of cuts) c.restore();
    },
  };
  return { api, terminal, send, outcome, edgeA, edgeB, worker, edgeANats, natsUrls: nats.urls };
}
