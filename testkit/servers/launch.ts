/**
 * The launch cycle shared by the HTTP server launchers in this folder (influxd.ts, victoria.ts), so it
 * lives in one place: a temporary data folder, a free port (retried when another process takes it
 * first), a readiness poll, and a handle that restarts on the same port and folder and removes the
 * folder on destroy().
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { binaryAvailable, ManagedProcess, waitForHttp } from './process.ts';

export interface LaunchSpec {
  /** short name for messages, e.g. 'influxd' */
  name: string;
  binary: string;
  /** how to get the binary, shown when it is missing */
  installHint: string;
  /** mkdtemp prefix of the data folder */
  tmpPrefix: string;
  /**
   * The command-line arguments of a run on `port` with its data in `dataDir` (it may write a config
   * file there). Called once per port attempt; restart() reuses the arguments.
   */
  prepare(port: number, dataDir: string): Promise<readonly string[]> | readonly string[];
  /** ready when GET `readyPath` answers `readyStatus` */
  readyPath: string;
  readyStatus: number;
  startTimeoutMs: number;
}

export interface LaunchedServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** temporary folder holding the server's data (removed by destroy()) */
  readonly dataDir: string;
  readonly running: boolean;
  /** SIGTERM (SIGKILL after a timeout); data stays for restart() */
  stop(): Promise<void>;
  /** SIGKILL, no wait: simulates a crash (restart() waits for the exit) */
  kill9(): void;
  /** SIGSTOP: the port still accepts connections but nothing answers (a hung server) */
  pause(): void;
  /** SIGCONT after pause() */
  resume(): void;
  /** stop if running, then start again on the same port with the same data folder */
  restart(): Promise<void>;
  /** stop and remove the temporary folder */
  destroy(): Promise<void>;
  /** tail of the server output */
  logs(): string;
}

export async function launchServer(spec: LaunchSpec): Promise<LaunchedServer> {
  const { name, binary, startTimeoutMs } = spec;
  if (!binaryAvailable(binary)) {
    throw new Error(`${name} not found at ${binary} (${spec.installHint})`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), spec.tmpPrefix));
  let port = 0;
  let args: readonly string[] = [];
  let proc: ManagedProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = new ManagedProcess(`${name} on :${port}`, binary, args);
    proc = p;
    try {
      const ready = (s: number): boolean => s === spec.readyStatus;
      await waitForHttp(`http://127.0.0.1:${port}${spec.readyPath}`, ready, p, startTimeoutMs);
    } catch (err) {
      await p.stop(2_000);
      throw err;
    }
  };

  try {
    // The ports come from freePort(), which can race with another process: retry with fresh ports.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      args = await spec.prepare(port, dataDir);
      try {
        await launch();
        break;
      } catch (err) {
        const bindClash = /address already in use/i.test((err as Error).message);
        if (!bindClash || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const current = (): ManagedProcess => proc!;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    get running() {
      return current().running;
    },
    stop: () => current().stop(),
    kill9: () => current().kill9(),
    pause: () => current().signal('SIGSTOP'),
    resume: () => current().signal('SIGCONT'),
    async restart() {
      await current().stop();
      await launch();
    },
    async destroy() {
      await current().stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    logs: () => current().tail(),
  };
}
