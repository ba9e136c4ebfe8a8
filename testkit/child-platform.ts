import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface ChildPlatform {
  child: ChildProcess;
  ports: { http: number; mqtt: number };
  output(): string;
  /** resolves with the exit code (or null when killed by a signal) */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** run under this open-files limit (RLIMIT_NOFILE, soft and hard), to meet EMFILE for real */
  openFilesLimit?: number;
}

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Runs the platform as its own process (`node --import tsx platform/main.ts`, what `npm start` runs)
 * and reads the ports it prints. Used where the test must kill it (-9) or send it signals.
 */
export function spawnPlatform(
  env: Record<string, string>,
  // a margin, not a verdict: a cold tsx start under a load average of 20 on 2 cores took over 30 s
  timeoutMs = 120_000,
  opts: SpawnOptions = {},
): Promise<ChildPlatform> {
  const node = [process.execPath, '--import', 'tsx', 'platform/main.ts'];
  // Node raises its soft open-files limit to the hard one at start-up, so `ulimit -Sn` alone would be
  // undone: `ulimit -n` lowers both, and exec hands them on to node.
  const [command, args] =
    opts.openFilesLimit === undefined
      ? [node[0]!, node.slice(1)]
      : ['bash', ['-c', `ulimit -n ${opts.openFilesLimit} && exec "$@"`, 'bash', ...node]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HTTP_PORT: '0',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      JT808_PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`platform did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const http = /API\s+https?:\/\/[^:]+:(\d+)/.exec(out);
      const mqtt = /MQTT\s+mqtt:\/\/[^:]+:(\d+)/.exec(out);
      if (http && mqtt) {
        clearTimeout(deadline);
        child.stdout?.off('data', check);
        resolve({
          child,
          ports: { http: Number(http[1]), mqtt: Number(mqtt[1]) },
          output: () => out,
          exited,
        });
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`platform exited (${code}) before it was ready:\n${out}`));
    });
  });
}
