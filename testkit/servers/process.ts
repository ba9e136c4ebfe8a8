/**
 * Generic child-process helpers for the server launchers in this folder (launch.ts, mosquitto.ts):
 * is the binary there, run it and keep the tail of its output, stop it for real, poll it until ready.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** true when the binary exists and is executable (tests skip with a message otherwise). */
export function binaryAvailable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

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
