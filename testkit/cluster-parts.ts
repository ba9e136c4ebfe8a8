/**
 * The cluster mode's processes for tests: `node --import tsx platform/main.ts` with PARTS=edge,
 * PARTS=worker or PARTS=api (an API node; what an operator runs), on a DATA_DIR and the test's NATS cluster.
 * Each can be killed with SIGKILL (a crash) or stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface ClusterPart {
  readonly child: ChildProcess;
  /** the edge's MQTT port (0 for a worker) */
  readonly mqttPort: number;
  /** the worker's id (empty for an edge) */
  readonly workerId: string;
  /** an API node's http://127.0.0.1:PORT (empty for the others) */
  readonly apiUrl: string;
  /** an edge's JT/T 808 port (0: none) */
  readonly jt808Port: number;
  /** an edge's or worker's http://127.0.0.1:PORT serving /metrics and /healthz (empty: off, or an API node) */
  readonly metricsUrl: string;
  output(): string;
  readonly exited: Promise<number | null>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export function spawnClusterPart(
  part: 'edge' | 'worker' | 'api',
  env: Record<string, string>,
  // a cold tsx start took more than 30 s on a loaded machine
  timeoutMs = 180_000,
): Promise<ClusterPart> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'platform/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      MQTT_PORT: '0',
      HTTP_PORT: '0',
      // JT/T 808 off unless a test gives a port (its default, 6808, would be taken twice by two edges)
      JT808_PORT: '0',
      // an edge's or worker's /metrics on a free port (their defaults, 9464 and 9465, taken twice by two)
      CLUSTER_METRICS_PORT: '0',
      LOG_LEVEL: process.env.CLUSTER_TEST_LOG_LEVEL ?? 'warn',
      PARTS: part,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${part} did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const edge = /citywatch edge mqtt:\/\/[^:]+:(\d+)/.exec(out);
      const worker = /citywatch worker (\S+)/.exec(out);
      const api = /API +(https?:\/\/[^/]+)\/api\/v1/.exec(out);
      if ((part === 'edge' && edge) || (part === 'worker' && worker) || (part === 'api' && api)) {
        clearTimeout(deadline);
        child.stdout?.off('data', check);
        resolve({
          child,
          mqttPort: edge ? Number(edge[1]) : 0,
          workerId: worker ? worker[1]! : '',
          apiUrl: api ? api[1]! : '',
          jt808Port: Number(/citywatch edge jt808:\/\/[^:]+:(\d+)/.exec(out)?.[1] ?? 0),
          metricsUrl: ((m) => (m ? `http://127.0.0.1:${m[1]}` : ''))(
            /citywatch metrics http:\/\/[^:]+:(\d+)\/metrics/.exec(out),
          ),
          output: () => out,
          exited,
          async kill9() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`${part} exited (${code}) before it was ready:\n${out}`));
    });
  });
}
