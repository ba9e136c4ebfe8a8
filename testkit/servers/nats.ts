/**
 * Test launcher for a REAL 3-node NATS cluster with JetStream (Debian package `nats-server`, binary
 * /usr/sbin/nats-server, 2.9 on Debian 12).
 *
 * Each node gets its own temporary folder (config, JetStream store) and three free ports: clients,
 * cluster routes, monitoring (GET /healthz). Every node lists the routes of all three (a node ignores
 * its own), so any one can be killed and restarted on the same ports and folder and rejoin: a test can
 * kill -9 one node under load and check that the replicated (R3) streams lose nothing. `destroy()` stops
 * them all and removes the folders.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { binaryAvailable, ManagedProcess, waitForHttp } from './process.ts';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface NatsNode {
  readonly name: string;
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** SIGKILL and wait for the exit (a crash: nothing flushed, nothing said to the peers) */
  kill9(): Promise<void>;
  /** start again on the same ports with the same JetStream folder; resolves once /healthz answers 200 */
  restart(): Promise<void>;
  logs(): string;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** every node's client URL (a client given all three fails over between them) */
  readonly urls: readonly string[];
  /** stop every node and remove the folders */
  destroy(): Promise<void>;
}

interface NodePorts {
  client: number;
  route: number;
  monitor: number;
}

const CLUSTER_NAME = 'citywatch-test';

function nodeConfig(
  name: string,
  dir: string,
  own: NodePorts,
  all: readonly NodePorts[],
  noAdvertise: boolean,
): string {
  // https://docs.nats.io/running-a-nats-service/configuration/clustering/jetstream_clustering
  const routes = all.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
  return `server_name: ${name}
listen: 127.0.0.1:${own.client}
http: 127.0.0.1:${own.monitor}
jetstream {
  store_dir: "${join(dir, 'js')}"
  max_memory_store: 64MB
  max_file_store: 2GB
}
cluster {
  name: ${CLUSTER_NAME}
  listen: 127.0.0.1:${own.route}
  routes: [${routes}]${noAdvertise ? '\n  no_advertise: true' : ''}
}
`;
}

/** Starts three nodes; resolves once each answers /healthz (JetStream enabled and caught up). */
export async function startNatsCluster(
  options: {
    binary?: string;
    startTimeoutMs?: number;
    /**
     * the nodes do not tell clients the other nodes' addresses: a client stays on the URLs it was given
     * (a test that puts a proxy between a client and the nodes, to cut it off)
     */
    noAdvertise?: boolean;
  } = {},
): Promise<NatsCluster> {
  const binary = options.binary ?? NATS_SERVER_BIN;
  // generous: on a loaded machine three servers electing a JetStream meta leader can take long
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  if (!binaryAvailable(binary)) {
    throw new Error(
      `nats-server not found at ${binary} (apt-get install -y nats-server, or set NATS_SERVER_BIN)`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'citywatch-nats-'));
  const ports: NodePorts[] = [];
  for (let i = 0; i < 3; i++) {
    ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  }
  const procs: (ManagedProcess | undefined)[] = [undefined, undefined, undefined];
  const configs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const name = `n${i + 1}`;
    const conf = join(root, `${name}.conf`);
    await writeFile(conf, nodeConfig(name, join(root, name), ports[i]!, ports, options.noAdvertise ?? false));
    configs.push(conf);
  }

  const launch = (i: number): ManagedProcess => {
    const p = new ManagedProcess(`nats-server n${i + 1} on :${ports[i]!.client}`, binary, [
      '-c',
      configs[i]!,
    ]);
    procs[i] = p;
    return p;
  };
  const ready = async (i: number): Promise<void> => {
    // 200 once the server runs, JetStream included (it reports 503 while its meta layer has no leader)
    await waitForHttp(
      `http://127.0.0.1:${ports[i]!.monitor}/healthz`,
      (s) => s === 200,
      procs[i]!,
      startTimeoutMs,
    );
  };

  try {
    // all three at once: a node alone cannot elect a JetStream meta leader, so none is ready before the others run
    for (let i = 0; i < 3; i++) launch(i);
    await Promise.all([0, 1, 2].map(ready));
  } catch (err) {
    await Promise.all(procs.map((p) => p?.stop(2_000)));
    await rm(root, { recursive: true, force: true });
    throw err;
  }

  const nodes: NatsNode[] = [0, 1, 2].map((i) => ({
    name: `n${i + 1}`,
    url: `nats://127.0.0.1:${ports[i]!.client}`,
    port: ports[i]!.client,
    get running() {
      return procs[i]?.running ?? false;
    },
    async kill9() {
      const p = procs[i];
      if (p === undefined) return;
      p.kill9();
      await p.exited;
    },
    async restart() {
      await procs[i]?.stop(5_000);
      launch(i);
      await ready(i);
    },
    logs: () => procs[i]?.tail() ?? '',
  }));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async destroy() {
      await Promise.all(procs.map((p) => p?.stop(5_000)));
      await rm(root, { recursive: true, force: true });
    },
  };
}
