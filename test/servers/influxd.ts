/**
 * Test launcher for a REAL InfluxDB 1.x server (Debian package `influxdb`, binary /usr/bin/influxd).
 *
 * Each server gets its own temporary folder (config, meta, data, wal) and two free ports (HTTP API and
 * the RPC bind-address used by backup/restore). `restart()` reuses the same ports and data folder, so a
 * test can check what survives a restart; `destroy()` stops the process and removes the folder.
 *
 * The generic child-process helpers (ManagedProcess, waitForHttp) are exported for the other launchers
 * in this folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const INFLUXD_BIN = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

/** true when the binary exists and is executable (tests skip with a message otherwise). */
export function binaryAvailable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Generic child-process management

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave a server behind when the test worker ends (crash, timeout, forgotten stop()).
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const TAIL_BYTES = 16 * 1024;

/** One run of a server process: spawn, keep the tail of its output, stop it for real. */
export class ManagedProcess {
  readonly child: ChildProcess;
  /** resolves when the process has exited (never rejects) */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';
  private hasExited = false;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
  ) {
    installExitHook();
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.hasExited) return;
        this.hasExited = true;
        live.delete(this.child);
        resolve({ code, signal });
      };
      this.child.once('exit', done);
      this.child.once('error', (err) => {
        this.output += `\nspawn error: ${err.message}`;
        done(null, null);
      });
    });
  }

  get running(): boolean {
    return !this.hasExited;
  }

  /** last lines the process printed (for error messages) */
  tail(): string {
    return this.output;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL when it has not exited after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGCONT'); // a paused process would not act on SIGTERM
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** SIGKILL without waiting (a crash); await `exited` to know it is gone. */
  kill9(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/**
 * Poll `url` until `ok(status)` or the process exits or `timeoutMs` passes. Rejects with the tail of
 * the process output so a failed start explains itself.
 */
export async function waitForHttp(
  url: string,
  ok: (status: number) => boolean,
  proc: ManagedProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.running) {
      throw new Error(`${proc.name} exited before it was ready (${url}):\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (ok(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs} ms (${url}: ${last}):\n${proc.tail()}`);
}

// ---------------------------------------------------------------------------------------------------
// influxd

export interface InfluxdServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** temporary folder holding config, meta, data and wal (removed by destroy()) */
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

export interface InfluxdOptions {
  binary?: string;
  /** how long to wait for /ping to answer 204, default 30 s */
  startTimeoutMs?: number;
}

function influxdConfig(dir: string, httpPort: number, rpcPort: number): string {
  // influxd 1.x configuration (https://docs.influxdata.com/influxdb/v1/administration/config/)
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
`;
}

export async function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxdServer> {
  const binary = options.binary ?? INFLUXD_BIN;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!binaryAvailable(binary)) {
    throw new Error(`influxd not found at ${binary} (apt-get install -y influxdb, or set INFLUXD_BIN)`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'citywatch-influxd-'));
  const configPath = join(dataDir, 'influxdb.conf');

  let port = 0;
  let proc: ManagedProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = new ManagedProcess(`influxd on :${port}`, binary, ['-config', configPath]);
    proc = p;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/ping`, (s) => s === 204, p, startTimeoutMs);
    } catch (err) {
      await p.stop(2_000);
      throw err;
    }
  };

  try {
    // The ports come from freePort(), which can race with another process: retry with fresh ports.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const rpcPort = await freePort();
      await writeFile(configPath, influxdConfig(dataDir, port, rpcPort));
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

  const url = `http://127.0.0.1:${port}`;
  const current = (): ManagedProcess => proc!;
  return {
    url,
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
